"""The `hf-batched` backend: answers decoded together by transformers' continuous batching (written for
transformers 5.25).

The `hf` model served by `init_continuous_batching`: up to `slots` answers decode together, one forward pass
per step for all of them. Decoding a small model on CPU is bound by reading its weights, so a step for 8
answers costs little more than a step for one: concurrent users stop waiting for each other
(bench/chat_latency.py, "concurrent"). Importing this module registers the backend (medassist.backends
imports it last, so the registry always lists it).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from .backends import HFBackend, TokenStream, load_model, register_backend
from .config import GenerationSettings
from .prompts import SYSTEM_PROMPT, end_of_turn_ids
from .safety import ChatError

log = logging.getLogger(__name__)

DEFAULT_SLOTS = 8  # answers decoded together; chosen by bench/chat_latency.py ("concurrent") on 2 cores
PAGE_SIZE = 16  # KV-cache page (tokens): small, so the 56-token system prompt fills 3 shareable pages
TOKENS_PER_SLOT = 768  # KV cache reserved per slot: a grounded prompt (~400 tokens) and a 256-token answer
MAX_BATCH_TOKENS = 256  # tokens per forward pass: bounds how long one prompt's prefill stalls the others' decoding
RESULT_POLL_S = 0.05  # how often a waiting request looks at its cancel event
TOP_K_FIRST = 256  # nucleus search: the top 256 tokens first, the whole sorted vocabulary only if they hold < top_p


def nucleus(logits: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, token ids) of the tokens top-p sampling may draw from one row of logits, as `TopPLogitsWarper`
    defines them: a token is kept when the tokens more likely than it hold < top_p of the mass (the top one always).
    The top `TOP_K_FIRST` tokens are searched first: when they hold >= top_p, no token beyond them can be kept."""
    probs = torch.softmax(logits, dim=-1)
    if top_p >= 1.0:
        return probs, torch.arange(probs.numel())
    top, index = torch.topk(probs, min(TOP_K_FIRST, probs.numel()))
    if float(top.sum()) < top_p:
        top, index = torch.sort(probs, descending=True)
    keep = int(((torch.cumsum(top, dim=0) - top) < top_p).sum().clamp(min=1))
    return top[:keep], index[:keep]


