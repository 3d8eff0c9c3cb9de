"""The emergency detector's second opinion: a text classifier trained on our labelled messages.

The rules (medassist.emergency) read like a checklist and explain every verdict, but on messages written after
they were frozen they missed about one emergency in ten: indirect wordings nobody had listed yet. A linear model
over character and word n-grams generalises across wordings. Replayed over the blind rounds (each set judged by a
classifier trained only on the sets written before it: bench/emergency_classifier_rounds.py), it recognised 59 of
the 71 emergencies the rules had missed at their first scores and added 6 false alarms on the 672 non-emergencies
the rules got right, at RESCUE_PROBABILITY (0.6: 64 and 12; 0.8: 54 and 3). So a message is an emergency when the
rules say so OR the classifier is that sure; the classifier never clears what the rules flagged. A missed
emergency can cost a life, a false alarm one fixed guidance text.

Training data: TRAINING_SETS, our labelled messages (assets/emergency/messages/): the blind sets, each written by
someone who had not seen the detector, and the tests' hand-written messages. A newer blind set is scored first with
the classifier that has not seen it, then added here.
Fitted on first use: a few seconds, deterministic (lbfgs on the rows in file order).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

MESSAGES = Path(__file__).parent / "assets" / "emergency" / "messages"
TRAINING_SETS = (
    "emergency_messages.jsonl",
    "emergency_messages_fresh.jsonl",
    "emergency_messages_fresh2.jsonl",
    "emergency_messages_fresh3.jsonl",
    "emergency_messages_fresh4.jsonl",
    "emergency_messages_fresh5.jsonl",
    "emergency_messages_fresh6.jsonl",
    "emergency_messages_fresh7.jsonl",
    "emergency_messages_fresh8.jsonl",
    "handwritten.jsonl",  # the tests' messages: each class of phrasing a round found missing, in four languages
)
# Chosen on the replayed rounds (above): the false-positive rate target (0.05) stays within reach of the rules' own.
RESCUE_PROBABILITY = 0.7
# Shorter messages are left to the rules: 47 of the 48 emergencies they missed in rounds 2-6 had 9 words or more;
# a short follow-up ("is he going to be ok", "thanks") carries too few n-grams for a sure verdict.
RESCUE_MIN_WORDS = 8

def _pipeline() -> Pipeline:
    """Character n-grams carry misspellings, inflections and four languages; word pairs carry "took all", "won't wake"."""
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced"))


def load_messages(names: tuple[str, ...] = TRAINING_SETS) -> list[dict]:
    """The labelled messages of `names` (files in MESSAGES), in file order."""
    return [json.loads(line) for name in names
            for line in (MESSAGES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class EmergencyClassifier:
    """P(emergency now) for a normalised message, and the most likely kind when it is one."""

    emergency: Pipeline
    kind: Pipeline

    @classmethod
    def train(cls, normalize: Callable[[str], str], rows: list[dict] | None = None) -> EmergencyClassifier:
        rows = load_messages() if rows is None else rows
        texts = [normalize(row["text"]) for row in rows]
        emergency = _pipeline().fit(texts, [row["emergency"] for row in rows])
        emergencies = [(text, row["kind"]) for text, row in zip(texts, rows) if row["emergency"]]
        kind = _pipeline().fit([text for text, _ in emergencies], [label for _, label in emergencies])
        return cls(emergency, kind)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.emergency.predict_proba(texts)[:, list(self.emergency.classes_).index(True)]

    def rescue(self, windows: list[str], probability: float = RESCUE_PROBABILITY) -> str | None:
        """The kind of emergency when some normalised window of RESCUE_MIN_WORDS or more reaches `probability`
        (the surest window's kind), else None."""
        windows = [window for window in windows if len(window.split()) >= RESCUE_MIN_WORDS]
        if not windows:
            return None
        probabilities = self.probabilities(windows)
        best = int(np.argmax(probabilities))
        if probabilities[best] < probability:
            return None
        return str(self.kind.predict([windows[best]])[0])
