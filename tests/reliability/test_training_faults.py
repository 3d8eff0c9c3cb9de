"""Training under faults: SIGKILL at three points then --resume, and an unwritable or full output directory.

All runs use the smoke profile (the tiny random Llama on 32 sample cards): 16 optimizer steps over 2 epochs.
"""

from __future__ import annotations

import json
import signal
import tempfile
from pathlib import Path

import pytest

from medassist import cli
from medassist.config import apply_overrides, load_profile
from medassist.run_checks import TrainError
from medassist.train import train

from reliability.killpoints import KILL_POINTS, kill_then_resume, smoke_train_args, train_in_child
from reliability.unprivileged import call_as_nobody

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md", "training_log.json")
PLANNED_STEPS = 16


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_then_resume_finishes_the_plan_and_never_half_writes_the_adapter(point, tmp_path):
    output = tmp_path / "run"
    outcome = kill_then_resume(point, smoke_train_args(output), output)
    assert outcome["killed"], outcome["stderr"]
    assert not outcome["adapter_after_kill"], f"killed {KILL_POINTS[point]}, yet an adapter is in place"
    assert outcome["resumed"], outcome["stderr"]
    assert outcome["steps"] == outcome["planned_steps"] == PLANNED_STEPS
    assert set(outcome["files"]) >= set(ADAPTER_FILES)
    assert outcome["staging_left"] == [], "a half-staged adapter was left behind"


def test_kill_while_replacing_an_adapter_keeps_the_previous_one_whole(tmp_path):
    output = tmp_path / "run"
    first = train_in_child(smoke_train_args(output))
    assert first.returncode == 0, first.stderr[-3000:]
    weights = (output / "adapter" / "adapter_model.safetensors").read_bytes()

    again = [*smoke_train_args(output), "--set", "train.learning_rate=5e-3"]
    killed = train_in_child(again, "adapter-save")
    assert killed.returncode == -signal.SIGKILL
    assert (output / "adapter" / "adapter_model.safetensors").read_bytes() == weights
    log = json.loads((output / "adapter" / "training_log.json").read_text())
    assert log["settings"]["train"]["learning_rate"] == 1e-3, "the adapter in place is not the first run's"


def test_read_only_output_is_refused_before_any_model_is_loaded():
    """`medassist train` into a directory it may not write: exit 2 with the reason, before the model loads."""
    parent = Path(tempfile.mkdtemp(prefix="medassist-readonly-"))
    try:
        parent.chmod(0o555)
        code, printed = call_as_nobody(cli.main, ["train", *smoke_train_args(parent / "out")])
        assert code == 2, printed[-3000:]
        assert f"output directory {parent / 'out'} is not writable" in printed
        assert "trainable params" not in printed
        assert not (parent / "out").exists()
    finally:
        parent.chmod(0o755)
        parent.rmdir()


def test_too_little_disk_space_is_refused_before_the_first_step(tmp_path, monkeypatch):
    """A real full disk can't be made portably; the check reads `shutil.disk_usage`, so report a full one."""
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=0))
    config = apply_overrides(load_profile("smoke"), [f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(TrainError, match=r"not enough free disk space for .*run: 0 MB free, but checkpoints"):
        train(config)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "adapter").exists()
