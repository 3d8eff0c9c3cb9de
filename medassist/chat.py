"""The chat engine: (message, history, settings) in, a streamed answer as a user sees it out.

What happens to a message, in order: the safety checks (medassist.safety: emergency notice, empty or
oversized input, settings), history normalised from Gradio messages or (user, assistant) pairs and
trimmed oldest-first to fit the context window, the prompt rendered with the model's chat template
(user text neutralised so it cannot forge a turn), then the backend (medassist.backends) streams the
answer. Every answer ends with the disclaimer.

Generation runs in a worker thread; at most `backend.slots` run at once (one for `hf` and `llama.cpp`:
on 2 cores a second concurrent `generate` would only split the cores), the others wait in order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from .backends import Backend, StreamStats, TokenStream, create_backend
from .config import ADAPTER_CONFIG, EMBEDDED, GenerationSettings, ServeConfig
from .models import adapter_base
from .prompts import SYSTEM_PROMPT, build_messages, render_prompt
from .safety import DISCLAIMER, MAX_MESSAGE_CHARS, ChatError, check_message, check_settings, encodable, urgent_notice

Pair = tuple[str, str]
DEFAULT_CONTEXT_TOKENS = ServeConfig.context_tokens


# --------------------------------------------------------------------------------------------
# History: (user, assistant) pairs from Gradio messages, without the engine's own decorations


def message_text(content: Any) -> str:
    """Text of a chat message's content: a string, or Gradio 6's list of typed parts (files are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text", "") if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""


def strip_decorations(answer: str) -> str:
    """The model's own words: without the urgent-care notice and the disclaimer the engine added."""
    answer = answer.removesuffix(DISCLAIMER)
    if answer.startswith("**\u26a0\ufe0f This may be a medical emergency"):
        answer = answer.split("**\n\n", 1)[-1]
    return answer


def history_pairs(history: Iterable[Pair | dict[str, Any]] | None) -> list[Pair]:
    """(user, assistant) pairs from pairs or role/content messages; an unanswered user turn is dropped."""
    pairs: list[Pair] = []
    pending: list[str] = []
    answer: list[str] = []
    for item in history or []:
        if not isinstance(item, dict):
            user, assistant = item
            pairs.append((user, strip_decorations(assistant)))
            continue
        text = message_text(item.get("content"))
        if item.get("role") == "user":
            if answer:
                pairs.append(("\n".join(pending), strip_decorations("\n".join(answer))))
                pending, answer = [], []
            pending.append(text)
        elif item.get("role") == "assistant" and pending:
            answer.append(text)
    if pending and answer:
        pairs.append(("\n".join(pending), strip_decorations("\n".join(answer))))
    return pairs


_DONE = object()


class ChatEngine:
    """Turns (message, history, settings) into a streamed, decorated answer; safe to call from many threads."""

    def __init__(
        self,
        backend: Backend,
        tokenizer: PreTrainedTokenizerBase,
        description: str = "",
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        system_prompt: str = SYSTEM_PROMPT,
        max_message_chars: int = MAX_MESSAGE_CHARS,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.description = description
        self.context_tokens = min(context_tokens, backend.context_limit())
        self.system_prompt = system_prompt
        self.max_message_chars = max_message_chars
        self._slots = threading.Semaphore(backend.slots)

    @classmethod
    def load(
        cls,
        adapter: str | Path | None = None,
        base: str | None = None,
        backend: str = "hf",
        merge: bool = True,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> ChatEngine:
        """Base (from the adapter's config unless `base` is given) + adapter, merged, on the named backend."""
        source = base or (adapter_base(Path(adapter)) if adapter is not None else EMBEDDED)
        what = f"base '{source}'" + (f" + adapter {adapter} ({'merged' if merge else 'unmerged'})" if adapter else "")
        engine_backend, tokenizer = create_backend(backend, adapter, base, merge=merge, context_tokens=context_tokens)
        return cls(engine_backend, tokenizer, f"{what}, {backend} backend", context_tokens)

    def prompt_ids(self, message: str, history: Iterable[Pair | dict[str, Any]] | None = None, max_new_tokens: int = 256) -> list[int]:
        """Token ids of system prompt + as much recent history as fits + the new message, ending with the assistant header."""
        budget = self.context_tokens - max_new_tokens
        if budget <= 0:
            raise ChatError(f"max_new_tokens={max_new_tokens} leaves no room for the prompt in the {self.context_tokens}-token context")
        message = encodable(message)
        pairs = [(encodable(user), encodable(assistant)) for user, assistant in history_pairs(history)]

        def render(start: int) -> list[int]:
            messages = build_messages(self.tokenizer, message, history=pairs[start:], system_prompt=self.system_prompt)
            return self.tokenizer(render_prompt(self.tokenizer, messages), add_special_tokens=False)["input_ids"]

        ids = render(len(pairs))
        if len(ids) > budget:
            raise ChatError(
                f"Your message is too long for this model: with the system prompt it needs {len(ids):,} tokens, but the "
                f"{self.context_tokens:,}-token context leaves {budget:,} after reserving {max_new_tokens} for the answer. "
                "Please shorten it."
            )
        # Add earlier turns newest first while they fit. Each render stays within the context, so a long session
        # costs a few short renders, not one render of the whole history per dropped turn (quadratic, seconds).
        for start in range(len(pairs) - 1, -1, -1):
            longer = render(start)
            if len(longer) > budget:
                break
            ids = longer
        return ids

    def stream(
        self,
        message: str,
        history: Iterable[Pair | dict[str, Any]] | None = None,
        settings: GenerationSettings | None = None,
        stats: StreamStats | None = None,
    ) -> Iterator[str]:
        """The model's answer as text pieces. Generation runs in a worker thread that holds one of the backend's
        slots; closing this iterator early cancels it."""
        settings = settings or GenerationSettings()
        check_settings(settings)
        prompt_ids = self.prompt_ids(message, history, settings.max_new_tokens)
        stats = stats or StreamStats()
        stats.prompt_tokens = len(prompt_ids)
        pieces: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()

        def work() -> None:
            try:
                with self._slots:
                    stats.started = time.perf_counter()  # waiting for a slot is queueing, not model time
                    if not cancel.is_set():
                        streamer = TokenStream(self.tokenizer, pieces.put, stats, skip_prompt=self.backend.skip_prompt)
                        self.backend.generate(prompt_ids, settings, streamer, cancel)
                    stats.total_s = time.perf_counter() - stats.started
            except Exception as error:  # handed to the caller's thread, which raises it
                pieces.put(error)
            finally:
                pieces.put(_DONE)

        threading.Thread(target=work, name="medassist-generate", daemon=True).start()
        try:
            while (item := pieces.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancel.set()

    def respond(
        self,
        message: str,
        history: Iterable[Pair | dict[str, Any]] | None = None,
        settings: GenerationSettings | None = None,
        stats: StreamStats | None = None,
    ) -> Iterator[str]:
        """The answer as shown to a user, growing as it streams: urgent-care notice, model text, disclaimer.

        Input that cannot be answered (empty, too long, bad settings) yields one explanatory message instead.
        """
        problem = check_message(message, self.max_message_chars)
        if problem:
            yield problem
            return
        text = urgent_notice(message)
        try:
            if text:
                yield text
            for piece in self.stream(message, history, settings, stats):
                text += piece
                yield text
        except ChatError as error:
            yield f"{text}{error}"
            return
        yield text.rstrip() + DISCLAIMER

    def reply(self, message: str, history: Iterable[Pair | dict[str, Any]] | None = None, settings: GenerationSettings | None = None) -> str:
        """The complete decorated answer (the last value `respond` yields)."""
        text = ""
        for text in self.respond(message, history, settings):
            pass
        return text


def serving_engine(adapter: str | Path, base: str | None = None, backend: str = ServeConfig.backend,
                   context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> tuple[ChatEngine, str]:
    """Engine for the web app, plus a note for its description.

    A directory without adapter_config.json (no adapter shipped yet) serves the base model and says so;
    an adapter that is present but broken or mismatched is an error, never silently replaced.
    """
    adapter = Path(adapter)
    if (adapter / ADAPTER_CONFIG).is_file():
        return ChatEngine.load(adapter, base, backend, context_tokens=context_tokens), ""
    engine = ChatEngine.load(None, base or EMBEDDED, backend, context_tokens=context_tokens)
    return engine, f"No fine-tuned adapter found in `{adapter}/`: this is the base model without medical fine-tuning."
