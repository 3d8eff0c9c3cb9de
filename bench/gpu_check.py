"""The t4 profile's code path on a CUDA machine, end to end, in minutes and offline.

A tiny random Llama (saved to a temporary folder, so it loads like a Hub model) is trained for a few
steps with the t4 profile's settings: fp16 autocast, gradient checkpointing, grounded (RAFT) examples;
then again in 4-bit (QLoRA) when bitsandbytes is importable; then the chat engine answers on CUDA.
Prints step time and peak GPU memory for each and writes bench/results/gpu_check.json.

    bash bench/gpu_check.sh          # on a machine with a CUDA GPU
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from record import command_line, write_result

from medassist.chat import ChatEngine
from medassist.config import TINY, GenerationSettings, load_profile
from medassist.models import load_tokenizer, tiny_llama
from medassist.train import train

ROOT = Path(__file__).resolve().parents[1]


def run(config, label: str) -> dict:
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - started
    figures = {"run": label, "steps": result.steps, "seconds": round(seconds, 1),
               "seconds_per_step": round(result.seconds / max(result.steps, 1), 3),
               "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
               "train_loss": result.train_loss, "adapter": result.adapter_dir}
    print(json.dumps(figures))
    return figures


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check needs a CUDA GPU: run it where one is lent (see README)")
    work = Path(tempfile.mkdtemp(prefix="medassist-gpu-check-"))
    tokenizer = load_tokenizer(TINY)
    base_dir = work / "tiny-llama"
    tiny_llama(tokenizer, hidden_size=256, intermediate_size=512, num_hidden_layers=4).save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    t4 = load_profile("t4")
    config = replace(t4, model=str(base_dir), output_dir=str(work / "fp16"),
                     data=replace(t4.data, source=load_profile("smoke").data.source, train_size=64, eval_size=8),
                     train=replace(t4.train, max_steps=6, save_steps=3, logging_steps=1),
                     eval=replace(t4.eval, grounded_questions=3))
    runs = [run(config, "fp16 + gradient checkpointing (t4 settings)")]
    if importlib.util.find_spec("bitsandbytes") is not None:
        runs.append(run(replace(config, output_dir=str(work / "qlora"), train=replace(config.train, qlora=True)), "4-bit QLoRA"))
    else:
        print("bitsandbytes is not installed: 4-bit run skipped")
    torch.cuda.reset_peak_memory_stats()
    engine = ChatEngine.load(runs[0]["adapter"], base=str(base_dir), grounding=config.grounding)
    started = time.perf_counter()
    reply = engine.reply("What reverses the effect of heparin?", settings=GenerationSettings(temperature=0.0, max_new_tokens=24))
    chat = {"seconds": round(time.perf_counter() - started, 2), "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "device": str(next(engine.backend.model.parameters()).device), "reply_chars": len(reply)}
    print(json.dumps({"chat": chat}))
    write_result({"command": command_line(), "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": runs, "chat": chat},
                 ROOT / "bench" / "results" / "gpu_check.json")


if __name__ == "__main__":
    main()
