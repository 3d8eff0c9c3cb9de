"""Malformed flashcard files, generated on demand, and a judge of how `medassist.data` handles each.

Every case says what a correct loader does with it: either refuse the file with a `DataError` whose message
names the file (and the row, when one row is at fault), or accept it and account for every row: each raw
row is kept, or counted as dropped (too short, duplicate). A case "crashes" when anything other than a
`DataError` escapes, and "loses rows" when accepted rows don't add up to the rows written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medassist.data import DataError, clean, load_records

from .unprivileged import call_as_nobody

GOOD = {"instruction": "Answer this question truthfully", "input": "What does insulin do?",
        "output": "Insulin lowers blood glucose by moving it into cells."}
TEN_MB = "A" * 10_000_000


MISSING = object()


def rows(n: int = 3, **changes: object) -> list[dict[str, object]]:
    """`n` valid distinct rows; `changes` overwrite columns of row 1 (MISSING deletes the column)."""
    result: list[dict[str, object]] = [{**GOOD, "input": f"{GOOD['input']} (case {i})"} for i in range(n)]
    for column, value in changes.items():
        if value is MISSING:
            del result[1][column]
        else:
            result[1][column] = value
    return result


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


@dataclass
class Case:
    """One malformed input. `row` is the row index the error must name (None: a whole-file problem);
    `rows_written` is the number of rows a loader that accepts the file must account for."""

    name: str
    write: Callable[[Path], None]
    suffix: str
    row: int | None = None
    rows_written: int | None = None


def _text(text: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text.encode(encoding))


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _frame(frame: pd.DataFrame, **options: object) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if path.suffix == ".parquet":
            frame.to_parquet(path, index=False, **options)
        else:
            frame.to_csv(path, index=False, **options)
    return write


def _truncated_parquet(path: Path) -> None:
    pd.DataFrame(rows()).to_parquet(path, index=False)
    path.write_bytes(path.read_bytes()[:-40])


def _directory(path: Path) -> None:
    path.mkdir()


def _unreadable(path: Path) -> None:
    path.write_text(jsonl(rows()))
    path.chmod(0)


def cases() -> list[Case]:
    """The malformed inputs, across JSON, JSONL, CSV and Parquet."""
    accented = jsonl(rows(input="Qu'est-ce que l'anémie ferriprive ?"))
    return [
        # JSON
        Case("json truncated", _text(json.dumps(rows())[:-30]), ".json"),
        Case("json latin-1", _text(json.dumps(rows(input="anémie ferriprive ?"), ensure_ascii=False), "latin-1"), ".json"),
        Case("json utf-16 with BOM", _text(json.dumps(rows()), "utf-16"), ".json"),
        Case("json missing column", _text(json.dumps(rows(output=MISSING))), ".json", row=1),
        Case("json extra column", _text(json.dumps(rows(source="wikidoc"))), ".json", rows_written=3),
        Case("json null output", _text(json.dumps([*rows(2), {**GOOD, "output": None}])), ".json", rows_written=3),
        Case("json number for input", _text(json.dumps(rows(input=42))), ".json", row=1),
        Case("json list for output", _text(json.dumps(rows(output=["a", "b"]))), ".json", row=1),
        Case("json object for instruction", _text(json.dumps(rows(instruction={"x": 1}))), ".json", row=1),
        Case("json top level is an object", _text(json.dumps({"rows": rows()})), ".json"),
        Case("json row is a string", _text(json.dumps([*rows(1), "not a row"])), ".json", row=1),
        Case("json control characters", _text(json.dumps(rows(input="What\x00 does\x1b[31m insulin\u202e do?"))),
             ".json", rows_written=3),
        Case("json 10 MB answer", _text(json.dumps(rows(output=TEN_MB))), ".json", rows_written=3),
        Case("json empty file", _text(""), ".json"),
        Case("json empty list", _text("[]"), ".json"),
        # JSONL
        Case("jsonl truncated last line", _text(jsonl(rows())[:-25]), ".jsonl", row=2),
        Case("jsonl latin-1", _text(accented, "latin-1"), ".jsonl"),
        Case("jsonl utf-16 with BOM", _text(jsonl(rows()), "utf-16"), ".jsonl"),
        Case("jsonl missing column", _text(jsonl(rows(input=MISSING))), ".jsonl", row=1),
        Case("jsonl bool for input", _text(jsonl(rows(input=True))), ".jsonl", row=1),
        Case("jsonl nulls", _text(jsonl(rows(instruction=None) + [{**GOOD, "input": None}])), ".jsonl", rows_written=4),
        Case("jsonl null bytes and RTL marks", _text(jsonl(rows(output="Insulin\u0000 lowers\u202e glucose."))),
             ".jsonl", rows_written=3),
        Case("jsonl blank lines between rows", _text(jsonl(rows()).replace("\n", "\n\n")), ".jsonl", rows_written=3),
        Case("jsonl duplicate rows", _text(jsonl(rows() + rows(1))), ".jsonl", rows_written=4),
        # CSV
        Case("csv unterminated quote", _text('instruction,input,output\n"a,"What is it?,"Unclosed\n'), ".csv"),
        Case("csv latin-1", _frame(pd.DataFrame(rows(input="anémie ferriprive ?")), encoding="latin-1"), ".csv"),
        Case("csv utf-16 with BOM", _frame(pd.DataFrame(rows()), encoding="utf-16"), ".csv"),
        Case("csv missing column", _frame(pd.DataFrame(rows()).drop(columns="output")), ".csv", row=0),
        Case("csv extra column", _frame(pd.DataFrame(rows(source="wikidoc"))), ".csv", rows_written=3),
        Case("csv ragged row", _text("instruction,input,output\na,What is it?,An answer here\na,b,c,d\n"), ".csv"),
        Case("csv empty cells", _text("instruction,input,output\n,What is insulin?,\n,,Insulin lowers glucose.\n"),
             ".csv", rows_written=2),
        Case("csv header only", _text("instruction,input,output\n"), ".csv"),
        Case("csv empty file", _text(""), ".csv"),
        Case("csv 10 MB answer", _frame(pd.DataFrame(rows(output=TEN_MB))), ".csv", rows_written=3),
        # Parquet
        Case("parquet truncated", _truncated_parquet, ".parquet"),
        Case("parquet missing column", _frame(pd.DataFrame(rows()).drop(columns="input")), ".parquet", row=0),
        Case("parquet integer column", _frame(pd.DataFrame(rows()).assign(output=[1, 2, 3])), ".parquet", row=0),
        Case("parquet list column", _frame(pd.DataFrame(rows()).assign(input=[["a"], ["b"], ["c"]])), ".parquet", row=0),
        Case("parquet nulls", _frame(pd.DataFrame(rows()).assign(instruction=[None, "x", None])), ".parquet",
             rows_written=3),
        Case("parquet no rows", _frame(pd.DataFrame(rows()).iloc[:0]), ".parquet"),
        Case("parquet garbage bytes", _bytes(b"PAR1 this is not parquet"), ".parquet"),
        # the file system
        Case("directory instead of a file", _directory, ".json"),
        Case("file without read permission", _unreadable, ".jsonl"),
        Case("unsupported extension", _text(jsonl(rows())), ".txt"),
    ]


@dataclass
class Outcome:
    case: str
    verdict: str  # "clear error", "accepted", "crash", "vague error", "rows lost"
    detail: str


def judge(case: Case, directory: Path) -> Outcome:
    """Load one case the way `medassist data` does and classify what happened."""
    if case.write is _unreadable and os.geteuid() == 0:
        return _judge_unreadable_as_nobody(case)
    path = directory / f"{case.name.replace(' ', '_')}{case.suffix}"
    case.write(path)
    try:
        try:
            loaded = load_records(str(path))
        except DataError as error:
            return _judge_error(case, path, str(error))
        except Exception as error:  # noqa: BLE001 - the point is to count what escapes
            return Outcome(case.name, "crash", f"{type(error).__name__}: {str(error)[:200]}")
        if case.rows_written is None:
            return Outcome(case.name, "vague error", f"accepted {len(loaded)} rows of a file that should be refused")
        kept, counts = clean(loaded, min_chars=5)
        accounted = len(kept) + counts["too_short"] + counts["duplicates"]
        if len(loaded) != case.rows_written or accounted != case.rows_written:
            return Outcome(case.name, "rows lost", f"wrote {case.rows_written}, loaded {len(loaded)}, accounted {accounted}")
        return Outcome(case.name, "accepted", f"{len(kept)} kept, {counts}")
    finally:
        if path.exists() and not path.is_dir():
            path.chmod(0o644)


def _judge_error(case: Case, path: Path, message: str) -> Outcome:
    """A clear error names the file, and the row when one row is at fault (JSONL lines count from 1)."""
    named = str(path) in message and (case.row is None or f"row {case.row}" in message or f"line {case.row + 1}" in message)
    verdict = "clear error" if named and case.rows_written is None else "vague error"
    return Outcome(case.name, verdict, message[:200])


def _load_and_print_error(path: str) -> int:
    try:
        load_records(path)
    except DataError as error:
        print(error)
        return 3
    return 0


def _judge_unreadable_as_nobody(case: Case) -> Outcome:
    """Root reads any file whatever its mode, so this case loads the file as the unprivileged user `nobody`."""
    directory = Path(tempfile.mkdtemp(prefix="medassist-unreadable-"))
    directory.chmod(0o755)
    path = directory / f"unreadable{case.suffix}"
    try:
        case.write(path)
        code, printed = call_as_nobody(_load_and_print_error, str(path))
        if code == 3:
            return _judge_error(case, path, printed.strip())
        if code == 0:
            return Outcome(case.name, "vague error", "an unreadable file was read")
        return Outcome(case.name, "crash", printed.strip()[-300:])
    finally:
        shutil.rmtree(directory, ignore_errors=True)
