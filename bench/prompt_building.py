"""Prompt building under hostile histories (issue 16.1): ours vs tokenising the whole history, side by side.

One client could stall everyone: a 50 MB turn kept in a session's history was re-tokenised on every request
(16.9 s for 20 MB before the first token). The engine now bounds history by characters before anything is
tokenised. This prints the time `ChatEngine.prompt_ids` takes with (a) a 50 MB history turn, (b) 10,000
turns, (c) an ordinary 10-turn history, and, for (a) and (b), the baseline: one tokenisation of the whole
rendered conversation, the least an unbounded engine must do. Target: ours <= 50 ms in (a) and (b).

    .venv/bin/python bench/prompt_building.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from record import command_line, write_result

from medassist.backends import HFBackend
from medassist.chat import ChatEngine
from medassist.config import TINY
from medassist.models import load_base
from medassist.prompts import build_messages, end_of_turn_ids, render_prompt

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What does a high TSH level indicate?"


def histories() -> dict[str, list[tuple[str, str]]]:
    turn = ("What is the function of the liver?", "The liver makes bile, stores glycogen and detoxifies drugs.")
    return {
        "one 50 MB turn": [turn] * 3 + [("x" * 50_000_000, "Your message is too long.")] + [turn] * 3,
        "10,000 turns": [turn] * 10_000,
        "10 ordinary turns": [turn] * 10,
    }


def timed(function, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "prompt_building.json"))
    args = parser.parse_args()
    model, tokenizer = load_base(TINY)  # prompt building reads the tokenizer only: the embedded one, on a tiny model
    engine = ChatEngine(HFBackend(model, tokenizer, end_of_turn_ids(tokenizer)), tokenizer)
    rows = []
    for name, history in histories().items():
        ours = timed(lambda: engine.prompt_ids(QUESTION, history), repeats=5)
        row = {"history": name, "ours_s": round(ours, 4), "history_chars": sum(len(u) + len(a) for u, a in history)}
        if name != "10 ordinary turns":
            whole = render_prompt(tokenizer, build_messages(tokenizer, QUESTION, history=history))
            row["baseline_s"] = round(timed(lambda: tokenizer(whole, add_special_tokens=False), repeats=1), 3)
        rows.append(row)
        print(f"{name:20} ours {ours * 1000:8.1f} ms" + (f"   whole-history tokenisation {row['baseline_s']:8.2f} s"
                                                        if "baseline_s" in row else ""))
    write_result({"command": command_line(), "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "target_ms": 50,
                  "context_tokens": engine.context_tokens, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
