"""LoRA fine-tuning with TRL's SFTTrainer: one function for a 2-core CPU, a Kaggle T4 and torchrun DDP.

What makes it fast and safe:
- Examples are tokenised once by `prompts.encode` (input_ids + completion_mask). TRL sees an `input_ids`
  column, skips its own tokenisation and, with `completion_only_loss=True`, turns the mask into labels of
  -100 on prompt tokens, so train and eval loss cover answer tokens only.
- Batches are padding-free: the examples of a batch are concatenated into one row, `position_ids` restart at 0
  for each and TRL's collator adds the example bounds (`cu_seq_lens_q`). `packed_sdpa_attention` runs causal
  SDPA example by example from those bounds: no pad tokens, and no attention computed across examples (a
  block-diagonal mask over the whole row would compute, then discard, most of an L x L score matrix).
- `AnswerOnlySFTTrainer` projects only the positions that predict answer tokens through the LM head
  (medassist.packing, with the per-example attention above).
- Precision and gradient checkpointing follow the device: fp32 and no checkpointing on CPU, fp16 with
  checkpointing on CUDA. TRL's bf16 default is always overridden.
- Checkpoints go to {output_dir}/checkpoints for `resume=True` (an incomplete one, cut by a kill, is skipped);
  the adapter is staged and swapped into {output_dir}/adapter by rank 0 only (medassist.artefacts), so no
  reader ever sees half an adapter.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import time
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback
from trl import SFTConfig

from .artefacts import TrainResult, write_adapter
from .config import ANSWER, QUESTION, Config
from .data import Splits, prepare, report
from .files import write_text
from .grounding import raft_rows
from .lora import build_lora_config
from .models import count_parameters, load_base, pick_device, pick_dtype, resolve_source
from .packing import AnswerOnlySFTTrainer, use_packed_attention
from .prompts import encode
from .retrieval import KnowledgeBase
from .run_checks import (CHECKPOINTS_KEPT, RUN_SETTINGS, TrainError, check_free_space, check_output_dir,
                         check_run_settings, last_complete_checkpoint)

CHECKPOINT_DIR = "checkpoints"


# ----------------------------------------------------------------------------------------- data


def encode_dataset(tokenizer: PreTrainedTokenizerBase, rows: list[dict[str, str]], max_length: int):
    """A `datasets.Dataset` of input_ids + completion_mask, tokenised once here (TRL skips re-tokenising)."""
    from datasets import Dataset

    encoded = [encode(tokenizer, row, max_length) for row in rows]
    return Dataset.from_dict(
        {"input_ids": [e.input_ids for e in encoded], "completion_mask": [e.completion_mask for e in encoded]}
    )


def grounded_splits(splits: Splits, config: Config) -> Splits:
    """RAFT rows (medassist.grounding): sources retrieved from the knowledge base plus the training data itself."""
    served = KnowledgeBase.load(config.grounding.knowledge_base).cards
    kb = KnowledgeBase.from_cards(served + [(row[QUESTION], row[ANSWER]) for row in splits.train + splits.eval])
    return Splits(train=raft_rows(splits.train, kb, config.grounding, config.data.seed),
                  eval=raft_rows(splits.eval, kb, config.grounding, config.data.seed + 1), counts=splits.counts)


# ----------------------------------------------------------------------------------------- settings


def use_gradient_checkpointing(setting: str, device: torch.device) -> bool:
    """Checkpointing trades ~30% more compute for activation memory: worth it on a 16 GB T4, not on CPU RAM."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"train.gradient_checkpointing must be auto, on or off, got '{setting}'")
    return setting == "on" or (setting == "auto" and device.type == "cuda")


def world() -> tuple[int, int]:
    """(rank, world size) from the torchrun environment."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


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
        if world_size > 1:
            print(f"[rank {rank}/{world_size}] finished at step {state.global_step}/{state.max_steps}", flush=True)


def memory_snapshot(device: torch.device) -> dict[str, float]:
    if device.type == "cuda":
        return {
            "cuda_allocated_mb": round(torch.cuda.memory_allocated() / 2**20, 1),
            "cuda_reserved_mb": round(torch.cuda.memory_reserved() / 2**20, 1),
        }
    import psutil

    return {"rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}


# ----------------------------------------------------------------------------------------- model


def load_model(config: Config, device: torch.device, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base model in the training dtype with per-example packed attention; with `train.qlora`, 4-bit NF4 weights."""
    if not config.train.qlora:
        model, tokenizer = load_base(config.model, device=device, dtype=dtype)
    else:
        model, tokenizer = _load_4bit(config, device, dtype)
    model.config.use_cache = False  # training needs no KV cache, and one would hide packed-row bounds from the mask
    return use_packed_attention(model), tokenizer


def _load_4bit(config: Config, device: torch.device, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
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
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=use_gradient_checkpointing(config.train.gradient_checkpointing, device)
    )
    return model, load_tokenizer(config.model)


# ----------------------------------------------------------------------------------------- training


