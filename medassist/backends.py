"""Serving backends: prompt token ids in, text pieces out, one class per backend and a registry of them.

The engine (medassist.chat) needs only what `Backend` declares: generate with a cancel event, the
context limit, whether the streamer first sees the prompt, and how many generations may run at once.
A new backend is one class here plus `register_backend`; the CLI's --backend choices and the app
read the registry.

- `hf`: transformers `generate` on the merged model, fp32 on CPU; it runs wherever the package does.
  The adapter is merged (`merge_and_unload`): one matmul per projection instead of three, same greedy
  answers. The system prompt's KV cache is computed once and a copy seeds each request.
- `llama.cpp`: the merged model exported once to a Q8_0 GGUF (medassist.gguf), run by
  `llama-cpp-python`: it reads ~4x fewer bytes per token, at the price of int8 rounding that can change
  answers after some tokens (bench/chat_latency.py measures both).
- `hf-batched` (medassist.batching): the `hf` model served by transformers' continuous batching, many
  answers decoded together.
"""

from __future__ import annotations

import atexit
import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import (DynamicCache, GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria,
                          TextStreamer)

from .config import EMBEDDED, GenerationSettings
from .generation import answer_penalty
from .gguf import GGUFError, export_gguf, gguf_base_file, merged_gguf_path
from .models import adapter_base, load_adapter, load_base, load_tokenizer
from .prompts import SYSTEM_PROMPT, end_of_turn_ids
from .safety import ChatError


def load_model(
    adapter: str | Path | None, base: str | None = None, merge: bool = True
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(model, tokenizer, base source): the base named by the adapter (or `base`), the adapter applied and merged."""
    if adapter is None:
        source = base or EMBEDDED
        model, tokenizer = load_base(source)
        return model, tokenizer, source
    tuned, tokenizer, source = load_adapter(adapter, base)
    return (tuned.merge_and_unload() if merge else tuned).eval(), tokenizer, source


@dataclass
class StreamStats:
    """Timing of one answer: filled while it streams (used by the CLI and the benchmark)."""

    prompt_tokens: int = 0
    token_ids: list[int] = field(default_factory=list)  # generated, including a final end-of-turn token
    started: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None
    total_s: float | None = None

    @property
    def new_tokens(self) -> int:
        return len(self.token_ids)


class TokenStream(TextStreamer):
    """Incremental detokenisation (whole words, complete characters) that hands each piece to `emit`."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, emit: Callable[[str], None], stats: StreamStats, skip_prompt: bool):
        super().__init__(tokenizer, skip_prompt=skip_prompt, skip_special_tokens=True)
        self._emit = emit
        self._stats = stats

    def put(self, value: torch.Tensor) -> None:
        if not (self.skip_prompt and self.next_tokens_are_prompt):
            if self._stats.first_token_s is None:
                self._stats.first_token_s = time.perf_counter() - self._stats.started
            self._stats.token_ids.extend(value.flatten().tolist())
        super().put(value)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._emit(text)


class CancelledBy(StoppingCriteria):
    def __init__(self, cancel: threading.Event):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)


class Backend(Protocol):
    """What the chat engine needs from a backend."""

    name: str
    skip_prompt: bool  # True when the streamer is first handed the prompt ids (transformers `generate` does)
    slots: int  # generations that may run at once; the engine queues the rest

    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream,
                 cancel: threading.Event) -> None:
        """Stream the answer's token ids into `pieces` (then call `pieces.end()`), stopping early once `cancel` is set."""

    def context_limit(self) -> int:
        """Most tokens (prompt + answer) the backend can hold."""


