"""Eval generation throughput: one question at a time (the baseline: the original notebook's loop) vs length-sorted left-padded batches.

Both paths run in this one process on the embedded model with the same greedy settings, so the ratio
is measured side by side; the script also counts how many of the answers are identical.

    .venv/bin/python bench/eval_throughput.py [--n 200] [--batch-size 16] [--max-new-tokens 48] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

from medassist.config import SAMPLE_FLASHCARDS
from medassist.data import clean, load_records
from medassist.generation import generate_answers
from medassist.config import EMBEDDED
from medassist.models import load_base
from record import command_line, write_result

FALLBACK_DATA = ROOT.parent / "shared" / "data" / "medical_meadow_wikidoc_patient_information.json"


def questions(n: int) -> tuple[list[str], str]:
    """The first `n` distinct questions of the sample flashcards (or the development data set)."""
    source = SAMPLE_FLASHCARDS if Path(SAMPLE_FLASHCARDS).is_file() else str(FALLBACK_DATA)
    rows, _ = clean(load_records(source), min_chars=5)
    unique = list(dict.fromkeys(row["input"] for row in rows))
    if len(unique) < n:
        print(f"note: {source} has {len(unique)} distinct questions, fewer than {n}; using all")
    return unique[:n], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "eval_throughput.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    items, source = questions(args.n)
    model, tokenizer = load_base(EMBEDDED)
    generate_answers(model, tokenizer, items[:2], args.max_new_tokens, batch_size=2, progress=False)  # warm-up

    start = time.perf_counter()
    one_at_a_time = generate_answers(
        model, tokenizer, items, args.max_new_tokens, batch_size=1, sort_by_length=False, progress=True
    )
    sequential_s = time.perf_counter() - start

    start = time.perf_counter()
    batched = generate_answers(model, tokenizer, items, args.max_new_tokens, batch_size=args.batch_size, progress=True)
    batched_s = time.perf_counter() - start

    matches = sum(a == b for a, b in zip(one_at_a_time, batched))
    command = command_line()
    result = {
        "command": command,
        "questions": len(items),
        "source": Path(source).name,
        "model": EMBEDDED,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "decoding": "greedy",
        "one_at_a_time_s": round(sequential_s, 2),
        "batched_s": round(batched_s, 2),
        "speedup": round(sequential_s / batched_s, 2),
        "identical_outputs": matches,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(f"command:          {command}")
    print(f"questions:        {len(items)} from {Path(source).name}, max_new_tokens={args.max_new_tokens}, greedy, {args.threads} threads")
    print(f"one at a time:    {sequential_s:8.1f} s  ({len(items) / sequential_s:.2f} questions/s)")
    print(f"batched (bs={args.batch_size}):  {batched_s:8.1f} s  ({len(items) / batched_s:.2f} questions/s)")
    print(f"speed-up:         {sequential_s / batched_s:.2f}x")
    print(f"identical greedy outputs: {matches}/{len(items)}")
    write_result(result, args.out)


if __name__ == "__main__":
    main()