def sft_config(config: Config, device: torch.device, dtype: torch.dtype, checkpoints: Path, evaluate: bool = True) -> SFTConfig:
    """SFTConfig from our Config; precision set explicitly (TRL would otherwise default to bf16)."""
    if not 0 <= config.train.warmup_ratio < 1:
        raise TrainError(f"train.warmup_ratio must be in [0, 1), got {config.train.warmup_ratio}")
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
        activation_checkpointing=gradient_checkpointing,  # transformers 5 name of gradient_checkpointing
        activation_checkpointing_kwargs={"use_reentrant": False} if gradient_checkpointing else None,
        padding_free=True,
        max_length=None,  # encode() already truncated to data.max_length
        completion_only_loss=True,  # a pre-tokenised dataset would otherwise train on prompt tokens too
        prediction_loss_only=True,  # eval needs the loss only, not the logits gathered over the eval set
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="steps",
        save_steps=config.train.save_steps,
        save_total_limit=CHECKPOINTS_KEPT,
        logging_steps=config.train.logging_steps,
        logging_nan_inf_filter=False,  # a NaN must reach the NonFiniteLossStop callback
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=device.type == "cpu",
    )


def build_trainer(
    config: Config,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_set,
    eval_set,
    device: torch.device,
    dtype: torch.dtype,
    callbacks: list[TrainerCallback] | tuple[TrainerCallback, ...] = (),
) -> AnswerOnlySFTTrainer:
    """The trainer `train` runs (the throughput benchmark times the same object)."""
    args = sft_config(config, device, dtype, Path(config.output_dir) / CHECKPOINT_DIR, evaluate=eval_set is not None)
    return AnswerOnlySFTTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        peft_config=build_lora_config(config.lora),
        callbacks=list(callbacks),
    )


def train(config: Config, resume: bool = False) -> TrainResult:
    """Fine-tune `config.model` with LoRA on `config.data` and write {output_dir}/adapter."""
    started = time.perf_counter()
    output_dir = Path(config.output_dir)
    adapter_dir = check_output_dir(output_dir)
    checkpoints = output_dir / CHECKPOINT_DIR
    rank, world_size = world()
    run_settings = check_run_settings(config, checkpoints, resume)  # before any data or model is loaded

    splits: Splits = prepare(config.data)
    if not splits.train:
        raise TrainError(f"{config.data.source}: no training rows after cleaning and splitting")
    if config.grounding.enabled:
        splits = grounded_splits(splits, config)
    device = pick_device()
    dtype = pick_dtype(device, config.train.precision)
    if device.type == "cpu" and dtype != torch.float32:
        print(f"note: {dtype} on CPU is much slower than fp32 on most CPUs")
    memory_before = memory_snapshot(device)
    model, tokenizer = load_model(config, device, dtype)
    train_set = encode_dataset(tokenizer, splits.train, config.data.max_length)
    eval_set = encode_dataset(tokenizer, splits.eval, config.data.max_length) if splits.eval else None

    nan_stop = NonFiniteLossStop()
    trainer = build_trainer(config, model, tokenizer, train_set, eval_set, device, dtype, [nan_stop, RankReport()])
    resume_from = last_complete_checkpoint(checkpoints) if resume else None
    if resume and resume_from is None:
        print(f"no checkpoint in {checkpoints}: starting from scratch")
    if not resume:
        with trainer.args.main_process_first(desc="clearing old checkpoints"):
            if rank == 0 and checkpoints.exists():
                shutil.rmtree(checkpoints)  # a fresh run must not resume into, or mix with, an older one
    trainable, total = count_parameters(trainer.model)
    check_free_space(output_dir, trainable)  # before anything is written: a refused run leaves no checkpoints folder
    if rank == 0:
        write_text(checkpoints / RUN_SETTINGS, run_settings)
    if rank == 0:
        print(
            f"trainable params: {trainable:,} || all params: {total:,} || trainable%: {100 * trainable / total:.4f}\n"
            f"train {len(train_set)} / eval {len(eval_set or [])} examples on {device.type} ({dtype}), "
            f"world size {world_size}, resume from {resume_from or 'scratch'}",
            flush=True,
        )

    try:
        output = trainer.train(resume_from_checkpoint=resume_from)
    except pickle.UnpicklingError as error:
        if resume_from is None:
            raise
        raise TrainError(
            f"checkpoint {resume_from} holds a file that is not plain tensors (it may carry code), so it was not "
            f"loaded. Delete {resume_from} to resume from the checkpoint before it, or train without --resume"
        ) from error
    if nan_stop.bad_step is not None:
        raise TrainError(
            f"loss became NaN/inf at step {nan_stop.bad_step}: training stopped without writing an adapter. "
            f"Last good checkpoint: {last_complete_checkpoint(checkpoints) or 'none'}. Lower train.learning_rate "
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
        print(f"wrote {adapter_dir}", flush=True)
    trainer.accelerator.wait_for_everyone()  # every rank returns once the adapter is in place
    return result


