"""Training under faults: SIGKILL at three points then --resume, and an unwritable or full output directory.

All runs use the smoke profile (the tiny random Llama) on 48 short cards: 16 optimizer steps over 2 epochs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from medassist import cli
from medassist.config import apply_overrides, load_profile
from medassist.train import TrainError, train

from conftest import write_jsonl
from reliability.killpoints import KILL_POINTS
from reliability.unprivileged import call_as_nobody

ROOT = Path(__file__).resolve().parents[2]
KILLER = Path(__file__).with_name("killpoints.py")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md", "training_log.json")
PLANNED_STEPS = 16


@pytest.fixture(scope="module")
def cards(tmp_path_factory) -> Path:
    rows = [{"instruction": "Answer this question truthfully", "input": f"What does drug number {i} treat?",
             "output": f"Drug number {i} treats condition {i * 3 % 17} and needs a check every {i % 5 + 1} weeks."}
            for i in range(48)]
    return write_jsonl(tmp_path_factory.mktemp("data") / "cards.jsonl", rows)


def train_args(cards: Path, output: Path) -> list[str]:
    return ["--profile", "smoke", "--output", str(output), "--source", str(cards),
            "--set", "train.epochs=2", "--set", "train.save_steps=5"]


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def assert_complete_adapter(adapter: Path) -> None:
    assert {p.name for p in adapter.iterdir()} >= set(ADAPTER_FILES)
    log = json.loads((adapter / "training_log.json").read_text())
    assert log["steps"] == log["planned_steps"] == PLANNED_STEPS
    assert not [p.name for p in adapter.parent.iterdir() if p.name.startswith(".adapter")], "staging left behind"


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_then_resume_finishes_the_plan_and_never_half_writes_the_adapter(point, cards, tmp_path):
    output = tmp_path / "run"
    killed = run([sys.executable, str(KILLER), point, "--", *train_args(cards, output)])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (output / "adapter").exists(), f"killed {KILL_POINTS[point]}, yet an adapter is in place"

    resumed = run([sys.executable, "-m", "medassist", "train", *train_args(cards, output), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"trained {PLANNED_STEPS}/{PLANNED_STEPS} steps" in resumed.stdout
    assert_complete_adapter(output / "adapter")


def test_kill_while_replacing_an_adapter_keeps_the_previous_one_whole(cards, tmp_path):
    output = tmp_path / "run"
    first = run([sys.executable, "-m", "medassist", "train", *train_args(cards, output)])
    assert first.returncode == 0, first.stderr[-3000:]
    weights = (output / "adapter" / "adapter_model.safetensors").read_bytes()

    again = [*train_args(cards, output), "--set", "train.learning_rate=5e-3"]
    killed = run([sys.executable, str(KILLER), "adapter-save", "--", *again])
    assert killed.returncode == -signal.SIGKILL
    assert (output / "adapter" / "adapter_model.safetensors").read_bytes() == weights
    log = json.loads((output / "adapter" / "training_log.json").read_text())
    assert log["settings"]["train"]["learning_rate"] == 1e-3, "the adapter in place is not the first run's"


def test_read_only_output_is_refused_before_any_model_is_loaded(cards):
    """`medassist train` into a directory it may not write: exit 2 with the reason, before the model loads."""
    parent = Path(tempfile.mkdtemp(prefix="medassist-readonly-"))
    try:
        parent.chmod(0o555)
        code, printed = call_as_nobody(cli.main, ["train", *train_args(cards, parent / "out")])
        assert code == 2, printed[-3000:]
        assert f"output directory {parent / 'out'} is not writable" in printed
        assert "trainable params" not in printed
        assert not (parent / "out").exists()
    finally:
        parent.chmod(0o755)
        parent.rmdir()


def test_too_little_disk_space_is_refused_before_the_first_step(cards, tmp_path, monkeypatch):
    """A real full disk can't be made portably; the check reads `shutil.disk_usage`, so report a full one."""
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=0))
    config = apply_overrides(load_profile("smoke"), [f"data.source={cards}", f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(TrainError, match=r"not enough free disk space for .*run: 0 MB free, but checkpoints"):
        train(config)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "adapter").exists()
