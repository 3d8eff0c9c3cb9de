import json

import pandas as pd
import pytest

from conftest import SHARED_DATA, write_jsonl
from medassist.config import DataConfig
from medassist.data import DataError, clean, format_report, load_records, normalize_text, prepare, report, split
from medassist.prompts import encode

INSTRUCTION = "Answer this question truthfully"


def card(question: str, answer: str) -> dict[str, str]:
    """A row as a medalpaca file holds it."""
    return {"instruction": INSTRUCTION, "input": question, "output": answer}


def row(question: str, answer: str) -> dict[str, str]:
    """The same row as the pipeline holds it once loaded."""
    return {"instruction": INSTRUCTION, "question": question, "answer": answer}


def test_sample_flashcards_are_many_valid_and_unique(sample_rows):
    assert len(sample_rows) >= 400
    assert all(set(r) == {"instruction", "question", "answer"} for r in sample_rows)
    kept, counts = clean(sample_rows, min_chars=5)
    assert counts == {"too_short": 0, "duplicates": 0}
    assert len({r["question"].casefold() for r in kept}) == len(sample_rows)


def test_short_rows_are_dropped_by_the_seeds_rule():
    rows = [row("What?", "Yes."), row("Why", "Because of the renin-angiotensin system."),
            row("What does ACE convert?", "Angiotensin I to angiotensin II."), row("Define shock.", "")]
    kept, counts = clean(rows, min_chars=5)
    assert [r["question"] for r in kept] == ["What does ACE convert?"]
    assert counts["too_short"] == 3


def test_whitespace_and_control_characters_are_normalised():
    assert normalize_text("  Which\tnerve \x00 innervates\u200b the deltoid?\r\n\r\n\r\n\nAxillary.  ") == \
        "Which nerve innervates the deltoid?\n\nAxillary."
    rows = [row(" What is  the antidote for heparin? ", "Protamine sulfate."),
            row("What is the antidote for heparin?", "Protamine  sulfate.")]
    kept, counts = clean(rows, min_chars=5)
    assert len(kept) == 1 and counts["duplicates"] == 1


def test_split_has_no_question_in_both_sides_and_is_deterministic():
    rows = [row(f"Question number {i % 30}?", f"Answer variant {i}.") for i in range(90)]
    train_a, eval_a = split(rows, train_size=100, eval_size=10, seed=7)
    train_b, eval_b = split(rows, train_size=100, eval_size=10, seed=7)
    assert (train_a, eval_a) == (train_b, eval_b)
    assert not {r["question"].casefold() for r in train_a} & {r["question"].casefold() for r in eval_a}
    # eval takes whole question groups (3 rows each) until it holds 10 rows: 4 groups, the 2 surplus rows
    # are dropped rather than leaked into train, which keeps the other 26 groups (78 rows)
    assert len(eval_a) == 10 and len(train_a) == 78
    _, eval_c = split(rows, train_size=100, eval_size=10, seed=8)
    assert eval_c != eval_a


def test_prepare_sizes_and_report_figures(tokenizer):
    config = DataConfig(train_size=50, eval_size=20, max_length=64)
    splits = prepare(config)
    assert (len(splits.train), len(splits.eval)) == (50, 20)
    figures = report(splits, tokenizer, max_length=64)
    assert figures["raw_rows"] >= 400 and figures["valid_rows"] == figures["raw_rows"]
    assert figures["train_rows"] == 50 and figures["eval_rows"] == 20
    assert 0 < figures["question_words"]["mean"] <= figures["question_words"]["max"]
    tokens = figures["tokens"]
    assert tokens["p50"] <= tokens["p90"] <= tokens["p95"] <= tokens["p99"] <= tokens["max"]
    untruncated = [len(encode(tokenizer, row, 10**9).input_ids) for row in splits.train + splits.eval]
    assert figures["rows_over_max_length"] == sum(n > 64 for n in untruncated) > 0
    assert tokens["max"] == max(untruncated)
    assert "train / eval" in format_report(figures)


def test_every_format_loads_the_same_rows(tmp_path):
    rows = [card("What is the rate-limiting enzyme of glycolysis?", "Phosphofructokinase-1."),
            card("Which vitamin deficiency causes scurvy?", "Vitamin C (ascorbic acid).")]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    write_jsonl(tmp_path / "a.jsonl", rows)
    pd.DataFrame(rows).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "a.parquet")
    for suffix in (".json", ".jsonl", ".csv", ".parquet"):
        assert load_records(str(tmp_path / f"a{suffix}")) == [row(r["input"], r["output"]) for r in rows]


