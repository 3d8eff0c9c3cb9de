"""A knowledge base of question/answer cards, searched with BM25 so answers can cite their sources.

Cards come from any source the data pipeline reads (`data.load_records` + `data.clean`), so a file
that the pipeline refuses is refused here with the same `DataError`. Each card is indexed as its
question (twice: question words say what a card is about) followed by its answer, with `tokenize`
(medassist.medical_tokens), a tokeniser for medical text that also folds British spellings, brand names, lay phrases and common
abbreviations onto one form (paracetamol -> acetaminophen, "low blood sugar" -> hypoglycemia).
The bm25s index is cached on disk under a key that hashes the cards, the tokeniser (version, tables
and output on a probe sentence) and the index settings: a changed source gets a new index, and a
cached index that fails any check (manifest, checksums, card count, array shapes) is rebuilt, never
half-used. Settings were tuned on the calibration split of assets/grounded_questions.jsonl only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from .config import ANSWER, INSTRUCTION, QUESTION, SAMPLE_FLASHCARDS
from .data import clean, load_records
from .files import atomic_directory, cache_root, write_text
from .medical_tokens import TOKENIZER_VERSION, tokenize
from .medical_tokens import fingerprint as tokenizer_fingerprint

logger = logging.getLogger(__name__)

MIN_CHARS = 5  # the data pipeline's rule: a card's question and answer each need this many characters
QUESTION_REPEATS = 2  # a card's question is indexed this many times, its answer once
BM25_PARAMS = {"k1": 1.2, "b": 0.5, "method": "lucene"}
MANIFEST = "manifest.json"
CACHE_FORMAT = 1


class RetrievalError(ValueError):
    """The knowledge base cannot be built or searched as asked; the message names the source."""


@dataclass(frozen=True)
class Card:
    id: int  # position in the knowledge base (stable for a given source content)
    question: str
    answer: str


@dataclass(frozen=True)
class Hit:
    card: Card
    score: float  # raw BM25 score (higher = better); 0 when nothing matches


# --- the knowledge base -------------------------------------------------------------------------


def _document(card: Card) -> list[str]:
    return tokenize(card.question) * QUESTION_REPEATS + tokenize(card.answer)


def _content_key(cards: list[Card]) -> str:
    """Hash of everything the index depends on: the cards, the tokeniser and the index settings."""
    digest = hashlib.sha256()
    settings = {"format": CACHE_FORMAT, "tokenizer": tokenizer_fingerprint(), "question_repeats": QUESTION_REPEATS,
                "bm25": BM25_PARAMS, "bm25s": bm25s.__version__}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for card in cards:
        digest.update(json.dumps([card.question, card.answer], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(cards: list[Card]) -> bm25s.BM25:
    retriever = bm25s.BM25(**BM25_PARAMS)
    retriever.index([_document(card) for card in cards], show_progress=False)
    return retriever


def _save(retriever: bm25s.BM25, directory: Path, key: str, count: int) -> None:
    with atomic_directory(directory) as staging:
        retriever.save(staging, show_progress=False)
        files = {path.name: {"bytes": path.stat().st_size, "sha256": _file_digest(path)}
                 for path in sorted(staging.iterdir())}
        manifest = {"format": CACHE_FORMAT, "key": key, "cards": count, "tokenizer": TOKENIZER_VERSION,
                    "bm25s": bm25s.__version__, "files": files}
        write_text(staging / MANIFEST, json.dumps(manifest, indent=2))  # last: its presence means complete


def _load_cached(directory: Path, key: str, count: int) -> bm25s.BM25:
    """The cached index in `directory`; raises if anything about it is off (the caller then rebuilds)."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key or manifest.get("cards") != count:
        raise ValueError("manifest does not match the cards")
    for name, expected in manifest["files"].items():
        path = directory / name
        if path.stat().st_size != expected["bytes"] or _file_digest(path) != expected["sha256"]:
            raise ValueError(f"{name} is damaged (size or checksum differs from the manifest)")
    retriever = bm25s.BM25.load(directory, show_progress=False)
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    terms = [i for token, i in retriever.vocab_dict.items() if token != ""]
    if (scores["num_docs"] != count or data.shape != indices.shape or indptr.ndim != 1
            or len(indptr) != max(terms, default=-1) + 2 or int(indptr[-1]) != len(data)
            or (len(indices) and int(indices.max()) >= count)):
        raise ValueError("index arrays do not fit the cards")
    return retriever


