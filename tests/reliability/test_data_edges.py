"""Data edge cases: columns named twice, symlink loops, nesting too deep, lone surrogates, and a report that
accounts for every row it does not use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import write_jsonl
from medassist.config import SAMPLE_FLASHCARDS, DataConfig, load_profile
from medassist.data import DataError, format_report, load_records, prepare, report

GOOD = {"instruction": "Answer this question truthfully", "input": "What does insulin do?",
        "output": "Insulin lowers blood glucose by moving it into cells."}


def cards(n: int = 3) -> list[dict[str, str]]:
    return [{**GOOD, "input": f"{GOOD['input']} (case {i})"} for i in range(n)]


def refused(path: Path | str, *texts: str) -> str:
    with pytest.raises(DataError) as error:
        load_records(str(path))
    message = str(error.value)
    assert str(path) in message and "\n" not in message, message
    for text in texts:
        assert text in message, message
    return message


# ----------------------------------------------------------------------------------------- columns named twice


@pytest.mark.parametrize("header, named", [
    ("instruction,input,output,output", "['output']"),
    ("input,input,output", "['input']"),
    ("\ufeffinstruction,input,output,output", "['output']"),  # with a UTF-8 byte-order mark
    ("instruction,input,output,source,source", "['source']"),  # even a column that is not read: the file is ambiguous
    ('instruction,"input",output,"output"', "['output']"),  # quoted names are the same names
])
def test_csv_header_naming_a_column_twice_is_refused(tmp_path, header, named):
    columns = header.count(",") + 1
    path = tmp_path / "twice.csv"
    path.write_text(header + "\n" + ",".join(["a", "What does insulin do?", "It lowers glucose.", "x", "y"][:columns]) + "\n",
                    encoding="utf-8")
    refused(path, f"the header names column(s) {named} more than once")


def test_csv_with_unnamed_columns_still_loads(tmp_path):
    """Empty header cells (a saved index) are named 'Unnamed: 0', 'Unnamed: 1' by pandas: nothing is merged."""
    path = tmp_path / "index.csv"
    lines = [",,instruction,input,output"] + [f",{i},a,{card['input']},{card['output']}" for i, card in enumerate(cards())]
    path.write_text("\n".join(lines) + "\n")
    assert len(load_records(str(path))) == 3


def test_parquet_schema_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.parquet"
    arrays = [pa.array([GOOD[c]]) for c in ("instruction", "input", "output")] + [pa.array(["other answer"])]
    pq.write_table(pa.table(arrays, names=["instruction", "input", "output", "output"]), path)
    refused(path, "['output'] more than once")


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_object_with_a_read_key_twice_is_refused_naming_the_row(tmp_path, suffix):
    twice = '{"instruction": "a", "input": "What does insulin do?", "output": "first", "output": "second answer"}'
    lines = [json.dumps(card) for card in cards(2)] + [twice]
    path = tmp_path / f"twice{suffix}"
    path.write_text("[" + ",".join(lines) + "]" if suffix == ".json" else "\n".join(lines) + "\n")
    refused(path, "row 2 has the key(s) ['output'] more than once")


def test_json_object_with_an_unread_key_twice_loads(tmp_path):
    path = tmp_path / "extra.jsonl"
    path.write_text('{"instruction": "a", "input": "What does insulin do?", "output": "It lowers glucose.", '
                    '"source": "x", "source": "y"}\n')
    assert load_records(str(path))[0]["answer"] == "It lowers glucose."


# ----------------------------------------------------------------------------------------- links


def test_symlink_to_itself_is_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    message = refused(loop, "symlink loop")
    assert "file not found" not in message


def test_two_links_pointing_at_each_other_are_a_symlink_loop(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.symlink_to(b)
    b.symlink_to(a)
    refused(a, "symlink loop")


def test_symlink_loop_without_a_known_extension_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("cards").symlink_to("cards")
    refused("cards", "symlink loop")


def test_loop_in_a_directory_of_the_path_is_a_symlink_loop(tmp_path):
    (tmp_path / "d").symlink_to(tmp_path / "d")
    refused(tmp_path / "d" / "cards.json", "symlink loop")


def test_broken_symlink_names_its_target(tmp_path):
    link = tmp_path / "cards.jsonl"
    link.symlink_to(tmp_path / "moved.jsonl")
    refused(link, "broken symlink", "moved.jsonl")


def test_a_fifo_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "cards.jsonl"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")


def test_a_symlink_to_a_good_file_loads(tmp_path):
    target = write_jsonl(tmp_path / "real.jsonl", cards())
    (tmp_path / "link.jsonl").symlink_to(target)
    assert len(load_records(str(tmp_path / "link.jsonl"))) == 3


# ----------------------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("suffix, text, where", [
    (".json", "[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    (".json", '{"a": ' * 100_000 + "1" + "}" * 100_000, "JSON nested too deeply"),
    (".jsonl", json.dumps(GOOD) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n", "line 2 is nested too deeply"),
    (".json", '[{"instruction": "a", "input": "What does insulin do?", "output": ' + "[" * 50_000 + "]" * 50_000 + "}]",
     "JSON nested too deeply"),
])
def test_json_nested_too_deeply_is_refused(tmp_path, suffix, text, where):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    refused(path, where)


def test_moderate_nesting_in_a_value_is_a_type_error_naming_the_cell(tmp_path):
    path = tmp_path / "nested.json"
    path.write_text(json.dumps([{**GOOD, "output": [[["an answer"]]]}]))
    refused(path, "row 0, column 'output' is a list")


# ----------------------------------------------------------------------------------------- lone surrogates


def _with_escapes(tmp_path: Path, name: str, escaped: dict[str, str]) -> Path:
    """A JSONL file whose rows hold the given raw JSON escapes (json.dumps cannot write a lone surrogate)."""
    lines = [json.dumps(card) for card in cards(3)]
    lines[1] = lines[1].replace("What does insulin do?", escaped.get("input", "What does insulin do?"))
    lines[1] = lines[1].replace("Insulin lowers", escaped.get("output", "Insulin lowers"))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("escaped, expected", [
    ({"input": "What does insulin\\ud800 do?"}, {"question": "What does insulin\ufffd do?"}),
    ({"input": "What does \\udc00insulin do?"}, {"question": "What does \ufffdinsulin do?"}),
    ({"input": "\\ude00\\ud83d What does insulin do?"}, {"question": "\ufffd\ufffd What does insulin do?"}),  # reversed pair
    ({"input": "What does insulin\\ud800 do?", "output": "Insulin\\udbff lowers"},
     {"question": "What does insulin\ufffd do?", "answer": "Insulin\ufffd lowers"}),
])
def test_lone_surrogates_are_replaced_and_the_rows_counted(tmp_path, escaped, expected):
    path = _with_escapes(tmp_path, "surrogates.jsonl", escaped)
    rows = load_records(str(path))
    for field, text in expected.items():
        assert rows[1][field].startswith(text) and text in rows[1][field]
    for row in rows:
        "".join(row.values()).encode("utf-8")  # every row is encodable again
    splits = prepare(DataConfig(source=str(path), train_size=10, eval_size=1, min_chars=1))
    assert splits.counts["repaired_surrogates"] == 1  # one row, however many surrogates it held
    figures = report(splits)
    assert "repaired rows              1   (lone surrogate escapes replaced by U+FFFD)" in format_report(figures)


def test_a_real_surrogate_pair_is_a_character_not_a_repair(tmp_path):
    path = _with_escapes(tmp_path, "emoji.jsonl", {"input": "What does insulin do \\ud83d\\ude00?"})
    assert load_records(str(path))[1]["question"].startswith("What does insulin do \U0001F600?")
    splits = prepare(DataConfig(source=str(path), train_size=10, eval_size=1))
    assert splits.counts["repaired_surrogates"] == 0
    assert "repaired" not in format_report(report(splits))


def test_load_records_counts_repairs_across_sources(tmp_path):
    first = _with_escapes(tmp_path, "a.jsonl", {"input": "What\\ud800 does insulin do?"})
    second = _with_escapes(tmp_path, "b.jsonl", {"output": "Insulin\\udfff lowers"})
    counts: dict[str, int] = {}
    load_records(str(first), counts=counts)
    load_records(str(second), counts=counts)
    assert counts == {"repaired_surrogates": 2}


# ----------------------------------------------------------------------------------------- every row accounted for


def _accounted(counts: dict[str, int], splits) -> None:
    assert counts["raw_rows"] == counts["valid_rows"] + counts["too_short"] + counts["duplicates"]
    assert counts["valid_rows"] == (len(splits.train) + len(splits.eval) + counts["unused_by_train_size"]
                                    + counts["dropped_at_eval_boundary"])


def test_the_cpu_profile_report_says_where_the_unused_rows_went():
    """468 valid cards, 360 train / 40 eval: the other 68 are beyond train_size, and the report says so."""
    config = load_profile("cpu").data
    splits = prepare(config)
    figures = report(splits)
    _accounted(splits.counts, splits)
    assert (figures["valid_rows"], figures["train_rows"], figures["eval_rows"]) == (468, 360, 40)
    assert figures["unused_by_train_size"] + figures["dropped_at_eval_boundary"] == 68
    text = format_report(figures)
    assert f"valid but not used        68   ({figures['unused_by_train_size']} beyond data.train_size, " in text


def test_rows_cut_at_the_eval_boundary_are_counted(tmp_path):
    """Questions asked 3 times: eval takes whole groups, so 4 groups (12 rows) fill eval_size=10; 2 rows are dropped."""
    rows = [{**GOOD, "input": f"Question number {i % 30}?", "output": f"Answer variant {i}."} for i in range(90)]
    path = write_jsonl(tmp_path / "groups.jsonl", rows)
    splits = prepare(DataConfig(source=str(path), train_size=70, eval_size=10, seed=7))
    assert splits.counts["dropped_at_eval_boundary"] == 2 and splits.counts["unused_by_train_size"] == 8
    assert (len(splits.train), len(splits.eval)) == (70, 10)
    _accounted(splits.counts, splits)
    assert "valid but not used        10   (8 beyond data.train_size, 2 at the eval boundary" in format_report(report(splits))


@pytest.mark.parametrize("train_size, eval_size, seed", [(0, 0, 1), (10, 0, 2), (0, 10, 3), (1000, 1000, 4), (50, 7, 5)])
def test_every_valid_row_is_used_or_counted(train_size, eval_size, seed):
    splits = prepare(DataConfig(source=SAMPLE_FLASHCARDS, train_size=train_size, eval_size=eval_size, seed=seed))
    _accounted(splits.counts, splits)
