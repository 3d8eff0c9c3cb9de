"""Training throughput on CPU: the baseline configuration (the original notebook's) vs ours vs the GEMM ceiling, measured side by side.

(a) seed: full-sequence loss, gradient checkpointing, random batch order, dynamic padding (TRL's defaults).
(b) ours: `medassist.train.build_trainer`, the object `medassist train` runs (padding-free rows with
    per-example attention, answer-only loss and LM head, no checkpointing on CPU).
(c) ceiling: fp32 matmul GFLOP/s measured on the model's own GEMM shapes, divided by 4 x parameters per token.

Both trainers run the real `Trainer.train()` on the embedded model and the cpu profile (batch size 8) with the
same seeds, so they see the same batches. Other processes may share the cores, and a second busy process slows
the many small parallel regions of a training step far more than a few large GEMMs, so the three are measured in
interleaved rounds and each figure is its best round (the least disturbed one); every round is printed too.

    .venv/bin/python bench/train_throughput.py [--rounds 4] [--steps 2] [--threads 2] [--set lora.dropout=0]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from trl import SFTConfig, SFTTrainer

from medassist.config import SAMPLE_FLASHCARDS, apply_overrides, load_profile
from medassist.data import prepare
from medassist.models import count_parameters, load_base
from medassist.lora import build_lora_config
from medassist.train import build_trainer, encode_dataset, load_model
from record import command_line, write_result

FALLBACK_DATA = ROOT.parent / "shared" / "data" / "medical_meadow_wikidoc_patient_information.json"
CPU, FP32 = torch.device("cpu"), torch.float32


class StepClock(TrainerCallback):
    """Seconds and non-pad input tokens of each `train()` call, from the end of its first step to the end of its last.

    The first step of a call carries its set-up (optimizer, dataloader), so it is left out.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[float, int]] = []
        self._mark: tuple[float, int] | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark = None
        self.blocks.append((0.0, 0))

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        if self._mark is not None:
            seconds, tokens = self.blocks[-1]
            self.blocks[-1] = (seconds + now - self._mark[0], tokens + state.num_input_tokens_seen - self._mark[1])
        self._mark = (now, state.num_input_tokens_seen)

    def last_rate(self) -> float:
        seconds, tokens = self.blocks[-1]
        return tokens / seconds


def baseline_trainer(config, rows, clock: StepClock, run_dir: str) -> SFTTrainer:
    """The baseline set-up (the original notebook's): text-only examples (loss on every token), padded batches, gradient checkpointing."""
    model, tokenizer = load_base(config.model, device=CPU, dtype=FP32)
    model.config.use_cache = False
    examples = encode_dataset(tokenizer, rows, config.data.max_length).remove_columns("completion_mask")
    args = SFTConfig(
        output_dir=run_dir, per_device_train_batch_size=config.train.batch_size, gradient_accumulation_steps=1,
        learning_rate=config.train.learning_rate, lr_scheduler_type="cosine", warmup_steps=config.train.warmup_ratio,
        optim="adamw_torch", seed=config.train.seed, data_seed=config.train.seed, bf16=False, fp16=False, activation_checkpointing=True,
        activation_checkpointing_kwargs={"use_reentrant": False}, padding_free=False, completion_only_loss=False,
        max_length=None, save_strategy="no", logging_strategy="no", report_to="none", use_cpu=True,
        include_num_input_tokens_seen="non_padding",
    )
    return SFTTrainer(model=model, args=args, train_dataset=examples, processing_class=tokenizer,
                      peft_config=build_lora_config(config.lora), callbacks=[clock])


def our_trainer(config, rows, clock: StepClock) -> SFTTrainer:
    model, tokenizer = load_model(config, CPU, FP32)
    trainer = build_trainer(config, model, tokenizer, encode_dataset(tokenizer, rows, config.data.max_length),
                            None, CPU, FP32, [clock])
    # Measurement only: no checkpoints or logs, and count the tokens like (a).
    trainer.args.save_strategy, trainer.args.logging_strategy = "no", "no"
    trainer.args.include_num_input_tokens_seen = "non_padding"
    return trainer


def gemm_shapes(model_config) -> list[tuple[int, int, int]]:
    """(in, out, count) of every weight matrix a token passes through: 7 per layer, plus the LM head."""
    hidden, inter, layers = model_config.hidden_size, model_config.intermediate_size, model_config.num_hidden_layers
    head_dim = getattr(model_config, "head_dim", None) or hidden // model_config.num_attention_heads
    q, kv = model_config.num_attention_heads * head_dim, model_config.num_key_value_heads * head_dim
    per_layer = [(hidden, q), (hidden, kv), (hidden, kv), (q, hidden), (hidden, inter), (hidden, inter), (inter, hidden)]
    return [(i, o, layers) for i, o in per_layer] + [(hidden, model_config.vocab_size, 1)]


