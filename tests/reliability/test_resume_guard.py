"""`--resume` with changed settings is refused before any data or model is loaded, naming each changed field.

One real smoke run (tiny Llama, 24 cards, 2 optimizer steps, a checkpoint after each) is trained once and copied
for every case; a case then resumes it with other settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_jsonl
from medassist import train as train_module
from medassist.config import apply_overrides, load_profile
from medassist.run_checks import RUN_SETTINGS, TrainError, last_complete_checkpoint
from medassist.train import CHECKPOINT_DIR, train

ROOT = Path(__file__).resolve().parents[2]
ORGANS = ("heart", "liver", "kidney", "lung", "thyroid", "pancreas")


@pytest.fixture(scope="module")
def cards(tmp_path_factory) -> Path:
    rows = [{"instruction": "Answer this question truthfully",
             "input": f"What does the {ORGANS[i % 6]} do in case {i}?",
             "output": f"In case {i} the {ORGANS[i % 6]} regulates pathway {i * 7 % 31} and is checked yearly."}
            for i in range(24)]
    return write_jsonl(tmp_path_factory.mktemp("data") / "cards.jsonl", rows)


def settings(cards: Path, output: Path, *overrides: str) -> list[str]:
    return [f"data.source={cards}", f"output_dir={output}", "train.max_steps=2", "train.save_steps=1",
            "grounding.enabled=false", *overrides]


def smoke(cards: Path, output: Path, *overrides: str):
    return apply_overrides(load_profile("smoke"), settings(cards, output, *overrides))


@pytest.fixture(scope="module")
def trained_run(cards, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("template") / "run"
    train(smoke(cards, output))
    return output


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    """A copy of the trained run, to resume."""
    shutil.copytree(trained_run, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def nothing_loaded(monkeypatch):
    """Fail the test if train() gets as far as loading data or a model."""
    def loaded(*args, **kwargs):
        raise AssertionError("data or model loaded before the settings were compared")

    monkeypatch.setattr(train_module, "prepare", loaded)
    monkeypatch.setattr(train_module, "load_model", loaded)


def test_a_run_records_the_settings_its_checkpoints_depend_on(trained_run):
    recorded = json.loads((trained_run / CHECKPOINT_DIR / RUN_SETTINGS).read_text())
    assert set(recorded) == {"model", "data", "lora", "train", "grounding"}
    assert recorded["model"] == "tiny" and recorded["lora"]["r"] == 4 and recorded["data"]["seed"] == 42
    assert recorded["data"]["columns"] == {"question": "input", "answer": "output", "instruction": "instruction"}
    assert "save_steps" not in recorded["train"] and "logging_steps" not in recorded["train"]
    assert recorded["train"]["max_steps"] == 2 and recorded["grounding"]["enabled"] is False
    assert last_complete_checkpoint(trained_run / CHECKPOINT_DIR).endswith("checkpoint-2")


CHANGES = [
    ("lora.r=8", "lora.r: 4 -> 8"),
    ("lora.alpha=16", "lora.alpha: 8 -> 16"),
    ("lora.dropout=0.1", "lora.dropout: 0.05 -> 0.1"),
    ("lora.target_modules=[q_proj,v_proj]", 'lora.target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", '
                                            '"up_proj", "down_proj"] -> ["q_proj", "v_proj"]'),
    ("train.learning_rate=5e-4", "train.learning_rate: 0.001 -> 0.0005"),
    ("train.batch_size=2", "train.batch_size: 4 -> 2"),
    ("train.grad_accum=2", "train.grad_accum: 1 -> 2"),
    ("train.lr_scheduler=linear", 'train.lr_scheduler: "cosine" -> "linear"'),
    ("train.seed=7", "train.seed: 42 -> 7"),
    ("data.seed=7", "data.seed: 42 -> 7"),
    ("data.max_length=256", "data.max_length: 512 -> 256"),
    ("data.train_size=16", "data.train_size: 32 -> 16"),
    ("data.columns={question: input, answer: output}", 'data.columns.instruction: "instruction" -> null'),
    ("model=embedded", 'model: "tiny" -> "embedded"'),
    ("grounding.enabled=true", "grounding.enabled: false -> true"),
    ("grounding.k=5", "grounding.k: 3 -> 5"),
]


@pytest.mark.parametrize("override, expected", CHANGES, ids=[change[0] for change in CHANGES])
def test_resume_with_a_changed_setting_is_refused_before_loading(override, expected, cards, run, nothing_loaded):
    with pytest.raises(TrainError) as error:
        train(smoke(cards, run, override), resume=True)
    message = str(error.value)
    assert expected in message and "\n" not in message, message
    assert f"the checkpoints in {run / CHECKPOINT_DIR} were trained with other settings" in message


def test_a_changed_source_file_is_refused(cards, run, nothing_loaded, tmp_path):
    other = shutil.copy(cards, tmp_path / "other.jsonl")
    with pytest.raises(TrainError, match=f'data.source: "{cards}" -> "{other}"'):
        train(smoke(cards, run, f"data.source={other}"), resume=True)


def test_every_changed_setting_is_listed(cards, run, nothing_loaded):
    with pytest.raises(TrainError) as error:
        train(smoke(cards, run, "lora.r=8", "train.learning_rate=5e-4", "data.seed=1"), resume=True)
    assert all(text in str(error.value) for text in ("lora.r: 4 -> 8", "train.learning_rate: 0.001 -> 0.0005",
                                                      "data.seed: 42 -> 1"))


def test_an_unreadable_record_is_refused(cards, run, nothing_loaded):
    (run / CHECKPOINT_DIR / RUN_SETTINGS).write_text("{half a file")
    with pytest.raises(TrainError, match=f"{RUN_SETTINGS} cannot be read"):
        train(smoke(cards, run), resume=True)


def test_same_settings_and_other_save_or_logging_steps_resume(cards, run, capsys):
    result = train(smoke(cards, run, "train.max_steps=3", "train.save_steps=3", "train.logging_steps=2"), resume=True)
    assert (result.steps, result.planned_steps) == (3, 3)
    printed = capsys.readouterr().out
    assert f"resume from {run / CHECKPOINT_DIR / 'checkpoint-2'}" in printed
    assert "note: resuming with train.max_steps: 2 -> 3" in printed  # a longer run is allowed, and said
    assert json.loads((run / CHECKPOINT_DIR / RUN_SETTINGS).read_text())["train"]["max_steps"] == 3


def test_checkpoints_from_before_the_record_resume_with_a_note(cards, run, capsys):
    (run / CHECKPOINT_DIR / RUN_SETTINGS).unlink()
    result = train(smoke(cards, run, "train.max_steps=3"), resume=True)
    assert result.steps == 3 and "settings not compared" in capsys.readouterr().out
    assert (run / CHECKPOINT_DIR / RUN_SETTINGS).is_file()  # recorded from now on


def test_a_fresh_run_with_other_settings_replaces_the_record(cards, run):
    train(smoke(cards, run, "lora.r=8", "train.max_steps=1"))
    assert json.loads((run / CHECKPOINT_DIR / RUN_SETTINGS).read_text())["lora"]["r"] == 8


def test_resume_without_any_checkpoint_compares_nothing(cards, tmp_path, nothing_loaded):
    """No checkpoint to continue: --resume starts from scratch, so other settings are no conflict."""
    output = tmp_path / "run"
    (output / CHECKPOINT_DIR).mkdir(parents=True)
    (output / CHECKPOINT_DIR / RUN_SETTINGS).write_text(json.dumps({"lora": {"r": 99}}))
    with pytest.raises(AssertionError, match="data or model loaded"):
        train(smoke(cards, output), resume=True)


@pytest.mark.slow
def test_cli_resume_with_a_changed_setting_exits_2_with_one_line(cards, run):
    arguments = ["--profile", "smoke", "--resume", *(f"--set={item}" for item in settings(cards, run, "lora.r=8"))]
    done = subprocess.run([sys.executable, "-m", "medassist", "train", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "lora.r: 4 -> 8" in done.stderr, done.stderr
    assert done.stdout == ""  # refused before data, model or trainer said anything
