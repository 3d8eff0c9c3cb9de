"""What users feel, measured: is the key fact in the answer, are the sources right, does it abstain when it should.

The question set (`assets/grounded_questions.jsonl`, written by us) rewords cards of the shipped
knowledge base in other words, each with the key terms a correct answer must contain, plus questions on
things the knowledge base does not hold. Its `calibration` split sets the abstention threshold
(`calibrate_min_score`); figures are reported on its `test` split; no question is trained on.

Four cells: closed-book (the question alone) and grounded (retrieved sources in the prompt, the fixed
abstention when retrieval finds nothing above the threshold), each for the base model and the
fine-tuned one. Every rate comes with a 95% bootstrap interval over questions.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .config import Config, GroundingConfig
from .generation import base_view, generate_answers
from .grounding import ABSTAIN_ANSWER, grounded_question, is_abstention, retrieve
from .metrics import percentile_ci
from .retrieval import KnowledgeBase

QUESTIONS = Path(__file__).parent / "assets" / "grounded_questions.jsonl"
MAX_WRONG_ABSTENTION = 0.05  # calibration: the threshold may refuse at most this share of answerable questions


@dataclass
class Question:
    id: str
    question: str
    in_base: bool
    card: str | None  # the question of the card it was reworded from
    key_terms: list[list[str]]  # every group must be present, by any of its alternatives
    split: str


def load_questions(split: str | None = "test", limit: int = 0, path: Path = QUESTIONS) -> list[Question]:
    """The question set, one split (or all with None); `limit` > 0 keeps that many of each kind, for quick runs."""
    questions = [Question(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [q for q in questions if split is None or q.split == split]
    if limit > 0:
        questions = [q for q in questions if q.in_base][:limit] + [q for q in questions if not q.in_base][:limit]
    return questions


def has_key_fact(answer: str, key_terms: list[list[str]]) -> bool:
    text = answer.casefold()
    return bool(key_terms) and all(any(term.casefold() in text for term in group) for group in key_terms)


def source_is_right(question: Question, card_question: str, card_answer: str) -> bool:
    """The retrieved card is the one the question came from, or another that states the same key fact."""
    return card_question.casefold() == (question.card or "").casefold() or has_key_fact(card_answer, question.key_terms)


def calibrate_min_score(kb: KnowledgeBase, questions: list[Question], model_abstains: list[bool] | None = None,
                        max_wrong: float = MAX_WRONG_ABSTENTION, scores: list[float] | None = None) -> float:
    """The highest top-1 score threshold that refuses at most `max_wrong` of the answerable questions.

    With `model_abstains` (per question: the model, shown the sources, said they have nothing), only questions the
    model would have answered count against the threshold: it may take away at most `max_wrong` of the answers.
    `scores`: each question's top-1 score from another retriever (default: `kb`'s).
    """
    scores = scores if scores is not None else [top_score(kb, q.question) for q in questions]
    model_abstains = model_abstains or [False] * len(questions)
    answerable = [(score, abstains) for q, score, abstains in zip(questions, scores, model_abstains) if q.in_base]
    if not answerable:
        raise ValueError("calibration needs answerable (in_base) questions")
    best = 0.0
    for threshold in sorted({0.0, *scores}):
        if sum(score < threshold and not abstains for score, abstains in answerable) <= max_wrong * len(answerable):
            best = threshold
    return float(best)


def top_score(kb: KnowledgeBase, question: str) -> float:
    hits = kb.search(question, 1)
    return hits[0].score if hits else 0.0


def _rate(flags: list[bool], samples: np.ndarray) -> dict[str, float]:
    values = np.array(flags, dtype=float)
    if not len(values):
        return {"rate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    low, high = percentile_ci(values[samples % len(values)].mean(axis=1))
    return {"rate": float(values.mean()), "ci_low": low, "ci_high": high, "n": int(len(values))}


def grounded_answers(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, kb: KnowledgeBase,
                     questions: list[Question], grounding: GroundingConfig, config: Config, progress: bool) -> list[str]:
    """Answers as the app gives them: the fixed abstention where retrieval finds nothing, else generated from sources."""
    prompts = {i: grounded_question(q.question, hits) for i, q in enumerate(questions)
               if (hits := retrieve(kb, q.question, grounding))}
    generated = generate_answers(model, tokenizer, list(prompts.values()), config.eval.max_new_tokens,
                                 config.eval.batch_size, progress=progress)
    by_index = dict(zip(prompts, generated))
    return [by_index.get(i, ABSTAIN_ANSWER) for i in range(len(questions))]


def cell_figures(questions: list[Question], answers: list[str], samples_in: np.ndarray, samples_out: np.ndarray) -> dict:
    in_base = [(q, a) for q, a in zip(questions, answers) if q.in_base]
    out_of_base = [a for q, a in zip(questions, answers) if not q.in_base]
    return {
        "key_fact_accuracy": _rate([has_key_fact(a, q.key_terms) for q, a in in_base], samples_in),
        "abstains_out_of_base": _rate([is_abstention(a) for a in out_of_base], samples_out),
        "abstains_in_base": _rate([is_abstention(a) for _, a in in_base], samples_in),
    }


def grounded_report(base_model: PreTrainedModel, tuned_model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                    kb: KnowledgeBase, config: Config, progress: bool = True) -> dict[str, Any]:
    """Retrieval recall and the four cells (closed-book / grounded x base / tuned) on the test split."""
    questions = load_questions("test", config.eval.grounded_questions)
    rng = np.random.default_rng(config.eval.seed)
    n_in, n_out = sum(q.in_base for q in questions), sum(not q.in_base for q in questions)
    samples_in = rng.integers(0, max(n_in, 1), size=(config.eval.bootstrap_samples, max(n_in, 1)))
    samples_out = rng.integers(0, max(n_out, 1), size=(config.eval.bootstrap_samples, max(n_out, 1)))
    k = config.grounding.k
    in_base = [q for q in questions if q.in_base]
    found = [kb.search(q.question, k) for q in in_base]
    retrieval = {
        "recall@1": _rate([bool(h) and source_is_right(q, h[0].card.question, h[0].card.answer) for q, h in zip(in_base, found)], samples_in),
        f"recall@{k}": _rate([any(source_is_right(q, x.card.question, x.card.answer) for x in h) for q, h in zip(in_base, found)], samples_in),
    }
    cells: dict[str, dict] = {}
    answers: dict[str, list[str]] = {}
    for side in ("base", "tuned"):
        with base_view(base_model, tuned_model) if side == "base" else nullcontext(tuned_model) as model:
            answers[f"closed_book_{side}"] = generate_answers(
                model, tokenizer, [q.question for q in questions], config.eval.max_new_tokens, config.eval.batch_size,
                progress=progress)
            answers[f"grounded_{side}"] = grounded_answers(model, tokenizer, kb, questions, config.grounding, config, progress)
    for name, given in answers.items():
        cells[name] = cell_figures(questions, given, samples_in, samples_out)
    return {
        "questions": {"split": "test", "in_base": n_in, "out_of_base": n_out, "file": QUESTIONS.name},
        "knowledge_base": {"cards": len(kb), "k": k, "min_score": config.grounding.min_score},
        "retrieval": retrieval,
        "cells": cells,
        "answers": [{"id": q.id, "question": q.question, "in_base": q.in_base, **{cell: a[i] for cell, a in answers.items()}}
                    for i, q in enumerate(questions)],
    }


def format_grounded(report: dict[str, Any]) -> str:
    """Terminal table of the four cells and retrieval recall."""
    def cell(figure: dict) -> str:
        return f"{figure['rate']:.2f} [{figure['ci_low']:.2f}, {figure['ci_high']:.2f}]"

    names = ("closed_book_base", "closed_book_tuned", "grounded_base", "grounded_tuned")
    lines = [f"{'':28}" + "".join(f"{name:>24}" for name in names)]
    for metric, label in (("key_fact_accuracy", "key fact in answer"), ("abstains_out_of_base", "abstains, not in base"),
                          ("abstains_in_base", "abstains, in base (wrong)")):
        lines.append(f"{label:28}" + "".join(f"{cell(report['cells'][name][metric]):>24}" for name in names))
    lines.append("retrieval: " + ", ".join(f"{name} {cell(value)}" for name, value in report["retrieval"].items()))
    q = report["questions"]
    lines.append(f"{q['in_base']} answerable + {q['out_of_base']} unanswerable test questions; "
                 f"{report['knowledge_base']['cards']} cards, k={report['knowledge_base']['k']}, "
                 f"min_score={report['knowledge_base']['min_score']}; 95% bootstrap intervals")
    return "\n".join(lines)