@pytest.mark.parametrize("name, content, message", [
    ("empty.jsonl", b"", "file is empty"),
    ("broken.json", b'[{"instruction": "x", "input": "y"', "not valid JSON"),
    ("broken.jsonl", b'{"instruction": "a", "input": "b", "output": "c"}\n{oops\n', "line 2 is not valid JSON"),
    ("cols.jsonl", b'{"instruction": "a", "question": "b", "output": "c"}\n', "row 0 is missing column"),
    ("types.jsonl", b'{"instruction": "a", "input": "What?", "output": "ok"}\n{"instruction": "a", "input": 5, "output": "c"}\n',
     "row 1, column 'input' is a int"),
    ("list.json", b'{"instruction": "a"}', "expected a JSON list"),
    ("latin.jsonl", '{"instruction": "a", "input": "caf\u00e9 au lait?", "output": "ok"}\n'.encode("latin-1"), "not valid UTF-8"),
    ("data.txt", b"hello", "unsupported extension '.txt'"),
])
def test_bad_files_raise_an_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        load_records(str(path))
    assert name in str(error.value)


def test_missing_file_and_directory(tmp_path):
    # An unreadable file is checked in tests/reliability (as user nobody: root reads anything).
    with pytest.raises(DataError, match="file not found"):
        load_records(str(tmp_path / "nope.json"))
    with pytest.raises(DataError, match="is a directory"):
        load_records(str(tmp_path))


def test_null_values_are_counted_not_silently_lost(tmp_path):
    rows = [card("What is the antidote for heparin?", "Protamine sulfate."),
            {"instruction": None, "input": "Which enzyme does aspirin inhibit irreversibly?", "output": "Cyclooxygenase."},
            {"instruction": INSTRUCTION, "input": "Which drug reverses warfarin?", "output": None}]
    path = tmp_path / "nulls.json"
    path.write_text(json.dumps(rows))
    splits = prepare(DataConfig(source=str(path), train_size=10, eval_size=1))
    assert splits.counts == {"raw_rows": 3, "valid_rows": 2, "too_short": 1, "duplicates": 0,
                             "dropped_at_eval_boundary": 0, "unused_by_train_size": 0, "repaired_surrogates": 0}
    assert len(splits.train) + len(splits.eval) == splits.counts["valid_rows"]


def test_no_valid_rows_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "short.jsonl", [card("Hi", "Yo")])
    with pytest.raises(DataError, match="no valid rows"):
        prepare(DataConfig(source=str(path)))


def test_offline_hub_dataset_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match="local .json"):
        load_records("no-such-org/no-such-dataset")


@pytest.mark.skipif(not SHARED_DATA.is_file(), reason="../shared/data is absent (only CI and developers have it)")
def test_report_on_real_medical_meadow_data():
    splits = prepare(DataConfig(source=str(SHARED_DATA), train_size=3000, eval_size=200))
    figures = report(splits)
    assert figures["raw_rows"] == 5942
    assert figures["valid_rows"] + figures["too_short"] + figures["duplicates"] == 5942
    assert (figures["train_rows"], figures["eval_rows"]) == (3000, 200)
    assert not {r["question"].casefold() for r in splits.train} & {r["question"].casefold() for r in splits.eval}


def test_several_sources_are_concatenated_before_cleaning(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [card("What is the antidote for heparin?", "Protamine sulfate.")])
    second = tmp_path / "b.json"
    second.write_text(json.dumps([card("What is the antidote for heparin?", "Protamine sulfate."),
                                  card("Which nerve innervates the deltoid?", "The axillary nerve.")]))
    splits = prepare(DataConfig(source=[str(first), str(second)], train_size=10, eval_size=1))
    assert splits.counts == {"raw_rows": 3, "valid_rows": 2, "too_short": 0, "duplicates": 1,
                             "dropped_at_eval_boundary": 0, "unused_by_train_size": 0, "repaired_surrogates": 0}


def test_other_column_names_are_mapped_once_where_rows_are_loaded(tmp_path):
    path = tmp_path / "qa.csv"
    pd.DataFrame({"question": ["What is the antidote for heparin?"], "answer": ["Protamine sulfate."]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['input', 'output'\]; it has \['answer', 'question'\]"):
        load_records(str(path))
    rows = load_records(str(path), {"question": "question", "answer": "answer"})
    assert rows == [{"instruction": "", "question": "What is the antidote for heparin?", "answer": "Protamine sulfate."}]
    with pytest.raises(DataError, match="unknown field"):
        load_records(str(path), {"query": "question"})