class KnowledgeBase:
    """Cards plus their BM25 index. Build with `load` (a data source) or `from_cards` (in memory)."""

    def __init__(self, cards: list[Card], source: str | list[str], retriever: bm25s.BM25, from_cache: bool):
        self.cards = cards
        self.source = source
        self.from_cache = from_cache  # True when the index was read from the cache rather than built
        self._retriever = retriever
        self._vocab = retriever.vocab_dict

    def __len__(self) -> int:
        return len(self.cards)

    def __repr__(self) -> str:
        return f"KnowledgeBase({len(self.cards)} cards from {self.source!r})"

    @classmethod
    def load(cls, source: str | list[str] = SAMPLE_FLASHCARDS, columns: dict[str, str] | None = None,
             cache: Path | None = None) -> KnowledgeBase:
        """Cards from the source(s) (data.load_records + data.clean, min_chars 5), with a BM25 index that is cached under
        cache (default cache_root() / "retrieval") keyed by a content hash of the cards + tokenizer version; rebuilt when the
        source changes; a corrupt or stale cached index (truncated file, wrong card count, unreadable) is rebuilt, never half-used."""
        sources = [source] if isinstance(source, (str, Path)) else list(source)
        if not sources:
            raise RetrievalError("no knowledge base source given")
        rows = [row for item in sources for row in load_records(str(item), columns)]
        cards = _cards_from_rows(rows)
        if not cards:
            raise RetrievalError(
                f"{source}: no usable cards (each needs a question and an answer of at least {MIN_CHARS} characters)")
        return cls._indexed(cards, source, Path(cache) if cache is not None else cache_root() / "retrieval")

    @classmethod
    def from_cards(cls, cards: list[tuple[str, str]] | list[Card], cache: Path | None = None) -> KnowledgeBase:
        """A knowledge base from (question, answer) pairs or Cards, cleaned as `load` cleans rows.

        Cards are renumbered by position. Without `cache` the index is built in memory and not saved.
        """
        rows = []
        for index, item in enumerate(cards):
            question, answer = (item.question, item.answer) if isinstance(item, Card) else (
                item if isinstance(item, (tuple, list)) and len(item) == 2 else (None, None))
            if not isinstance(question, str) or not isinstance(answer, str):
                raise RetrievalError(f"card {index} must be a Card or a (question, answer) pair of strings, got {item!r}")
            rows.append({INSTRUCTION: "", QUESTION: question, ANSWER: answer})
        kept = _cards_from_rows(rows)
        if not kept:
            raise RetrievalError(
                f"no usable cards among the {len(rows)} given (each needs a question and an answer of at least "
                f"{MIN_CHARS} characters)")
        return cls._indexed(kept, "<cards>", Path(cache) if cache is not None else None)

    @classmethod
    def _indexed(cls, cards: list[Card], source: str | list[str], cache: Path | None) -> KnowledgeBase:
        if cache is None:
            return cls(cards, source, _build(cards), from_cache=False)
        key = _content_key(cards)
        directory = cache / f"bm25-{key[:24]}"
        if (directory / MANIFEST).exists():
            try:
                return cls(cards, source, _load_cached(directory, key, len(cards)), from_cache=True)
            except Exception as error:  # any damage at all: rebuild rather than use part of it
                logger.warning("rebuilding the retrieval index in %s: %s: %s", directory, type(error).__name__, error)
        retriever = _build(cards)
        try:
            _save(retriever, directory, key, len(cards))
        except OSError as error:  # a read-only or full cache only costs the next start a rebuild
            warnings.warn(f"could not cache the retrieval index in {directory}: {error}", stacklevel=3)
        return cls(cards, source, retriever, from_cache=False)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """Top-k cards by BM25 over question + answer text, best first; fewer than k when fewer cards have a positive score;
        an empty list for a query that matches nothing (empty, punctuation only, stopwords only, unknown words) — never an error."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if k < 1:
            raise RetrievalError(f"k must be at least 1, got {k}")
        ids = [self._vocab[token] for token in tokenize(query) if token in self._vocab]
        if not ids:
            return []
        scores = self._retriever.get_scores_from_ids(ids)
        matched = np.flatnonzero(scores > 0)
        if len(matched) > k:  # only the k best (and any tied with the k-th) need sorting
            kth = np.partition(scores[matched], len(matched) - k)[len(matched) - k]
            matched = matched[scores[matched] >= kth]
        best = sorted(matched.tolist(), key=lambda i: (-scores[i], i))[:k]
        return [Hit(self.cards[i], float(scores[i])) for i in best]


def _cards_from_rows(rows: list[dict[str, str]]) -> list[Card]:
    kept, _ = clean(rows, MIN_CHARS)
    cards: list[Card] = []
    seen: set[tuple[str, str]] = set()
    for row in kept:
        pair = (row[QUESTION], row[ANSWER])
        if pair not in seen:  # the same card under two instructions is one card
            seen.add(pair)
            cards.append(Card(len(cards), *pair))
    return cards
