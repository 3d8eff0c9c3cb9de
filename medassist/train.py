"""LoRA fine-tuning with TRL's SFTTrainer: one function for a 2-core CPU, a Kaggle T4 and torchrun DDP.

What makes it fast and safe:
- Examples are tokenised once by `prompts.encode` (input_ids + completion_mask). TRL sees an `input_ids`
  column, skips its own tokenisation and, with `completion_only_loss=True`, turns the mask into labels of
  -100 on prompt tokens, so train and eval loss cover answer tokens only.
- Batches are padding-free: examples are concatenated into one row and `position_ids` restart at 0 for each,
  from which transformers builds a block-diagonal causal mask (no attention across examples, no pad tokens).
- Precision and gradient checkpointing follow the device: fp32 and no checkpointing on CPU, fp16 with
  checkpointing on CUDA. TRL's bf16 default is always overridden.
- Checkpoints go to {output_dir}/checkpoints for `resume=True`; the adapter is staged in a temporary
  directory and renamed into {output_dir}/adapter by rank 0 only, so no reader ever sees half an adapter.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback

from .config import Config, LoraSettings
from .data import Splits, prepare, report
from .models import count_parameters, load_base, pick_device, pick_dtype, resolve_source
from .prompts import encode

ADAPTER_DIR = "adapter"
CHECKPOINT_DIR = "checkpoints"
ADAPTER_MARKER = "adapter_config.json"


class TrainError(ValueError):
    """Training cannot start or did not finish cleanly; the message says why and what to do."""


@dataclass
class TrainResult:
    adapter_dir: str
    train_loss: float | None
    eval_loss: float | None
    steps: int
    planned_steps: int
    seconds: float
    trainable_params: int
    total_params: int
    log_history: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- LoRA size


def lora_parameter_count(
    hidden_size: int,
    intermediate_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    r: int,
    target_modules: tuple[str, ...] | list[str],
    head_dim: int | None = None,
) -> int:
    """Trainable LoRA parameters of a Llama-family model: each adapted (in -> out) linear adds r * (in + out)."""
    head_dim = head_dim or hidden_size // num_heads
    shapes = {
        "q_proj": (hidden_size, num_heads * head_dim),
        "k_proj": (hidden_size, num_kv_heads * head_dim),
        "v_proj": (hidden_size, num_kv_heads * head_dim),
        "o_proj": (num_heads * head_dim, hidden_size),
        "gate_proj": (hidden_size, intermediate_size),
        "up_proj": (hidden_size, intermediate_size),
        "down_proj": (intermediate_size, hidden_size),
    }
    unknown = set(target_modules) - set(shapes)
    if unknown:
        raise ValueError(f"no shape rule for LoRA target module(s) {sorted(unknown)}")
    per_layer = sum(r * (shapes[name][0] + shapes[name][1]) for name in target_modules)
    return per_layer * num_layers


def lora_parameter_count_for(model_config: Any, lora: LoraSettings) -> int:
    """`lora_parameter_count` read off a transformers Llama-style config."""
    return lora_parameter_count(
        hidden_size=model_config.hidden_size,
        intermediate_size=model_config.intermediate_size,
        num_layers=model_config.num_hidden_layers,
        num_heads=model_config.num_attention_heads,
        num_kv_heads=getattr(model_config, "num_key_value_heads", None) or model_config.num_attention_heads,
        r=lora.r,
        target_modules=lora.target_modules,
        head_dim=getattr(model_config, "head_dim", None),
    )


def build_lora_config(lora: LoraSettings, base_model: str):
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
        base_model_name_or_path=base_model,
    )


# ----------------------------------------------------------------------------------------- data


def encode_dataset(tokenizer: PreTrainedTokenizerBase, rows: list[dict[str, str]], max_length: int):
    """A `datasets.Dataset` of input_ids + completion_mask, tokenised once here (TRL skips re-tokenising)."""
    from datasets import Dataset

    encoded = [encode(tokenizer, row, max_length) for row in rows]
    return Dataset.from_dict(
        {"input_ids": [e.input_ids for e in encoded], "completion_mask": [e.completion_mask for e in encoded]}
    )


# ----------------------------------------------------------------------------------------- settings


def use_gradient_checkpointing(setting: str, device: torch.device) -> bool:
    """Checkpointing trades ~30% more compute for activation memory: worth it on a 16 GB T4, not on CPU RAM."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"train.gradient_checkpointing must be auto, on or off, got '{setting}'")
    return setting == "on" or (setting == "auto" and device.type == "cuda")


