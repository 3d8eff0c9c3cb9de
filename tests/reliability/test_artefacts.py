"""Artefacts load from safetensors only, and remote code never runs, whatever is planted beside them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reliability.artefact_cases import CASES, SAFE_VERDICTS, plant_pickle, run_case

ROOT = Path(__file__).resolve().parents[2]


def test_the_planted_pickle_really_runs_code_when_unpickled(tmp_path):
    """Without this, a loader that silently skipped the file would look the same as a safe one."""
    import pickle

    marker = tmp_path / "pwned"
    plant_pickle(tmp_path / "evil.bin", marker)
    pickle.loads((tmp_path / "evil.bin").read_bytes())
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch's weights-only refusal path
@pytest.mark.parametrize("name", CASES)
def test_planted_artefact_is_ignored_or_refused_never_executed(name, tokenizer):
    outcome = run_case(name, tokenizer)
    assert outcome.verdict in SAFE_VERDICTS[name], outcome.detail


def test_no_source_file_enables_trust_remote_code():
    """Every call that passes trust_remote_code passes the constant False."""
    offenders = []
    for path in [*sorted((ROOT / "medassist").glob("*.py")), ROOT / "app.py", *sorted((ROOT / "bench").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
