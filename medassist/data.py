"""Flashcards in, clean leakage-free train/eval splits and a report out.

Rules, applied in this order (each drop is counted in the report, never silent):
1. The file must be readable, non-empty and have the question and answer columns that
   `DataConfig.columns` names (medalpaca: `input`, `output`; `instruction` optional); otherwise
   `DataError` names the file and lists the columns it does have. Columns are mapped to the pipeline's
   fields (`question`, `answer`, `instruction`) here, once: nothing downstream reads source names.
2. A value that is neither a string nor null (a number, a list, an object) means the file does not
   fit the schema: `DataError` names the file, the row and the column.
3. Whitespace is normalised and control characters are removed; a null instruction counts as "".
4. Rows whose input or output is null or under `min_chars` characters are dropped (`too_short`).
5. Exact duplicates (same instruction, input and output) are dropped (`duplicates`).
6. Rows are grouped by question (case-insensitive): a question goes wholly to eval or wholly to
   train, so no question text is in both. Groups are shuffled with `DataConfig.seed`.
7. Every valid row not used is counted too: `dropped_at_eval_boundary` (the rest of the question group that
   took eval past `eval_size`: it is not moved to train, where its question would leak) and
   `unused_by_train_size` (rows beyond `train_size`). So valid_rows = train + eval + those two.

Edge cases refused with a `DataError` that says what is wrong: a CSV or Parquet header naming a column twice
(pandas would silently read the second `output` as `output.1`), a JSON object with a read column twice (JSON
keeps the last value), a symlink loop or a broken symlink, JSON nested too deeply to parse. A lone surrogate
escape in JSON text (`"\\ud800"`, half of a UTF-16 pair, not a character) is replaced by U+FFFD and the row
counted as `repaired_surrogates`: such text cannot be encoded as UTF-8 (a tokenizer, a file or a terminal fails on it).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import re
import stat
import statistics
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from transformers import PreTrainedTokenizerBase

from .config import ANSWER, INSTRUCTION, MEDALPACA_COLUMNS, QUESTION, DataConfig
from .prompts import encode

FIELDS = (INSTRUCTION, QUESTION, ANSWER)
REQUIRED_FIELDS = (QUESTION, ANSWER)
LOCAL_FORMATS = (".json", ".jsonl", ".csv", ".parquet")
Row = dict[str, str]


class DataError(ValueError):
    """The data source is unusable; the message names the file (and row and column, when known)."""


@dataclass
class Splits:
    train: list[Row]
    eval: list[Row]
    counts: dict[str, int] = field(default_factory=dict)


def _stat(path: Path) -> os.stat_result:
    """The file's status; a missing file, a broken link and a link loop each get their own message."""
    try:
        return path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise DataError(f"{path}: symlink loop (the link resolves back to itself), not a file") from error
        if path.is_symlink():
            raise DataError(f"{path}: broken symlink (it points to '{os.readlink(path)}', which does not exist)") from error
        if error.errno == errno.ENOENT:
            raise DataError(f"{path}: file not found") from error
        if error.errno == errno.EACCES:
            raise DataError(f"{path}: cannot be read (permission denied)") from error
        raise DataError(f"{path}: cannot be read ({error.strerror})") from error


def _duplicates(names: list[Any]) -> list[str]:
    seen: set[str] = set()
    return sorted({str(n) for n in names if str(n).strip() and (str(n) in seen or seen.add(str(n)))})


def _check_header(path: Path, suffix: str) -> None:
    """Refuse a header that names a column twice: pandas would rename the second `output` to `output.1`."""
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:  # pandas drops a byte-order mark too
            names = next(csv.reader(handle), [])
    else:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    duplicates = _duplicates(names)
    if duplicates:
        raise DataError(f"{path}: the header names column(s) {duplicates} more than once; give each column its own name")


class _JSONObject(dict):
    """A JSON object that remembers the keys it held more than once (JSON keeps only the last value)."""

    duplicate_keys: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JSONObject:
    record = _JSONObject(pairs)
    if len(record) != len(pairs):
        record.duplicate_keys = tuple(_duplicates([key for key, _ in pairs]))
    return record