def planned_steps(n_train: int, config: Config, world_size: int = 1) -> int:
    """Optimizer steps the Trainer will run (it rounds the last partial accumulation up)."""
    if config.train.max_steps > 0:
        return config.train.max_steps
    batches = math.ceil(n_train / (config.train.batch_size * world_size))
    per_epoch = max(math.ceil(batches / config.train.grad_accum), 1)
    return math.ceil(config.train.epochs * per_epoch)


def world() -> tuple[int, int]:
    """(rank, world size) from the torchrun environment."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# ----------------------------------------------------------------------------------------- output checks


def check_output_dir(output_dir: Path) -> Path:
    """Fail before training if the adapter cannot be written, or would overwrite something that isn't one."""
    adapter_dir = output_dir / ADAPTER_DIR
    if output_dir.exists() and not output_dir.is_dir():
        raise TrainError(f"output directory {output_dir} exists and is not a directory")
    if adapter_dir.exists():
        if not adapter_dir.is_dir():
            raise TrainError(f"{adapter_dir} exists and is a file, not an adapter directory; move it away or pick another --output")
        if any(adapter_dir.iterdir()) and not (adapter_dir / ADAPTER_MARKER).is_file():
            raise TrainError(
                f"{adapter_dir} holds files that are not a PEFT adapter (no {ADAPTER_MARKER}); "
                "refusing to replace it: move it away or pick another --output"
            )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".write-test-"):
            pass
    except OSError as error:
        raise TrainError(f"output directory {output_dir} is not writable: {error}") from error
    return adapter_dir


# ----------------------------------------------------------------------------------------- callbacks


class NonFiniteLossStop(TrainerCallback):
    """Stop at the first NaN/inf loss or weight, before that state can be saved as a checkpoint."""

    def __init__(self) -> None:
        self.bad_step: int | None = None

    def _stop(self, state, control) -> None:
        if self.bad_step is None:
            self.bad_step = state.global_step
        control.should_save = False
        control.should_evaluate = False
        control.should_training_stop = True

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None and any(
            not torch.isfinite(p).all() for p in model.parameters() if p.requires_grad
        ):
            self._stop(state, control)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self._stop(state, control)
        return control


class RankReport(TrainerCallback):
    """One line per rank at the end, so a DDP run shows every process trained."""

    def on_train_end(self, args, state, control, **kwargs):
        rank, world_size = world()
        print(f"[rank {rank}/{world_size}] finished at step {state.global_step}/{state.max_steps}", flush=True)


# ----------------------------------------------------------------------------------------- memory, card, curve


