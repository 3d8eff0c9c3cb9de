"""Every setting is checked where it enters (--set, a config file, Config.from_dict): type, range, spelling.

One line names the setting and the value; nothing is loaded first. Also: settings that would train for 0
optimizer steps (train.epochs=0, train.max_steps=0) are refused before training.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from medassist import train as train_module
from medassist.config import (
    PROFILES, RULES, Config, ConfigError, apply_overrides, load_config, load_profile, validate,
)
from medassist.config_types import leaf_keys
from medassist.train import train

ROOT = Path(__file__).resolve().parents[2]


def refused(override: str) -> str:
    with pytest.raises(ConfigError) as error:
        apply_overrides(load_profile("smoke"), [override])
    message = str(error.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------------------- types

TYPE_ERRORS = [
    ("train.learning_rate=abc", "train.learning_rate must be a float, got 'abc'"),
    ("train.epochs=[1, 2]", "train.epochs must be a float, got [1, 2]"),
    ("lora.r=abc", "lora.r must be an int, got 'abc'"),
    ("lora.r=2.5", "lora.r must be an int, got 2.5"),
    ("lora.r=true", "lora.r must be an int, got True"),
    ("grounding.k=3.0", "grounding.k must be an int, got 3.0"),
    ("train.qlora=maybe", "train.qlora must be a bool (true or false), got 'maybe'"),
    ("grounding.enabled=1", "grounding.enabled must be a bool (true or false), got 1"),
    ("data.source=[a.json, 3]", "data.source must be a string or a list of strings, got ['a.json', 3]"),
    ("data.source={a: b}", "data.source must be a string or a list of strings, got {'a': 'b'}"),
    ("lora.target_modules=5", "lora.target_modules must be a list of strings, got 5"),
    ("lora.target_modules=[q_proj, 5]", "lora.target_modules must be a list of strings, got ['q_proj', 5]"),
    ("data.columns=[input, output]", "data.columns must be a mapping of strings to strings, got ['input', 'output']"),
    ("data.columns={question: 5}", "data.columns must be a mapping of strings to strings, got {'question': 5}"),
    ("serve.base=[a, b]", "serve.base must be a string or null, got ['a', 'b']"),
    ("model=[a, b]", "model must be a string, got ['a', 'b']"),
    ("train=5", "config section 'train' must be a mapping of its settings, got 5"),
]


@pytest.mark.parametrize("override, message", TYPE_ERRORS, ids=[t[0] for t in TYPE_ERRORS])
def test_a_value_of_the_wrong_type_is_named(override, message):
    assert refused(override) == message


def test_values_are_converted_to_the_field_type_where_that_loses_nothing():
    config = apply_overrides(load_profile("smoke"), [
        "train.learning_rate=2",  # a YAML int for a float
        "lora.dropout=0",
        "train.warmup_ratio=1e-2",  # YAML 1.1 reads 1e-2 as a string
        "lora.target_modules=q_proj",  # one module
        "model=2024",  # a text field keeps the text, not the number YAML reads
        "output_dir=yes",  # ... nor the bool
        "serve.base=null",
        "data.source=[a.jsonl, b.csv]",
        "data.columns.answer=reply",
        "train={epochs: 3}",  # a mapping for a section updates its fields
    ])
    assert config.train.learning_rate == 2.0 and isinstance(config.train.learning_rate, float)
    assert config.lora.dropout == 0.0 and config.train.warmup_ratio == 0.01
    assert config.lora.target_modules == ("q_proj",)
    assert (config.model, config.output_dir, config.serve.base) == ("2024", "yes", None)
    assert config.data.source == ["a.jsonl", "b.csv"] and config.data.columns["answer"] == "reply"
    assert config.train.epochs == 3.0 and config.train.learning_rate == 2.0  # the rest of the section kept


# ----------------------------------------------------------------------------------------- ranges

RANGE_ERRORS = [
    "train.epochs=0", "train.epochs=-1", "train.learning_rate=0", "train.learning_rate=-1e-4", "train.grad_accum=0",
    "train.batch_size=0", "train.max_steps=0", "train.max_steps=-5", "train.warmup_ratio=1", "train.warmup_ratio=-0.1",
    "train.weight_decay=-1", "train.save_steps=0", "train.logging_steps=0", "train.seed=-1", "train.precision=fp8",
    "train.gradient_checkpointing=sometimes", "train.lr_scheduler=cosin",
    "data.train_size=-1", "data.eval_size=-1", "data.max_length=0", "data.min_chars=-1", "data.source=''",
    "data.source=[]", "data.columns={query: input}", "data.columns={question: ''}",
    "lora.r=0", "lora.alpha=0", "lora.alpha=-8", "lora.dropout=1", "lora.dropout=-0.1", "lora.target_modules=[]",
    "eval.n_examples=0", "eval.batch_size=0", "eval.max_new_tokens=0", "eval.bootstrap_samples=0",
    "generation.temperature=-0.1", "generation.temperature=2.5", "generation.top_p=0", "generation.top_p=1.5",
    "generation.max_new_tokens=0", "generation.repetition_penalty=0",
    "grounding.k=0", "grounding.own_card_rate=-0.1", "grounding.own_card_rate=1.1", "grounding.knowledge_base=''",
    "serve.queue_size=0", "serve.max_message_chars=0", "serve.context_tokens=63", "serve.adapter=''", "serve.base=''",
    "model=''", "output_dir=' '",
]


@pytest.mark.parametrize("override", RANGE_ERRORS)
def test_a_value_out_of_range_is_named_with_what_is_allowed(override):
    key = override.split("=")[0]
    message = refused(override)
    assert message.startswith(f"{key} must be ") and ", got " in message, message


def test_the_range_messages_say_what_is_allowed():
    assert refused("train.epochs=0") == "train.epochs must be > 0, got 0.0"
    assert refused("train.max_steps=0") == "train.max_steps must be -1 (use train.epochs) or an int > 0, got 0"
    assert refused("generation.top_p=0") == "generation.top_p must be in (0, 1], got 0.0"
    assert refused("serve.context_tokens=10") == "serve.context_tokens must be an int >= 64, got 10"


def _float_keys() -> list[str]:
    config = Config()
    return [f"{section}.{name}" for section, values in config.to_dict().items() if isinstance(values, dict)
            for name, value in values.items() if isinstance(value, float)]


@pytest.mark.parametrize("key", _float_keys())
@pytest.mark.parametrize("value", [".nan", "nan", ".inf", "-.inf", "1e400"])
def test_nan_and_inf_are_refused_for_every_float(key, value):
    assert refused(f"{key}={value}").startswith(f"{key} must be a finite number, got ")


def test_there_are_float_settings_to_check():
    assert {"train.learning_rate", "generation.temperature", "grounding.min_score", "lora.dropout"} <= set(_float_keys())


BOUNDARIES = ["data.eval_size=0", "data.train_size=0", "train.warmup_ratio=0", "lora.dropout=0", "train.max_steps=-1",
              "train.max_steps=1", "generation.temperature=0", "generation.temperature=2", "generation.top_p=1",
              "grounding.own_card_rate=0", "grounding.own_card_rate=1", "serve.context_tokens=64",
              "grounding.min_score=-1.5", "train.epochs=0.01", "lora.r=1", "train.lr_scheduler=constant"]


@pytest.mark.parametrize("override", BOUNDARIES)
def test_values_at_the_edge_of_their_range_are_accepted(override):
    apply_overrides(load_profile("smoke"), [override])


def test_every_range_rule_names_a_real_setting():
    assert set(RULES) <= set(leaf_keys(Config))


def test_every_profile_and_the_defaults_are_valid():
    for name in PROFILES:
        assert validate(load_profile(name)) == PROFILES[name]
    assert validate(Config()) == Config()


def test_a_config_built_in_code_is_checked_by_validate():
    config = load_profile("smoke")
    with pytest.raises(ConfigError, match="lora.alpha must be > 0"):
        validate(replace(config, lora=replace(config.lora, alpha=0)))
    with pytest.raises(ConfigError, match="train.learning_rate must be a float, got 'fast'"):
        validate(replace(config, train=replace(config.train, learning_rate="fast")))


# ----------------------------------------------------------------------------------------- keys

SPELLING = [
    ("train.learnig_rate=1e-4", "unknown config key 'train.learnig_rate'; did you mean 'train.learning_rate'?"),
    ("learning_rate=1e-4", "unknown config key 'learning_rate'; did you mean 'train.learning_rate'?"),
    ("lora.rank=8", "unknown config key 'lora.rank'"),
    ("train.max_new_tokens=8", "did you mean 'eval.max_new_tokens' or 'generation.max_new_tokens'?"),
    ("trian.epochs=3", "unknown config section 'trian'; did you mean 'train.epochs'?"),
    ("grounding.own_card=0.5", "did you mean 'grounding.own_card_rate'?"),
    ("serve.queue=4", "did you mean 'serve.queue_size'?"),
]


@pytest.mark.parametrize("override, message", SPELLING, ids=[s[0] for s in SPELLING])
def test_a_misspelled_key_gets_a_suggestion(override, message):
    assert message in refused(override)


def test_config_files_go_through_the_same_checks(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  learning_rate: 2e-4\n  epochs: 1\nlora:\n  target_modules: [q_proj, v_proj]\n")
    config = load_config(path)
    assert config.train.learning_rate == 2e-4 and config.lora.target_modules == ("q_proj", "v_proj")
    cases = {
        "typo.json": ('{"train": {"epochz": 3}}', "unknown config key 'train.epochz'; did you mean 'train.epochs'?"),
        "type.json": ('{"lora": {"r": "8"}}', "lora.r must be an int, got '8'"),
        "range.yaml": ("generation:\n  temperature: 9\n", "generation.temperature must be in [0, 2] (0 is greedy), got 9.0"),
        "nan.yaml": ("train:\n  learning_rate: .nan\n", "train.learning_rate must be a finite number, got nan"),
        "section.yaml": ("train:\n", "config section 'train' must be a mapping of its settings, got None"),
        "syntax.yaml": ("train: [1\n", "could not be parsed: expected ',' or ']'"),
        "syntax.json": ('{"train": ', "could not be parsed: Expecting value"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError) as error:
            load_config(tmp_path / name)
        assert message in str(error.value) and "\n" not in str(error.value), (name, str(error.value))


def test_from_dict_checks_what_it_is_given():
    with pytest.raises(ConfigError, match="unknown config key 'epochs'; did you mean 'train.epochs'"):
        Config.from_dict({"epochs": 3})
    with pytest.raises(ConfigError, match="a config must be a mapping"):
        Config.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"override 'train.epochs=\[1': the value is not valid YAML"):
        apply_overrides(Config(), ["train.epochs=[1"])


# ----------------------------------------------------------------------------------------- where it runs


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medassist", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_the_cli_builds_and_checks_the_config_without_importing_torch():
    """Nothing heavy runs before the check: the config is built from the arguments with yaml alone."""
    code = ("import sys, time; t = time.perf_counter()\n"
            "from medassist.cli import build_parser, config_from_args\n"
            "args = build_parser().parse_args(['train', '--set', 'train.learning_rate=abc'])\n"
            "try:\n    config_from_args(args)\nexcept ValueError as error:\n    print(error)\n"
            "print('torch' in sys.modules, round(time.perf_counter() - t, 2))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    message, torch_imported, seconds = done.stdout.splitlines()[0], *done.stdout.split()[-2:]
    assert message == "train.learning_rate must be a float, got 'abc'"
    assert torch_imported == "False" and float(seconds) < 2, done.stdout


@pytest.mark.slow
def test_medassist_train_with_a_bad_value_exits_2_with_one_line(tmp_path):
    done = run_cli("train", "--profile", "smoke", "--output", str(tmp_path / "run"), "--set", "train.learning_rate=abc")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "medassist train: error: train.learning_rate must be a float, got 'abc'\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_web_app_with_a_bad_environment_value_exits_with_one_clear_line():
    env = {**os.environ, "MEDASSIST_TEMPERATURE": "abc", "MEDASSIST_QUEUE_SIZE": "4"}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "MedAssist cannot start: generation.temperature must be a float, got 'abc'"


# ----------------------------------------------------------------------------------------- zero optimizer steps


@pytest.mark.slow
@pytest.mark.parametrize("override", ["train.epochs=0", "train.max_steps=0"])
def test_settings_for_zero_optimizer_steps_are_refused_before_training(override, tmp_path):
    done = run_cli("train", "--profile", "smoke", "--output", str(tmp_path / "run"), "--set", override)
    assert done.returncode == 2 and done.stderr.startswith(f"medassist train: error: {override.split('=')[0]} must be")
    assert not (tmp_path / "run" / "adapter").exists()


def test_train_refuses_a_config_built_in_code_with_zero_epochs(tmp_path, monkeypatch):
    def loaded(*args, **kwargs):
        raise AssertionError("data loaded before the settings were checked")

    monkeypatch.setattr(train_module, "prepare", loaded)
    config = apply_overrides(load_profile("smoke"), [f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match="train.epochs must be > 0, got 0"):
        train(replace(config, train=replace(config.train, epochs=0)))
    assert not (tmp_path / "run" / "adapter").exists()
    assert math.isfinite(config.train.learning_rate) and json.dumps(config.to_dict())