BackendFactory = Callable[..., tuple[Backend, PreTrainedTokenizerBase]]
BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Add a factory `(adapter, base, *, merge, context_tokens) -> (backend, tokenizer)` under `name`."""

    def add(factory: BackendFactory) -> BackendFactory:
        BACKENDS[name] = factory
        return factory

    return add


def create_backend(name: str, adapter: str | Path | None, base: str | None, *, merge: bool = True,
                   context_tokens: int) -> tuple[Backend, PreTrainedTokenizerBase]:
    if name not in BACKENDS:
        raise ChatError(f"unknown backend '{name}': choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name](adapter, base, merge=merge, context_tokens=context_tokens)


class HFBackend:
    """transformers `generate` on the (merged) model: fp32 on CPU, works on any device.

    The system prompt opens every conversation, so its KV cache is computed once and a copy seeds each
    request: only the history and the new message are processed before the first token.
    """

    name = "hf"
    skip_prompt = True  # `generate` hands the streamer the prompt first
    slots = 1

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, stop_ids: list[int],
                 system_prompt: str = SYSTEM_PROMPT):
        self.model = model
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        system_turn = tokenizer.apply_chat_template([{"role": "system", "content": system_prompt}], tokenize=False)
        self.prefix_ids: list[int] = tokenizer(system_turn, add_special_tokens=False)["input_ids"]
        self._prefix_cache: DynamicCache | None = None

    def prefix_cache(self, prompt_ids: list[int]) -> DynamicCache | None:
        """A fresh copy of the system prompt's KV cache when `prompt_ids` starts with it (called under the engine lock)."""
        n = len(self.prefix_ids)
        if len(prompt_ids) <= n or prompt_ids[:n] != self.prefix_ids:
            return None
        if self._prefix_cache is None:
            device = next(self.model.parameters()).device
            self._prefix_cache = self.model(torch.tensor([self.prefix_ids], device=device), use_cache=True, logits_to_keep=1).cache
        return copy.deepcopy(self._prefix_cache)

    def generation_config(self, settings: GenerationSettings) -> GenerationConfig:
        """Sampling settings; the repetition penalty is not among them but in `answer_penalty`."""
        sampling = settings.temperature > 0
        extra = dict(temperature=settings.temperature, top_p=settings.top_p, top_k=0) if sampling else {}
        return GenerationConfig(
            do_sample=sampling,
            max_new_tokens=settings.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            **extra,
        )

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream, cancel: threading.Event) -> None:
        device = next(self.model.parameters()).device
        inputs = torch.tensor([prompt_ids], device=device)
        self.model.generate(
            input_ids=inputs,
            attention_mask=torch.ones_like(inputs),
            cache=self.prefix_cache(prompt_ids),
            generation_config=self.generation_config(settings),
            logits_processor=answer_penalty(settings.repetition_penalty, len(prompt_ids)),
            streamer=pieces,
            stopping_criteria=[CancelledBy(cancel)],
        )

    def context_limit(self) -> int:
        return int(self.model.config.max_position_embeddings)


class LlamaCppBackend:
    """llama.cpp on a merged GGUF export: faster decode on CPU, Q8_0 rounding (both measured by bench/chat_latency.py).

    llama.cpp keeps the KV cache of the previous prompt, so the shared system prompt is not recomputed.
    Its repetition penalty counts the tokens it generated (up to `n_ctx` of them), as `hf` does.
    """

    name = "llama.cpp"
    skip_prompt = False
    slots = 1

    def __init__(self, gguf: Path, stop_ids: list[int], context_tokens: int):
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ChatError("the llama.cpp backend needs llama-cpp-python: pip install 'medassist[bench]'") from error
        self.gguf = gguf
        self.stop_ids = set(stop_ids)
        self.llm = Llama(
            str(gguf), n_ctx=context_tokens, n_threads=torch.get_num_threads(), last_n_tokens_size=context_tokens, verbose=False
        )
        atexit.register(self.llm.close)  # freed before interpreter shutdown, when llama_cpp can still do it

    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream, cancel: threading.Event) -> None:
        tokens = self.llm.generate(
            prompt_ids, temp=settings.temperature, top_p=settings.top_p, top_k=0, min_p=0.0,
            repeat_penalty=settings.repetition_penalty,
        )
        for count, token in enumerate(tokens, start=1):
            if cancel.is_set():
                break
            pieces.put(torch.tensor([token]))  # an end-of-turn token is counted, like `generate` does, but has no text
            if token in self.stop_ids or count >= settings.max_new_tokens:
                break
        pieces.end()

    def context_limit(self) -> int:
        return self.llm.n_ctx()


@register_backend(HFBackend.name)
def hf_backend(adapter: str | Path | None, base: str | None, *, merge: bool = True,
               context_tokens: int) -> tuple[HFBackend, PreTrainedTokenizerBase]:
    model, tokenizer, _ = load_model(adapter, base, merge)
    return HFBackend(model, tokenizer, end_of_turn_ids(tokenizer)), tokenizer


@register_backend(LlamaCppBackend.name)
def llama_cpp_backend(adapter: str | Path | None, base: str | None, *, merge: bool = True,
                      context_tokens: int) -> tuple[LlamaCppBackend, PreTrainedTokenizerBase]:
    """The merged model as a cached Q8_0 GGUF (exported on first use), served by llama.cpp."""
    if not merge:
        raise ChatError("the llama.cpp backend serves merged models only")
    source = base or (adapter_base(Path(adapter)) if adapter is not None else EMBEDDED)
    try:
        base_gguf = gguf_base_file(source)
    except GGUFError as error:
        raise ChatError(str(error)) from error
    gguf = merged_gguf_path(adapter, base_gguf)
    if not gguf.is_file():
        model, _, _ = load_model(adapter, base)
        export_gguf(model, base_gguf, gguf)
        del model
    tokenizer = load_tokenizer(source)
    return LlamaCppBackend(gguf, end_of_turn_ids(tokenizer), context_tokens), tokenizer


# The batched backend is a module of its own; importing it registers "hf-batched".
from . import batching  # noqa: F401  (last: it uses the registry defined above)
