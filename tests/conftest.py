"""Shared fixtures: real small things only (the embedded tokenizer, the shipped flashcards, tiny Llamas)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medassist.config import SAMPLE_FLASHCARDS
from medassist.data import load_records
from medassist.models import EMBEDDED, load_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "medical_meadow_wikidoc_patient_information.json"


@pytest.fixture(scope="session")
def tokenizer():
    """The embedded SmolLM2 tokenizer (converted once into the cache, then fast)."""
    return load_tokenizer(EMBEDDED)


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    """The shipped sample flashcards as the pipeline holds them (question, answer, instruction)."""
    return load_records(SAMPLE_FLASHCARDS)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
