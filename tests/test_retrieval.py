"""The knowledge base: medical tokenisation, BM25 search over the shipped cards, the on-disk index cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medassist.config import SAMPLE_FLASHCARDS
from medassist.data import DataError
from medassist.medical_tokens import tokenize
from medassist.retrieval import MANIFEST, Card, Hit, KnowledgeBase, RetrievalError

GROUNDED_QUESTIONS = Path(SAMPLE_FLASHCARDS).parent / "grounded_questions.jsonl"


def write_cards(path: Path, pairs: list[tuple[str, str]]) -> Path:
    rows = [{"instruction": "Answer this question truthfully", "input": q, "output": a} for q, a in pairs]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


CARDS = [
    ("Which agent reverses unfractionated heparin?", "Protamine sulfate binds heparin and neutralises it."),
    ("What is the mechanism of action of furosemide?", "It inhibits the NKCC2 cotransporter in the thick ascending limb."),
    ("What HbA1c level is diagnostic of diabetes?", "An HbA1c of 6.5% or higher on two occasions."),
]


@pytest.fixture(scope="module")
def sample_kb(tmp_path_factory) -> KnowledgeBase:
    return KnowledgeBase.load(cache=tmp_path_factory.mktemp("retrieval-cache"))


# --- tokenisation -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("TSH", ["tsh"]),
    ("NKCC2", ["nkcc2"]),
    ("HbA1c", ["hba1c"]),
    ("BRCA1", ["brca1"]),
    ("CD4", ["cd4"]),
    ("5-HT3", ["5ht3", "5", "ht3"]),
    ("beta-2", ["beta2", "beta", "2"]),
    ("beta-blockers", ["betablock", "beta", "blocker"]),
    ("β-blocker", ["betablock", "beta", "blocker"]),
    ("HbA1c of 6.5%", ["hba1c", "6.5"]),
    ("vitamin K", ["vitamin", "k"]),
])
def test_tokenizer_keeps_medical_terms_whole(text, expected):
    assert tokenize(text) == expected


def test_tokenizer_is_case_insensitive_and_stems_ordinary_words():
    assert tokenize("TSH levels") == tokenize("tsh LEVELS") == tokenize("Tsh level")
    assert tokenize("injury") == tokenize("injured") == tokenize("injuries")
    assert tokenize("What is the mechanism of action of the drug?") == ["mechan", "action", "drug"]


def test_tokenizer_folds_spelling_brand_and_lay_variants():
    assert tokenize("paracetamol") == tokenize("acetaminophen")
    assert tokenize("haemorrhage and oedema") == tokenize("hemorrhage and edema")
    assert tokenize("Viagra") == tokenize("sildenafil")
    assert tokenize("low blood sugar") == tokenize("hypoglycemia")
    assert tokenize("Crohn’s disease") == tokenize("Crohn's disease") == tokenize("Crohn disease")


@pytest.mark.parametrize("text", ["", "   ", "?!...,;", "the of and which what", "—"])
def test_tokenizer_gives_nothing_for_text_without_words(text):
    assert tokenize(text) == []


# --- search ---------------------------------------------------------------------------------------


def test_sample_knowledge_base_answers_heparin_reversal_with_protamine(sample_kb):
    assert len(sample_kb) == 468
    hits = sample_kb.search("What reverses heparin?")
    assert 1 <= len(hits) <= 3
    assert "protamine" in hits[0].card.answer.lower()
    assert all(isinstance(h, Hit) and isinstance(h.card, Card) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert sample_kb.cards[hits[0].card.id] == hits[0].card


@pytest.mark.parametrize("query", ["", "   ", "?!?", "the of and", "xqzv blorfangle", "How do I reset my wifi router?"])
def test_queries_matching_nothing_return_no_hits(sample_kb, query):
    assert sample_kb.search(query) == []


def test_search_returns_fewer_hits_when_fewer_cards_match():
    kb = KnowledgeBase.from_cards(CARDS)
    hits = kb.search("NKCC2", k=5)
    assert [h.card.question for h in hits] == [CARDS[1][0]]
    assert hits[0].score > 0
    assert len(kb.search("heparin diabetes furosemide", k=10)) == 3
    assert len(kb.search("heparin diabetes furosemide", k=2)) == 2
    with pytest.raises(RetrievalError):
        kb.search("heparin", k=0)


def test_from_cards_accepts_pairs_or_cards_and_numbers_them_by_position():
    kb = KnowledgeBase.from_cards(CARDS + [CARDS[0], ("Why?", "Too short question.")])
    assert len(kb) == 3  # the duplicate and the short card are dropped, as the data pipeline drops them
    assert [c.id for c in kb.cards] == [0, 1, 2]
    again = KnowledgeBase.from_cards(list(reversed(kb.cards)))
    assert [c.question for c in again.cards] == [q for q, _ in reversed(CARDS)] and again.cards[0].id == 0
    with pytest.raises(RetrievalError, match="no usable cards"):
        KnowledgeBase.from_cards([("Why?", "No.")])
    with pytest.raises(RetrievalError, match="card 0"):
        KnowledgeBase.from_cards([("only a question",)])


def test_recall_at_3_on_the_calibration_questions(sample_kb):
    rows = [json.loads(line) for line in GROUNDED_QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [r for r in rows if r["split"] == "calibration" and r["in_base"]]
    assert len(questions) >= 70

    def correct(hit: Hit, row: dict) -> bool:
        answer = hit.card.answer.lower()
        return hit.card.question == row["card"] or all(
            any(term.lower() in answer for term in group) for group in row["key_terms"])

    found = sum(any(correct(hit, row) for hit in sample_kb.search(row["question"], k=3)) for row in questions)
    assert found / len(questions) >= 0.9


# --- sources and errors -----------------------------------------------------------------------


def test_several_sources_make_one_knowledge_base(tmp_path):
    first = write_cards(tmp_path / "a.jsonl", CARDS[:2])
    second = write_cards(tmp_path / "b.jsonl", CARDS[2:])
    kb = KnowledgeBase.load([str(first), str(second)], cache=tmp_path / "cache")
    assert [c.question for c in kb.cards] == [q for q, _ in CARDS]
    assert kb.search("HbA1c")[0].card.id == 2


def test_other_columns_can_be_mapped(tmp_path):
    path = tmp_path / "cards.csv"
    path.write_text("question,answer\nWhich agent reverses unfractionated heparin?,Protamine sulfate.\n")
    kb = KnowledgeBase.load(str(path), columns={"question": "question", "answer": "answer"}, cache=tmp_path / "cache")
    assert kb.search("heparin")[0].card.answer == "Protamine sulfate."


@pytest.mark.parametrize("content", ["", '{"question": "What?", "reply": "No."}\n', "not json\n"])
def test_unusable_sources_raise_the_data_pipelines_error(tmp_path, content):
    path = tmp_path / "cards.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match="cards.jsonl"):
        KnowledgeBase.load(str(path), cache=tmp_path / "cache")


def test_a_source_without_valid_cards_names_it(tmp_path):
    path = write_cards(tmp_path / "short.jsonl", [("Why?", "No."), ("How?", "")])
    with pytest.raises(RetrievalError, match="short.jsonl"):
        KnowledgeBase.load(str(path), cache=tmp_path / "cache")


# --- the index cache ------------------------------------------------------------------------------


def index_directories(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_second_load_reads_the_cached_index_and_a_changed_source_rebuilds(tmp_path):
    source = write_cards(tmp_path / "cards.jsonl", CARDS)
    cache = tmp_path / "cache"
    first = KnowledgeBase.load(str(source), cache=cache)
    assert not first.from_cache
    [directory] = index_directories(cache)
    written = (directory / MANIFEST).stat().st_mtime_ns

    second = KnowledgeBase.load(str(source), cache=cache)
    assert second.from_cache
    assert (directory / MANIFEST).stat().st_mtime_ns == written
    assert second.search("NKCC2")[0].card == first.search("NKCC2")[0].card

    write_cards(source, CARDS + [("What is the antidote for warfarin?", "Vitamin K and prothrombin complex.")])
    changed = KnowledgeBase.load(str(source), cache=cache)
    assert not changed.from_cache and len(changed) == 4
    assert changed.search("warfarin antidote")[0].card.id == 3
    assert len(index_directories(cache)) == 2


@pytest.mark.parametrize("damage", ["truncate_array", "truncate_vocab", "delete_array", "manifest_count", "garbage_manifest"])
def test_a_damaged_cached_index_is_rebuilt_not_used(tmp_path, damage):
    source = write_cards(tmp_path / "cards.jsonl", CARDS)
    cache = tmp_path / "cache"
    KnowledgeBase.load(str(source), cache=cache)
    [directory] = index_directories(cache)
    if damage == "truncate_array":
        path = directory / "data.csc.index.npy"
        path.write_bytes(path.read_bytes()[:-4])
    elif damage == "truncate_vocab":
        path = directory / "vocab.index.json"
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "delete_array":
        (directory / "indptr.csc.index.npy").unlink()
    elif damage == "manifest_count":
        manifest = json.loads((directory / MANIFEST).read_text())
        (directory / MANIFEST).write_text(json.dumps({**manifest, "cards": 99}))
    else:
        (directory / MANIFEST).write_text("{not json")

    rebuilt = KnowledgeBase.load(str(source), cache=cache)
    assert not rebuilt.from_cache
    assert rebuilt.search("protamine")[0].card.id == 0
    assert KnowledgeBase.load(str(source), cache=cache).from_cache  # the rebuild replaced the damaged index


def test_from_cards_can_use_the_cache_too(tmp_path):
    assert not KnowledgeBase.from_cards(CARDS, cache=tmp_path).from_cache
    assert KnowledgeBase.from_cards(CARDS, cache=tmp_path).from_cache