def per_request_sampler(seed: int | None = None) -> type:
    """A logits processor for transformers' continuous batching that does, per request, what `generate` does for `hf`:
    repetition penalty (on the answer's own tokens), then greedy, or temperature + top-p (nucleus) sampling. The manager
    then takes the argmax.

    Why our own (transformers 5.25, on CPU): the manager drops `RepetitionPenaltyLogitsProcessor` (marked unsupported:
    its processors see each request's last token only); `do_sample` is one setting for the whole manager, so greedy and
    sampled requests cannot share it; and its per-request top-p sorts the whole 49k vocabulary of every row at every
    step, then samples with `torch.multinomial` over it: for 8 rows, 30-60 ms for the sort and 8-45 ms for the draw
    per step on 2 cores (measured), against ~135 ms for the forward pass. Here the nucleus is found among the top 256 tokens (exact: when they hold >= top_p of the mass,
    no token beyond them can be in the nucleus; otherwise the row is sorted in full), and the draw is made among them.

    It plugs in through the manager's own extension point for per-request processors, `CLASSIC_TO_CB_PROCESSORS_MAP`
    (used with `per_request_processors=True`), as the continuous-batching version of the repetition penalty: the
    manager builds it when its GenerationConfig has a repetition penalty, and each request passes `temperature`,
    `top_p` and `repetition_penalty`. It reads each request's state before the forward pass (synchronous batching).
    """
    from transformers.generation.continuous_batching import cb_logits_processors as cb

    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, (1,)).item()))

    class PerRequestSampler(cb.ContinuousBatchingLogitsProcessor):
        supported_kwargs = {"repetition_penalty": float, "temperature": float, "top_p": float}
        ignored_kwargs = ()

        def __init__(self, processor: Any):
            self.penalty = float(processor.penalty)
            self._rows: list[tuple[list[int], dict[str, float]]] = []  # seen token ids and settings of each row

        def fill_defaults(self, int32_tensor: torch.Tensor) -> None:
            int32_tensor.zero_()  # the settings travel in `_rows`, not in the manager's tensor

        def prepare_tensor_args(self, requests_with_new_token: list) -> torch.Tensor:
            # The penalty counts the answer's own tokens, as `hf` does: a grounded answer copies its sources' words
            self._rows = [(request.state.generated_tokens, request.state.logit_processor_kwargs)
                          for request in requests_with_new_token]
            return torch.zeros(len(self._rows), dtype=torch.int32)

        def __call__(self, scores: torch.Tensor, tensor_arg: torch.Tensor) -> torch.Tensor:
            # `scores` are this step's own fp32 logits, one row per request with a new token; nothing reads them after
            self._penalise(scores)
            rows = [(row, settings) for row, (_, settings) in enumerate(self._rows[: scores.size(0)])
                    if settings.get("temperature", 0.0) > 0]
            if rows:  # greedy rows are left as they are: the manager's argmax is `generate`'s greedy choice
                tokens = self._sample(scores, rows)
                index = torch.tensor([row for row, _ in rows], device=scores.device)
                scores[index] = float("-inf")
                scores[index, tokens.to(scores.device)] = 0.0
            return scores

        def _penalise(self, scores: torch.Tensor) -> None:
            """`RepetitionPenaltyLogitsProcessor`: a seen token's logit / penalty if positive, * penalty if negative."""
            rows, columns, factors = [], [], []
            for row, (tokens, settings) in enumerate(self._rows[: scores.size(0)]):
                penalty = settings.get("repetition_penalty", self.penalty)
                if penalty != 1.0:
                    seen = sorted({t for t in tokens if t < scores.size(1)})
                    rows += [row] * len(seen)
                    columns += seen
                    factors += [penalty] * len(seen)
            if rows:
                rows_t, columns_t = torch.tensor(rows, device=scores.device), torch.tensor(columns, device=scores.device)
                factor = torch.tensor(factors, dtype=scores.dtype, device=scores.device)
                picked = scores[rows_t, columns_t]
                scores[rows_t, columns_t] = torch.where(picked < 0, picked * factor, picked / factor)

        @staticmethod
        def _sample(scores: torch.Tensor, rows: list[tuple[int, dict[str, float]]]) -> torch.Tensor:
            """One token per sampled row, drawn from its nucleus (`nucleus`, done for all rows at once)."""
            index = torch.tensor([row for row, _ in rows])
            temperature = torch.tensor([settings["temperature"] for _, settings in rows])
            top_p = torch.tensor([settings.get("top_p", 1.0) for _, settings in rows])
            probs = torch.softmax(scores[index.to(scores.device)].cpu() / temperature[:, None], dim=-1)
            top, ids = torch.topk(probs, min(TOP_K_FIRST, probs.size(1)), dim=-1)
            keep = (torch.cumsum(top, dim=-1) - top) < top_p[:, None]
            keep[:, 0] = True
            tokens = torch.multinomial(top * keep, 1, generator=generator).squeeze(1)
            tokens = ids.gather(1, tokens[:, None]).squeeze(1)
            # Rows whose nucleus may reach beyond the top tokens (top_p = 1, or a flat distribution): in full
            for i in ((top_p >= 1.0) | (top.sum(-1) < top_p)).nonzero().flatten().tolist():
                row_probs, row_ids = nucleus(probs[i].log(), float(top_p[i]))
                tokens[i] = row_ids[torch.multinomial(row_probs, 1, generator=generator)]
            return tokens

    return PerRequestSampler