def memory_snapshot(device: torch.device) -> dict[str, float]:
    if device.type == "cuda":
        return {
            "cuda_allocated_mb": round(torch.cuda.memory_allocated() / 2**20, 1),
            "cuda_reserved_mb": round(torch.cuda.memory_reserved() / 2**20, 1),
        }
    import psutil

    return {"rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}


def write_model_card(
    adapter_dir: str | Path,
    base_model: str,
    data_source: str,
    data_counts: dict[str, Any],
    settings: dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> Path:
    """README.md for the adapter; evaluation calls it again with `metrics` to add its results."""
    lora, train = settings.get("lora", {}), settings.get("train", {})
    lines = [
        "---",
        f"base_model: {base_model}",
        "library_name: peft",
        "tags: [lora, medical, question-answering]",
        "---",
        "",
        f"# LoRA adapter for {base_model}: medical flashcard Q&A",
        "",
        "Educational use only: this model is not a source of medical advice.",
        "",
        "## Data",
        f"- source: `{data_source}`",
        *(f"- {key}: {value}" for key, value in data_counts.items() if not isinstance(value, dict)),
        "",
        "## Settings",
        f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, "
        f"modules={', '.join(lora.get('target_modules', []))}",
        f"- training: epochs={train.get('epochs')}, max_steps={train.get('max_steps')}, batch_size={train.get('batch_size')}, "
        f"grad_accum={train.get('grad_accum')}, lr={train.get('learning_rate')} ({train.get('lr_scheduler')}, "
        f"warmup {train.get('warmup_ratio')}), seed={train.get('seed')}",
        f"- max_length: {settings.get('data', {}).get('max_length')} tokens; loss on answer tokens only",
        "",
        "## Metrics",
    ]
    lines += [f"- {key}: {value}" for key, value in (metrics or {}).items()] or ["- not measured yet"]
    lines += ["", "## Use", "```", f"medassist chat --adapter {Path(adapter_dir)}", "```", ""]
    path = Path(adapter_dir) / "README.md"
    staging = path.with_suffix(".md.tmp")
    staging.write_text("\n".join(lines))
    os.replace(staging, path)
    return path


def plot_loss_curve(log_history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    figure, axis = plt.subplots(figsize=(6, 4))
    if train:
        axis.plot(*zip(*train), label="train loss", marker=".")
    if evals:
        axis.plot(*zip(*evals), label="eval loss", marker="o")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("answer-token cross-entropy")
    axis.set_title("LoRA fine-tuning")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# ----------------------------------------------------------------------------------------- model


def load_model(config: Config, device: torch.device, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base model in the training dtype; with `train.qlora`, 4-bit NF4 weights (CUDA + bitsandbytes only)."""
    if not config.train.qlora:
        model, tokenizer = load_base(config.model, device=device, dtype=dtype)
        model.config.use_cache = False  # a KV cache would hide the packed-sequence boundaries from the mask
        return model, tokenizer
    if device.type != "cuda":
        raise TrainError("train.qlora needs a CUDA GPU (4-bit bitsandbytes kernels); set train.qlora=false on CPU")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise TrainError("train.qlora needs bitsandbytes: pip install bitsandbytes, or set train.qlora=false") from error
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from .models import load_tokenizer

    quantization = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
    )
    model = AutoModelForCausalLM.from_pretrained(
        resolve_source(config.model), quantization_config=quantization, dtype=dtype, device_map={"": device.index or 0}
    )
    model.config.use_cache = False
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=use_gradient_checkpointing(config.train.gradient_checkpointing, device)
    )
    return model, load_tokenizer(config.model)


# ----------------------------------------------------------------------------------------- training


def sft_config(config: Config, device: torch.device, dtype: torch.dtype, checkpoints: Path):
    """SFTConfig from our Config; precision set explicitly (TRL would otherwise default to bf16)."""
    from trl import SFTConfig

    gradient_checkpointing = use_gradient_checkpointing(config.train.gradient_checkpointing, device)
    return SFTConfig(
        output_dir=str(checkpoints),
        per_device_train_batch_size=config.train.batch_size,
        per_device_eval_batch_size=config.train.batch_size,
        gradient_accumulation_steps=config.train.grad_accum,
        num_train_epochs=config.train.epochs,
        max_steps=config.train.max_steps,
        learning_rate=config.train.learning_rate,
        lr_scheduler_type=config.train.lr_scheduler,
        warmup_steps=config.train.warmup_ratio,  # transformers 5: a value < 1 is a ratio of total steps
        weight_decay=config.train.weight_decay,
        optim="adamw_torch",
        seed=config.train.seed,
        data_seed=config.train.seed,
        fp16=dtype == torch.float16,
        bf16=dtype == torch.bfloat16,
        gradient_checkpointing=gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        padding_free=True,
        max_length=None,  # encode() already truncated to data.max_length
        completion_only_loss=True,  # a pre-tokenised dataset would otherwise train on prompt tokens too
        eval_strategy="epoch",
        save_strategy="steps",
        save_steps=config.train.save_steps,
        save_total_limit=2,
        logging_steps=config.train.logging_steps,
        logging_nan_inf_filter=False,  # a NaN must reach the NonFiniteLossStop callback
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=device.type == "cpu",
    )


def _last_checkpoint(checkpoints: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None


def train(config: Config, resume: bool = False) -> TrainResult:
    """Fine-tune `config.model` with LoRA on `config.data` and write {output_dir}/adapter."""
    from trl import SFTTrainer

    started = time.perf_counter()
    output_dir = Path(config.output_dir)
    adapter_dir = check_output_dir(output_dir)
    checkpoints = output_dir / CHECKPOINT_DIR
    rank, world_size = world()

    splits: Splits = prepare(config.data)
    if not splits.train:
        raise TrainError(f"{config.data.source}: no training rows after cleaning and splitting")
    device = pick_device()
    dtype = pick_dtype(device, config.train.precision)
    if device.type == "cpu" and dtype != torch.float32:
        print(f"note: {dtype} on CPU is much slower than fp32 on most CPUs")
    memory_before = memory_snapshot(device)
    model, tokenizer = load_model(config, device, dtype)
    train_set = encode_dataset(tokenizer, splits.train, config.data.max_length)
    eval_set = encode_dataset(tokenizer, splits.eval, config.data.max_length) if splits.eval else None

    args = sft_config(config, device, dtype, checkpoints)
    if not eval_set:
        args.eval_strategy = "no"
    resume_from = _last_checkpoint(checkpoints) if resume else None
    if resume and resume_from is None:
        print(f"no checkpoint in {checkpoints}: starting from scratch")
    if not resume:
        with args.main_process_first(desc="clearing old checkpoints"):
            if rank == 0 and checkpoints.exists():
                shutil.rmtree(checkpoints)  # a fresh run must not resume into, or mix with, an older one

    nan_stop = NonFiniteLossStop()
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        peft_config=build_lora_config(config.lora, config.model),
        callbacks=[nan_stop, RankReport()],
    )
    trainable, total = count_parameters(trainer.model)
    if rank == 0:
        print(
            f"trainable params: {trainable:,} || all params: {total:,} || trainable%: {100 * trainable / total:.4f}\n"
            f"train {len(train_set)} / eval {len(eval_set or [])} examples on {device.type} ({dtype}), "
            f"world size {world_size}, resume from {resume_from or 'scratch'}",
            flush=True,
        )

    output = trainer.train(resume_from_checkpoint=resume_from)
    if nan_stop.bad_step is not None:
        raise TrainError(
            f"loss became NaN/inf at step {nan_stop.bad_step}: training stopped without writing an adapter. "
            f"Last good checkpoint: {_last_checkpoint(checkpoints) or 'none'}. Lower train.learning_rate "
            f"(now {config.train.learning_rate}) or check precision (fp16 overflow) and resume or restart."
        )
    history = trainer.state.log_history
    if eval_set and not any(e.get("step") == trainer.state.global_step and "eval_loss" in e for e in history):
        trainer.evaluate()  # max_steps can end mid-epoch: always report an eval loss for the final weights
        history = trainer.state.log_history
    eval_losses = [e["eval_loss"] for e in history if "eval_loss" in e]
    train_losses = [e["loss"] for e in history if "loss" in e]
    result = TrainResult(
        adapter_dir=str(adapter_dir),
        train_loss=train_losses[-1] if train_losses else output.training_loss,
        eval_loss=eval_losses[-1] if eval_losses else None,
        steps=trainer.state.global_step,
        planned_steps=trainer.state.max_steps,
        seconds=round(time.perf_counter() - started, 1),
        trainable_params=trainable,
        total_params=total,
        log_history=history,
    )
    if trainer.is_world_process_zero():
        data_stats = report(splits)
        write_adapter(trainer, tokenizer, config, result, adapter_dir, data_stats, memory_before, memory_snapshot(device))
    return result


def write_adapter(
    trainer,
    tokenizer: PreTrainedTokenizerBase,
    config: Config,
    result: TrainResult,
    adapter_dir: Path,
    data_stats: dict[str, Any],
    memory_before: dict[str, float],
    memory_after: dict[str, float],
) -> None:
    """Stage adapter, tokenizer, card, log and curve in a temp dir beside the destination, then swap it in."""
    staging = Path(tempfile.mkdtemp(prefix=".adapter-", dir=adapter_dir.parent))
    try:
        trainer.model.peft_config["default"].base_model_name_or_path = config.model
        trainer.model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        counts = {k: v for k, v in data_stats.items() if isinstance(v, int)}
        metrics = {"final_train_loss": result.train_loss, "eval_loss": result.eval_loss}
        write_model_card(staging, config.model, config.data.source, counts, config.to_dict(), metrics)
        log = {
            "seconds": result.seconds,
            "steps": result.steps,
            "planned_steps": result.planned_steps,
            "train_loss": result.train_loss,
            "eval_loss": result.eval_loss,
            "trainable_params": result.trainable_params,
            "total_params": result.total_params,
            "settings": config.to_dict(),
            "data": data_stats,
            "memory_before": memory_before,
            "memory_after": memory_after,
            "log_history": result.log_history,
        }
        (staging / "training_log.json").write_text(json.dumps(log, indent=2))
        plot_loss_curve(result.log_history, staging / "loss_curve.png")
        old = None
        if adapter_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=".adapter-old-", dir=adapter_dir.parent))
            os.replace(adapter_dir, old / ADAPTER_DIR)
        os.replace(staging, adapter_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
