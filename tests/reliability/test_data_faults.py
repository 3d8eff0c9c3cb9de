"""Malformed data files: every one is refused with an error naming the file (and row), or fully accounted for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reliability.malformed import cases, judge

CASES = cases()


def test_there_are_at_least_thirty_cases_across_four_formats():
    assert len(CASES) >= 30
    assert {case.suffix for case in CASES} >= {".json", ".jsonl", ".csv", ".parquet"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_input_is_refused_clearly_or_loaded_without_losing_rows(case, tmp_path):
    outcome = judge(case, tmp_path)
    expected = "accepted" if case.rows_written is not None else "clear error"
    assert outcome.verdict == expected, outcome.detail


def test_the_judge_notices_a_vague_error_and_lost_rows(tmp_path):
    """The judge itself can fail a loader: a case expecting a row number, and one expecting more rows."""
    named = {case.name: case for case in CASES}
    wrong_row = replace(named["json missing column"], row=2)  # the real error names row 1
    assert judge(wrong_row, tmp_path).verdict == "vague error"
    more_rows = replace(named["json extra column"], rows_written=4)  # the file holds 3
    assert judge(more_rows, tmp_path).verdict == "rows lost"
