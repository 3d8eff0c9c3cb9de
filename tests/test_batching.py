"""The `hf-batched` backend: concurrent answers through transformers' continuous batching, as each alone would be.

Tiny random Llamas only. `initializer_range=0.2` gives one whose greedy answers vary from token to token (the default
init repeats one token), so a mix-up between two concurrent requests would show.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import torch

from medassist.backends import BACKENDS, HFBackend, StreamStats
from medassist.batching import BatchedHFBackend
from medassist.chat import ChatEngine
from medassist.config import TINY, GenerationSettings
from medassist.models import tiny_llama
from medassist.prompts import end_of_turn_ids
from medassist.safety import DISCLAIMER

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=24, repetition_penalty=1.0)
QUESTIONS = ["What is asthma?", "How is type 2 diabetes treated?"]


@pytest.fixture(scope="module")
def model(tokenizer):
    return tiny_llama(tokenizer, initializer_range=0.2)


@pytest.fixture(scope="module")
def serial(model, tokenizer) -> ChatEngine:
    return ChatEngine(HFBackend(model, tokenizer, end_of_turn_ids(tokenizer)), tokenizer, context_tokens=512)


@pytest.fixture(scope="module")
def batched(model, tokenizer):
    backend = BatchedHFBackend(model, tokenizer, end_of_turn_ids(tokenizer), slots=2, cache_tokens=1024)
    yield ChatEngine(backend, tokenizer, context_tokens=512)
    backend.close()


def answer(engine: ChatEngine, question: str, settings: GenerationSettings = GREEDY) -> tuple[str, StreamStats]:
    stats = StreamStats()
    text = "".join(engine.stream(question, settings=settings, stats=stats))
    return text, stats


def in_threads(*calls):
    results: list = [None] * len(calls)

    def run(i, call):
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_backend_is_registered_and_loads_through_the_engine():
    assert "hf-batched" in BACKENDS
    engine = ChatEngine.load(base=TINY, backend="hf-batched", context_tokens=256)
    try:
        assert engine.backend.slots >= 2 and engine.backend.cache_tokens >= 256 and "hf-batched" in engine.description
        reply = engine.reply("What is asthma?", settings=GenerationSettings(temperature=0.0, max_new_tokens=8))
        assert reply.endswith(DISCLAIMER)
    finally:
        engine.backend.close()


def test_two_concurrent_greedy_answers_are_each_as_alone(serial, batched):
    alone = [answer(serial, q) for q in QUESTIONS]
    assert alone[0][1].token_ids != alone[1][1].token_ids
    manager = batched.backend.manager()
    with manager.pause():  # both requests reach the manager before its next step: they are batched together
        results: list = [None, None]
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, answer(batched, QUESTIONS[i]))) for i in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(batched.backend._routes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(batched.backend._routes) == 2
    for thread in threads:
        thread.join(timeout=60)
    for (text, stats), (alone_text, alone_stats) in zip(results, alone, strict=True):
        assert stats.token_ids == alone_stats.token_ids and text == alone_text
        assert len(stats.token_ids) == GREEDY.max_new_tokens


@pytest.fixture(scope="module")
def repeating(tokenizer):
    """(serial, batched) engines on a tiny Llama of the default init, which repeats one token: penalties show."""
    model = tiny_llama(tokenizer)
    stop_ids = end_of_turn_ids(tokenizer)
    backend = BatchedHFBackend(model, tokenizer, stop_ids, slots=2, cache_tokens=1024)
    yield (ChatEngine(HFBackend(model, tokenizer, stop_ids), tokenizer, context_tokens=512),
           ChatEngine(backend, tokenizer, context_tokens=512))
    backend.close()


def test_repetition_penalty_and_sampling_are_applied_per_request(repeating):
    # A penalty changes the greedy answer, exactly as `generate` does.
    serial, batched = repeating
    penalised = GenerationSettings(temperature=0.0, max_new_tokens=16, repetition_penalty=3.0)
    plain, _ = answer(batched, QUESTIONS[0])
    with_penalty, stats = answer(batched, QUESTIONS[0], penalised)
    assert with_penalty != plain
    assert stats.token_ids == answer(serial, QUESTIONS[0], penalised)[1].token_ids
    sampled = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=16, repetition_penalty=1.0)
    assert {answer(batched, QUESTIONS[0], sampled)[0] for _ in range(3)} != {plain}  # not greedy
    assert not batched.backend._routes


def test_the_repetition_penalty_counts_the_answer_not_the_prompt(repeating):
    # A grounded answer copies its sources: a token of the prompt is not penalised, one the answer already gave is.
    # The tiny model answers "\n" again and again, a token the chat-formatted prompt holds too.
    serial, batched = repeating
    plain = answer(serial, QUESTIONS[0])[1].token_ids
    assert plain[0] == plain[1] and plain[0] in serial.prompt_ids(QUESTIONS[0], None, GREEDY.max_new_tokens)
    penalised = GenerationSettings(temperature=0.0, max_new_tokens=8, repetition_penalty=3.0)
    for engine in (serial, batched):
        tokens = answer(engine, QUESTIONS[0], penalised)[1].token_ids
        assert tokens[0] == plain[0] and tokens[1] != plain[0]


def test_a_cancelled_request_frees_its_slot_and_does_not_stall_the_others(batched):
    long = GenerationSettings(temperature=0.0, max_new_tokens=400, repetition_penalty=1.0)
    manager = batched.backend.manager()
    expected = answer(batched, QUESTIONS[1])[0]
    stream = batched.stream(QUESTIONS[0], settings=long)
    next(stream)  # the long answer is decoding, in one of the two slots
    other = threading.Thread(target=lambda: results.append(answer(batched, QUESTIONS[1])[0]))
    results: list[str] = []
    other.start()
    stream.close()  # Stop button / closed tab: cancels the long answer
    other.join(timeout=30)
    assert results == [expected]
    deadline = time.monotonic() + 10
    while manager.batch_processor.has_pending_requests() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not manager.batch_processor.has_pending_requests() and not batched.backend._routes
    # both slots are free again: two more answers run at once
    assert [r[0] for r in in_threads(lambda: answer(batched, QUESTIONS[1]), lambda: answer(batched, QUESTIONS[1]))] == [expected] * 2


def test_a_prompt_longer_than_the_cache_is_answered_serially(model, tokenizer, serial):
    backend = BatchedHFBackend(model, tokenizer, end_of_turn_ids(tokenizer), slots=2, cache_tokens=32)
    small = ChatEngine(backend, tokenizer, context_tokens=512)
    try:
        text, stats = answer(small, QUESTIONS[0])
        assert stats.prompt_tokens + GREEDY.max_new_tokens > backend.cache_tokens
        alone_text, alone_stats = answer(serial, QUESTIONS[0])
        assert stats.token_ids == alone_stats.token_ids and text == alone_text  # and no prompt echoed
    finally:
        backend.close()


def test_the_process_exits_while_the_manager_runs():
    code = (
        "from medassist.chat import ChatEngine\n"
        "from medassist.config import TINY, GenerationSettings\n"
        "engine = ChatEngine.load(base=TINY, backend='hf-batched', context_tokens=256)\n"
        "print(engine.reply('hi', settings=GenerationSettings(temperature=0.0, max_new_tokens=4))[:0] + 'answered')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "answered" in done.stdout


def test_the_nucleus_is_the_one_top_p_sampling_keeps():
    from transformers.generation.logits_process import TopPLogitsWarper

    from medassist.batching import TOP_K_FIRST, nucleus

    generator = torch.Generator().manual_seed(0)
    for scale, top_p in [(3.0, 0.9), (0.2, 0.9), (0.05, 0.5), (5.0, 0.01), (1.0, 1.0)]:  # peaked and flat rows
        logits = torch.randn(5000, generator=generator) * scale
        kept = TopPLogitsWarper(top_p)(None, logits[None].clone())[0] > float("-inf")
        probs, index = nucleus(logits, top_p)
        assert set(index.tolist()) == set(kept.nonzero().flatten().tolist())
        torch.testing.assert_close(probs, torch.softmax(logits, -1)[index])
    assert len(nucleus(torch.zeros(5000), 0.5)[1]) > TOP_K_FIRST  # a flat row needs the full sort


def test_a_tiny_nucleus_samples_the_greedy_answer(batched, serial):
    nearly_greedy = GenerationSettings(temperature=0.7, top_p=1e-6, max_new_tokens=24, repetition_penalty=1.0)
    assert answer(batched, QUESTIONS[0], nearly_greedy)[1].token_ids == answer(serial, QUESTIONS[0])[1].token_ids