def _at_exit(callback: Callable[[], None]) -> None:
    """Run `callback` when the interpreter exits, before it waits for non-daemon threads.

    The manager's generation thread is not a daemon: a plain `atexit` hook would run only after that thread ended,
    which it never does unless stopped, so the process would hang at exit. `threading._register_atexit` (what
    `concurrent.futures` uses) runs first.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        atexit.register(callback)
        return
    try:
        register(callback)
    except RuntimeError:  # interpreter already shutting down
        callback()


_STOPPED = object()  # routed to waiting requests when the manager's loop has ended


class BatchedHFBackend:
    """The `hf` model served by transformers' continuous batching: up to `slots` answers decode together.

    Every request becomes one streaming request of a `ContinuousBatchingManager`, created on the first request
    (explicit cache size: by default transformers reserves 60% of system RAM on CPU) and stopped at exit. Its
    generation loop runs in its own thread; one router thread hands each streamed output to the request it belongs to.
    Per request: max_new_tokens and the stop ids (the manager's), and repetition penalty, temperature and top_p (one
    per-request logits processor of ours, `per_request_sampler`, in the manager's processor chain; the manager itself
    runs greedy and takes the argmax of what the processor leaves).
    Prefix caching: the manager shares full KV pages between requests whose prompts start alike (the system prompt,
    and earlier turns of the same conversation while their pages stay cached), so those tokens are not recomputed.
    A cancel (Stop button, closed tab) cancels the manager's request, which frees its pages at the next step.

    What the manager lacks on CPU (transformers 5.25): repetition penalty; greedy and sampled requests in one manager
    (`do_sample` is manager-wide); a nucleus sampler cheap enough for 8 rows per step (see `per_request_sampler`, which
    supplies all three); CUDA graphs and async batching are GPU-only and off. A request it cannot take (the manager
    failed or was stopped, a prompt + answer longer than the whole cache) runs on the serial `hf` path instead, in its
    own slot. The manager seeds torch's global RNG when it starts (`torch.manual_seed`); sampling here uses its own
    generator (`seed`).
    """

    name = "hf-batched"
    skip_prompt = False  # only generated tokens are handed to the streamer (the serial fallback skips its prompt itself)

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, stop_ids: list[int],
                 system_prompt: str = SYSTEM_PROMPT, slots: int = DEFAULT_SLOTS, cache_tokens: int | None = None,
                 page_size: int = PAGE_SIZE, max_batch_tokens: int = MAX_BATCH_TOKENS, seed: int | None = None):
        self.serial = HFBackend(model, tokenizer, stop_ids, system_prompt)
        self.model = model
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.slots = slots
        self.page_size = page_size
        self.max_batch_tokens = max_batch_tokens
        self.seed = seed
        wanted = cache_tokens if cache_tokens is not None else slots * TOKENS_PER_SLOT
        self.num_blocks = -(-wanted // page_size)
        self.cache_tokens = self.num_blocks * page_size
        self.defaults = GenerationSettings()
        self._manager: Any = None
        self._failed = False
        self._closed = False
        self._lock = threading.Lock()
        self._routes: dict[str, queue.SimpleQueue] = {}
        self._ids = itertools.count()
        self.supported: set[str] = set()  # per-request settings the manager applies

    # ---- the manager, started once

    def manager(self) -> Any:
        """The running manager, started on first use; None once it failed or was stopped (requests then run serially)."""
        with self._lock:
            if self._manager is None and not (self._failed or self._closed):
                try:
                    self._manager = self._start()
                except Exception:  # any failure means: serve serially, and say why once
                    log.exception("continuous batching could not start: answers are generated one at a time")
                    self._failed = True
            manager = self._manager
        if manager is not None and not manager.is_running():
            return None
        return manager

    def _start(self) -> Any:
        from transformers import ContinuousBatchingConfig
        from transformers.generation.continuous_batching import (
            cb_logits_processors as cb,
        )
        from transformers.generation.logits_process import (
            RepetitionPenaltyLogitsProcessor,
        )

        # A greedy manager (argmax) whose GenerationConfig has a repetition penalty, so that it builds that processor's
        # continuous-batching version: ours, registered only while the manager is built.
        generation = GenerationConfig(
            do_sample=False, repetition_penalty=self.defaults.repetition_penalty,
            max_new_tokens=self.defaults.max_new_tokens, eos_token_id=self.stop_ids, pad_token_id=self.tokenizer.pad_token_id,
        )
        batching = ContinuousBatchingConfig(
            page_size=self.page_size, num_blocks=self.num_blocks, max_batch_tokens=self.max_batch_tokens,
            max_requests_per_batch=self.slots, per_request_processors=True, allow_block_sharing=True,
            use_cuda_graph=False, use_async_batching=False,  # the sampler reads request state right before each step
        )
        mapping = cb.CLASSIC_TO_CB_PROCESSORS_MAP
        before = mapping.get(RepetitionPenaltyLogitsProcessor)
        mapping[RepetitionPenaltyLogitsProcessor] = per_request_sampler(self.seed)
        try:
            with warnings.catch_warnings():  # "penalty only on new tokens" is about `generate` without input_ids, not ours
                warnings.filterwarnings("ignore", message="Passing `repetition_penalty`")
                manager = self.model.init_continuous_batching(generation_config=generation, continuous_batching_config=batching)
        finally:
            if before is None:
                mapping.pop(RepetitionPenaltyLogitsProcessor, None)
            else:
                mapping[RepetitionPenaltyLogitsProcessor] = before
        self.supported = set(manager.logit_processor.supported_keys)
        # The loop runs under inference mode when started under it (it is thread-local and copied by `start`)
        with torch.inference_mode():
            manager.start()
        threading.Thread(target=self._route, args=(manager,), name="medassist-batch-router", daemon=True).start()
        _at_exit(self.close)
        return manager

    def _route(self, manager: Any) -> None:
        """Hand each output of the manager to the request waiting for it (outputs of cancelled requests are dropped)."""
        while True:
            output = manager.get_result(timeout=0.1)
            if output is not None:
                waiting = self._routes.get(output.request_id)
                if waiting is not None:
                    waiting.put(output)
            elif not manager.is_running():
                for waiting in list(self._routes.values()):
                    waiting.put(_STOPPED)
                return

    def close(self) -> None:
        """Stop the manager's loop (at exit, or by hand); later requests run serially."""
        with self._lock:
            manager, self._manager, self._closed = self._manager, None, True
        if manager is not None and manager.is_running():
            manager.stop(block=True, timeout=10, hard_stop=True)

    # ---- requests

    def request_settings(self, settings: GenerationSettings) -> dict[str, float] | None:
        """The per-request arguments of the sampler for `settings`, or None when the manager has no such processor."""
        wanted = {"temperature": float(settings.temperature), "top_p": float(settings.top_p),
                  "repetition_penalty": float(settings.repetition_penalty)}
        return wanted if set(wanted) <= self.supported else None

    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream, cancel: threading.Event) -> None:
        manager = self.manager()
        arguments = self.request_settings(settings) if manager is not None else None
        if arguments is None or len(prompt_ids) + settings.max_new_tokens > self.cache_tokens:
            self.generate_serially(prompt_ids, settings, pieces, cancel)
            return
        request_id = f"medassist-{next(self._ids)}"
        outputs: queue.SimpleQueue = queue.SimpleQueue()
        self._routes[request_id] = outputs
        sent = 0
        try:
            added = manager.add_request(prompt_ids, request_id=request_id, max_new_tokens=settings.max_new_tokens,
                                        streaming=True, eos_token_id=self.stop_ids, **arguments)
            if added is None:
                raise ChatError("The model server is shutting down; please try again.")
            while True:
                try:
                    output = outputs.get(timeout=RESULT_POLL_S)
                except queue.Empty:
                    output = None
                if cancel.is_set():
                    manager.cancel_request(request_id)  # frees its KV pages at the manager's next step
                    return
                if output is None:
                    if not manager.is_running() and outputs.empty():
                        raise ChatError("The model server stopped while answering; please try again.")
                    continue
                if output is _STOPPED or output.error is not None:
                    raise ChatError(f"Generation failed: {getattr(output, 'error', None) or 'the model server stopped'}")
                new = output.generated_tokens[sent:]
                if new:
                    pieces.put(torch.tensor(new))
                    sent += len(new)
                if output.is_finished():
                    return
        finally:
            self._routes.pop(request_id, None)
            pieces.end()

    def generate_serially(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream,
                          cancel: threading.Event) -> None:
        """The `hf` path for one request; its `generate` hands the streamer the prompt first, which is skipped."""
        pieces.skip_prompt = True
        self.serial.generate(prompt_ids, settings, pieces, cancel)

    def context_limit(self) -> int:
        return int(self.model.config.max_position_embeddings)


@register_backend(BatchedHFBackend.name)
def hf_batched_backend(adapter: str | Path | None, base: str | None, *, merge: bool = True,
                       context_tokens: int) -> tuple[BatchedHFBackend, PreTrainedTokenizerBase]:
    """The `hf` model behind transformers' continuous batching; its cache holds at least one full context."""
    model, tokenizer, _ = load_model(adapter, base, merge)
    cache_tokens = max(DEFAULT_SLOTS * TOKENS_PER_SLOT, context_tokens)
    return BatchedHFBackend(model, tokenizer, end_of_turn_ids(tokenizer), cache_tokens=cache_tokens), tokenizer