def gemm_gflops(shapes: list[tuple[int, int, int]], tokens: int, repeats: int = 3) -> tuple[float, float]:
    """(GFLOP, seconds) for the forward (x W^T) and input-gradient (dy W) GEMM of each shape at `tokens` rows."""
    flops = seconds = 0.0
    for fan_in, fan_out, count in shapes:
        weight, x, dy = torch.randn(fan_out, fan_in), torch.randn(tokens, fan_in), torch.randn(tokens, fan_out)
        x @ weight.t(), dy @ weight  # warm the kernels for this shape
        start = time.perf_counter()
        for _ in range(repeats):
            x @ weight.t()
            dy @ weight
        seconds += (time.perf_counter() - start) / repeats * count
        flops += 2 * 2 * tokens * fan_in * fan_out * count
    return flops / 1e9, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds of (a), (b) and (c)")
    parser.add_argument("--steps", type=int, default=2, help="timed optimizer steps per configuration and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a cpu-profile value for both (a) and (b), e.g. --set lora.dropout=0")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_throughput.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    source = SAMPLE_FLASHCARDS
    if not Path(source).is_file():
        print(f"note: {source} is not there yet; measuring on {FALLBACK_DATA} instead (figures not comparable)")
        source = str(FALLBACK_DATA)
    run_dir = tempfile.mkdtemp(prefix="train-bench-")
    config = apply_overrides(load_profile("cpu"), [f"data.source={source}", f"output_dir={run_dir}", "train.grad_accum=1", *args.overrides])
    rows = prepare(config.data).train

    seed_clock, our_clock = StepClock(), StepClock()
    seed, ours = baseline_trainer(config, rows, seed_clock, run_dir), our_trainer(config, rows, our_clock)
    for trainer in (seed, ours):  # the per-round lines below are the progress report
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
    lora_params, all_params = count_parameters(ours.model)
    base_params = all_params - lora_params
    shapes = gemm_shapes(ours.model.get_base_model().config)
    # With LoRA the base weights are frozen, so backward skips their weight-gradient GEMMs: a token costs the
    # forward GEMMs (2 FLOPs per weight) plus the input-gradient GEMMs (2 more), 4 x parameters in all. LoRA's own
    # matrices (~4% of that) and attention are left out, so the ceiling is, if anything, generous.
    flops_per_token = 4 * base_params
    load_before = os.getloadavg()[0]
    rounds: list[tuple[float, float, float]] = []  # tokens/s of (a), (b), (c)
    datasets = {trainer: trainer.train_dataset for trainer in (seed, ours)}  # same rows in the same order
    for round_index in range(args.rounds):
        for trainer, dataset in datasets.items():
            # Both samplers draw the same index order, so one shuffle per round gives (a) and (b) the same batches.
            trainer.train_dataset = dataset.shuffle(seed=round_index)
            trainer.args.max_steps = args.steps + 1
            trainer.train()
        _, tokens = our_clock.blocks[-1]
        gflop, gemm_seconds = gemm_gflops(shapes, round(tokens / args.steps))  # at (b)'s rows per step
        rounds.append((seed_clock.last_rate(), our_clock.last_rate(), gflop / gemm_seconds * 1e9 / flops_per_token))
        print(f"round {round_index + 1}/{args.rounds}: (a) {rounds[-1][0]:6.1f}  (b) {rounds[-1][1]:6.1f}  "
              f"(c) {rounds[-1][2]:6.1f} tokens/s", flush=True)

    baseline_rate, our_rate, ceiling = (max(column) for column in zip(*rounds))
    gemm_rate = ceiling * flops_per_token / 1e9
    load_after = os.getloadavg()[0]
    command = command_line()
    result = {
        "command": command,
        "source": Path(source).name,
        "model": config.model,
        "base_parameters": base_params,
        "batch_size": config.train.batch_size,
        "timed_steps_each": args.rounds * args.steps,
        "rounds_tokens_per_s": [[round(x, 1) for x in r] for r in rounds],
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "threads": args.threads,
        "overrides": args.overrides,
        "seed_tokens_per_s": round(baseline_rate, 1),
        "ours_tokens_per_s": round(our_rate, 1),
        "gemm_gflops": round(gemm_rate, 1),
        "ceiling_tokens_per_s": round(ceiling, 1),
        "ours_over_seed": round(our_rate / baseline_rate, 2),
        "ours_over_ceiling": round(our_rate / ceiling, 2),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(f"command:            {command}")
    print(f"data:               {len(rows)} train rows of {Path(source).name}, batch size {config.train.batch_size}, "
          f"{args.rounds * args.steps} timed steps each, {args.threads} threads")
    print(f"load average:       {load_before:.2f} before, {load_after:.2f} after (other processes on the cores "
          "slow (a) and (b) more than (c))")
    print(f"(a) baseline:       {baseline_rate:7.1f} non-pad tokens/s   (best round)")
    print(f"(b) ours:           {our_rate:7.1f} non-pad tokens/s   (best round)")
    print(f"(c) GEMM ceiling:   {ceiling:7.1f} tokens/s   ({gemm_rate:.1f} GFLOP/s / (4 x {base_params / 1e6:.1f} M parameters))")
    print(f"(b) / (a):          {our_rate / baseline_rate:7.2f}x   (target >= 1.5x)")
    print(f"(b) / (c):          {our_rate / ceiling:7.0%}   (target >= 60%)")
    write_result(result, args.out)


if __name__ == "__main__":
    main()