def _parse_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_json_object)


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_table(path: Path) -> list[dict[str, Any]]:
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{path}: is a directory, expected a {'/'.join(LOCAL_FORMATS)} file")
    suffix = path.suffix.lower()
    if suffix not in LOCAL_FORMATS:
        raise DataError(f"{path}: unsupported extension '{suffix}', expected one of {', '.join(LOCAL_FORMATS)}")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise DataError(f"{path}: not a regular file")
    try:
        if info.st_size == 0:
            raise DataError(f"{path}: file is empty")
        if suffix in (".csv", ".parquet"):
            _check_header(path, suffix)
        if suffix == ".parquet":
            return pd.read_parquet(path).to_dict(orient="records")
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=object, keep_default_na=False, na_values=[], encoding="utf-8")
            return frame.to_dict(orient="records")
        text = path.read_text(encoding="utf-8")
    except DataError:
        raise
    except PermissionError as error:
        raise DataError(f"{path}: cannot be read (permission denied)") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 text ({error.reason} at byte {error.start})") from error
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: file has no rows") from error
    except (OSError, ValueError, csv.Error) as error:  # pyarrow and the CSV parsers raise these for corrupt files
        raise DataError(f"{path}: could not be parsed: {_one_line(error)}") from error
    if suffix == ".jsonl":
        records = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(_parse_json(line))
            except json.JSONDecodeError as error:
                raise DataError(f"{path}: line {line_number} is not valid JSON ({error.msg})") from error
            except RecursionError as error:
                raise DataError(f"{path}: line {line_number} is nested too deeply to parse (not a flashcard row)") from error
        return records
    try:
        records = _parse_json(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    except RecursionError as error:
        raise DataError(f"{path}: JSON nested too deeply to parse (flashcards are a list of flat objects)") from error
    if isinstance(records, dict) and isinstance(records.get("data"), list):
        records = records["data"]
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of objects, got {type(records).__name__}")
    return records


def _read_hub(dataset_id: str) -> list[dict[str, Any]]:
    import datasets  # imported here: loading it costs seconds that local files don't need

    try:
        return datasets.load_dataset(dataset_id, split="train").to_list()
    except Exception as error:  # datasets raises many types for "not found" and "offline"
        raise DataError(
            f"could not load dataset '{dataset_id}' from the Hugging Face Hub ({type(error).__name__}: {error}). "
            "Offline, pass a local .json/.jsonl/.csv/.parquet file in the medalpaca schema."
        ) from error


_SURROGATE = re.compile("[\ud800-\udfff]")


def load_records(source: str, columns: dict[str, str] | None = None, counts: dict[str, int] | None = None) -> list[Row]:
    """Rows from a local file or a hub dataset id, as {instruction, question, answer} read from `columns`.

    Lone surrogates are replaced by U+FFFD; with `counts`, the rows repaired are added to counts["repaired_surrogates"].
    """
    columns = {**MEDALPACA_COLUMNS, **(columns or {})}
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise DataError(f"data.columns maps unknown field(s) {sorted(unknown)}; the fields are {list(FIELDS)}")
    path = Path(source)
    is_local = path.suffix.lower() in LOCAL_FORMATS or path.exists() or path.is_symlink() or source.startswith((".", "/"))
    records = _read_table(path) if is_local else _read_hub(source)
    if not records:
        raise DataError(f"{source}: contains no rows")
    rows: list[Row] = []
    repaired = 0
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{source}: row {index} is a {type(record).__name__}, expected an object")
        twice = [key for key in getattr(record, "duplicate_keys", ()) if key in columns.values()]
        if twice:
            raise DataError(f"{source}: row {index} has the key(s) {twice} more than once (JSON would keep only the last value)")
        missing = [columns[f] for f in REQUIRED_FIELDS if columns[f] not in record]
        if missing:
            raise DataError(
                f"{source}: row {index} is missing column(s) {missing}; it has {sorted(map(str, record))}. "
                "Map other column names with --set 'data.columns={question: ..., answer: ...}'"
            )
        row: Row = {}
        for name in FIELDS:
            column = columns[name]
            value = record.get(column)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                value = ""
            elif not isinstance(value, str):
                raise DataError(f"{source}: row {index}, column '{column}' is a {type(value).__name__}, expected text")
            row[name] = value
        if any(_SURROGATE.search(value) for value in row.values()):
            row = {name: _SURROGATE.sub("\ufffd", value) for name, value in row.items()}
            repaired += 1
        rows.append(row)
    if counts is not None:
        counts["repaired_surrogates"] = counts.get("repaired_surrogates", 0) + repaired
    return rows


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")


def normalize_text(text: str) -> str:
    """NFC, no control or direction characters, single spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean(rows: list[Row], min_chars: int) -> tuple[list[Row], dict[str, int]]:
    """Normalise, drop short rows and exact duplicates; return kept rows and drop counts."""
    kept: list[Row] = []
    seen: set[tuple[str, str, str]] = set()
    counts = {"too_short": 0, "duplicates": 0}
    for row in rows:
        row = {name: normalize_text(row[name]) for name in FIELDS}
        if len(row[QUESTION]) < min_chars or len(row[ANSWER]) < min_chars:
            counts["too_short"] += 1
            continue
        key = (row[INSTRUCTION], row[QUESTION], row[ANSWER])
        if key in seen:
            counts["duplicates"] += 1
            continue
        seen.add(key)
        kept.append(row)
    return kept, counts


def split(rows: list[Row], train_size: int, eval_size: int, seed: int) -> tuple[list[Row], list[Row]]:
    """Leakage-free split: all rows sharing a question land on the same side."""
    train_rows, eval_rows = _split_groups(rows, eval_size, seed)
    return train_rows[:train_size], eval_rows[:eval_size]


def _split_groups(rows: list[Row], eval_size: int, seed: int) -> tuple[list[Row], list[Row]]:
    """(train, eval) before the sizes are applied: eval holds whole question groups, at least `eval_size` rows."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row[QUESTION].casefold()].append(row)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    eval_rows: list[Row] = []
    train_rows: list[Row] = []
    for key in keys:
        side = eval_rows if len(eval_rows) < eval_size else train_rows
        side.extend(groups[key])
    random.Random(seed + 1).shuffle(train_rows)
    return train_rows, eval_rows


def prepare(config: DataConfig) -> Splits:
    """Load, validate, clean and split the data source(s) as `config` says."""
    sources = [config.source] if isinstance(config.source, str) else list(config.source)
    loaded: dict[str, int] = {"repaired_surrogates": 0}
    raw = [row for source in sources for row in load_records(source, config.columns, loaded)]
    rows, counts = clean(raw, config.min_chars)
    if not rows:
        raise DataError(f"{config.source}: no valid rows left after cleaning ({counts})")
    train_all, eval_all = _split_groups(rows, config.eval_size, config.seed)
    train_rows, eval_rows = train_all[: config.train_size], eval_all[: config.eval_size]
    counts = {
        "raw_rows": len(raw),
        "valid_rows": len(rows),
        **counts,
        "dropped_at_eval_boundary": len(eval_all) - len(eval_rows),
        "unused_by_train_size": len(train_all) - len(train_rows),
        **loaded,
    }
    return Splits(train=train_rows, eval=eval_rows, counts=counts)


def _word_stats(texts: list[str]) -> dict[str, float]:
    lengths = [len(t.split()) for t in texts] or [0]
    return {"mean": round(statistics.fmean(lengths), 1), "max": max(lengths)}


def report(splits: Splits, tokenizer: PreTrainedTokenizerBase | None = None, max_length: int = 512) -> dict[str, Any]:
    """The figures a user checks before training: sizes, lengths in words and, given a tokenizer, tokens."""
    rows = splits.train + splits.eval
    result: dict[str, Any] = {
        **splits.counts,
        "train_rows": len(splits.train),
        "eval_rows": len(splits.eval),
        "question_words": _word_stats([r[QUESTION] for r in rows]),
        "answer_words": _word_stats([r[ANSWER] for r in rows]),
    }
    if tokenizer is not None and rows:
        untruncated = 10**9
        lengths = np.array([len(encode(tokenizer, row, untruncated).input_ids) for row in rows])
        result["tokens"] = {f"p{q}": int(np.percentile(lengths, q)) for q in (50, 90, 95, 99)}
        result["tokens"]["max"] = int(lengths.max())
        result["rows_over_max_length"] = int((lengths > max_length).sum())
        result["max_length"] = max_length
    return result


def format_report(figures: dict[str, Any]) -> str:
    unused_train, unused_eval = figures.get("unused_by_train_size", 0), figures.get("dropped_at_eval_boundary", 0)
    lines = [
        f"raw rows            {figures['raw_rows']:>8,}",
        f"valid rows          {figures['valid_rows']:>8,}   (dropped: {figures['too_short']:,} too short, "
        f"{figures['duplicates']:,} duplicates)",
        f"train / eval        {figures['train_rows']:>8,} / {figures['eval_rows']:,}",
        f"valid but not used  {unused_train + unused_eval:>8,}   ({unused_train:,} beyond data.train_size, "
        f"{unused_eval:,} at the eval boundary: a question's rows stay on one side)",
        f"question words      mean {figures['question_words']['mean']}, max {figures['question_words']['max']}",
        f"answer words        mean {figures['answer_words']['mean']}, max {figures['answer_words']['max']}",
    ]
    if figures.get("repaired_surrogates"):
        lines.append(f"repaired rows       {figures['repaired_surrogates']:>8,}   (lone surrogate escapes replaced by U+FFFD)")
    if "tokens" in figures:
        tokens = figures["tokens"]
        lines.append(
            f"tokens per example  p50 {tokens['p50']}, p90 {tokens['p90']}, p95 {tokens['p95']}, "
            f"p99 {tokens['p99']}, max {tokens['max']}"
        )
        lines.append(f"over max_length={figures['max_length']}  {figures['rows_over_max_length']:,} (answers truncated)")
    return "\n".join(lines)


def plot_lengths(splits: Splits, tokenizer: PreTrainedTokenizerBase | None = None, max_length: int | None = None):
    """Histograms of question and answer lengths in words (and whole examples in tokens, given a tokenizer).

    Returns the matplotlib figure, so a notebook shows it and a script can save it.
    """
    import matplotlib.pyplot as plt

    rows = splits.train + splits.eval
    panels = [("question words", [len(r[QUESTION].split()) for r in rows]),
              ("answer words", [len(r[ANSWER].split()) for r in rows])]
    if tokenizer is not None:
        panels.append(("tokens per example", [len(encode(tokenizer, r, 10**9).input_ids) for r in rows]))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5))
    for axis, (title, values) in zip(axes, panels):
        axis.hist(values, bins=30, color="#4c72b0")
        axis.set_title(f"{title} (median {int(np.median(values))})")
        axis.set_ylabel("examples")
    if tokenizer is not None and max_length:
        axes[-1].axvline(max_length, color="red", linestyle="--", label=f"max_length {max_length}")
        axes[-1].legend()
    figure.tight_layout()
    return figure
