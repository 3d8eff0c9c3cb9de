"""The chat engine: (message, history, settings) in, a streamed answer as a user sees it out.

What happens to a message, in order (`ChatEngine.turn`): an emergency gets fixed, reviewed guidance and
no generated text (medassist.safety); an empty or oversized message gets an explanation; the knowledge
base is searched (medassist.retrieval, medassist.grounding) and a question no card answers gets a fixed
abstention; otherwise history, normalised from Gradio messages or (user, assistant) pairs, bounded by
characters and trimmed oldest-first to fit the context, goes with the retrieved sources and the message
into the model's chat template (user text neutralised so it cannot forge a turn), and the backend
(medassist.backends) streams the answer, which is shown with its sources. Every turn ends with the disclaimer.

Generation runs in a worker thread; at most `backend.slots` run at once (one for `hf` and `llama.cpp`:
on 2 cores a second concurrent `generate` would only split the cores), the others wait in order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from .backends import Backend, StreamStats, TokenStream, create_backend
from .config import ADAPTER_CONFIG, EMBEDDED, GenerationSettings, GroundingConfig, ServeConfig
from .models import adapter_base
from .prompts import SYSTEM_PROMPT, build_messages, render_prompt
from .grounding import ABSTAIN_ANSWER, grounded_question, is_abstention, retrieve
from .emergency import classifier as emergency_classifier
from .retrieval import Hit, KnowledgeBase
from .safety import DISCLAIMER, MAX_MESSAGE_CHARS, ChatError, check_message, check_settings, emergency_reply, encodable

Pair = tuple[str, str]
DEFAULT_CONTEXT_TOKENS = ServeConfig.context_tokens
CHARS_PER_TOKEN_BOUND = 8  # generous: medical English averages about 4 characters per token
SOURCES_HEADING = "Sources (from the knowledge base):"


# --------------------------------------------------------------------------------------------
# History: (user, assistant) pairs from Gradio messages, without the engine's own decorations


def message_text(content: Any) -> str:
    """Text of a chat message's content: a string, or Gradio 6's list of typed parts (files are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if "path" in content or content.get("type", "text") != "text":
            return ""  # an uploaded file or another component: nothing to read
        if not isinstance(content.get("text"), str):
            raise ChatError(f"a message part's text must be a string, got {type(content.get('text')).__name__}")
        return content["text"]
    if isinstance(content, list):
        return "".join(message_text(part) for part in content)
    raise ChatError(f"a message's content must be text or a list of parts, got {type(content).__name__}")


def strip_decorations(answer: str) -> str:
    """The answer's own words: without the sources list and the disclaimer the engine added."""
    return answer.removesuffix(DISCLAIMER).split(SOURCES_HEADING, 1)[0].rstrip()


def history_pairs(history: Iterable[Pair | dict[str, Any]] | None) -> list[Pair]:
    """(user, assistant) pairs from the two documented formats, Gradio messages (role/content dicts) or
    (user, assistant) pairs; an unanswered user turn is dropped and anything else is a ChatError."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, Iterable):
        raise ChatError(f"history must be a list of messages or (user, assistant) pairs, got {type(history).__name__}")
    pairs: list[Pair] = []
    pending: list[str] = []
    answer: list[str] = []
    for index, item in enumerate(history):
        if isinstance(item, (tuple, list)):
            if len(item) != 2 or not isinstance(item[0], str) or not isinstance(item[1], (str, type(None))):
                raise ChatError(f"history item {index} must be a (user text, assistant text) pair, got {_shape(item)}")
            if item[1] is not None:  # (text, None): a turn Gradio shows before it is answered
                pairs.append((item[0], strip_decorations(item[1])))
            continue
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant", "system"):
            raise ChatError(f"history item {index} must be a message with role user or assistant, got {_shape(item)}")
        text = message_text(item.get("content", ""))
        if item["role"] == "user":
            if answer:
                pairs.append(("\n".join(pending), strip_decorations("\n".join(answer))))
                pending, answer = [], []
            pending.append(text)
        elif item["role"] == "assistant" and pending and not (item.get("metadata") or {}).get("title"):
            answer.append(text)  # a message with a title is a collapsible source card the app showed, not the answer
    if pending and answer:
        pairs.append(("\n".join(pending), strip_decorations("\n".join(answer))))
    return pairs


def _shape(item: Any) -> str:
    return f"a {len(item)}-item {type(item).__name__}" if isinstance(item, (tuple, list)) else type(item).__name__


@dataclass
class Reply:
    """One turn as the engine answers it: the text so far, the cards it rests on, and why it looks as it does."""

    text: str
    sources: list[Hit] = field(default_factory=list)
    kind: str = "answer"  # answer (generated from sources) | emergency (fixed guidance) | abstain | refused
    done: bool = False


def render_sources(hits: list[Hit]) -> str:
    """The sources as plain text under an answer (the CLI and `reply`); the app shows them as collapsible cards."""
    if not hits:
        return ""
    cards = "\n".join(f"[{n}] {hit.card.question}\n    {hit.card.answer}" for n, hit in enumerate(hits, start=1))
    return f"\n\n{SOURCES_HEADING}\n{cards}"


def as_text(reply: Reply) -> str:
    """A reply as plain text: its text so far, then once done its sources listed under it and the disclaimer."""
    if reply.done and reply.sources:
        return reply.text.removesuffix(DISCLAIMER) + render_sources(reply.sources) + DISCLAIMER
    return reply.text


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
        knowledge_base: KnowledgeBase | None = None,
        grounding: GroundingConfig | None = None,
    ):
        self.backend = backend
        self.tokenizer = tokenizer
        self.description = description
        self.context_tokens = min(context_tokens, backend.context_limit())
        self.system_prompt = system_prompt
        self.max_message_chars = max_message_chars
        self.knowledge_base = knowledge_base  # None: closed-book (tests and benchmarks of the bare model)
        self.grounding = grounding or GroundingConfig()
        self._slots = threading.Semaphore(backend.slots)

    @classmethod
    def load(
        cls,
        adapter: str | Path | None = None,
        base: str | None = None,
        backend: str = "hf",
        merge: bool = True,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        grounding: GroundingConfig | None = None,
    ) -> ChatEngine:
        """Base (from the adapter's config unless `base` is given) + adapter, merged, on the named backend;
        with `grounding`, answers come from its knowledge base."""
        source = base or (adapter_base(Path(adapter)) if adapter is not None else EMBEDDED)
        what = f"base '{source}'" + (f" + adapter {adapter} ({'merged' if merge else 'unmerged'})" if adapter else "")
        knowledge_base = KnowledgeBase.load(grounding.knowledge_base) if grounding is not None else None
        emergency_classifier()  # fitted now (~2 s) rather than during the first user's message
        engine_backend, tokenizer = create_backend(backend, adapter, base, merge=merge, context_tokens=context_tokens)
        return cls(engine_backend, tokenizer, f"{what}, {backend} backend", context_tokens,
                   knowledge_base=knowledge_base, grounding=grounding)

    def prompt_ids(self, message: str, history: Iterable[Pair | dict[str, Any]] | None = None, max_new_tokens: int = 256) -> list[int]:
        """Token ids of system prompt + as much recent history as fits + the new message, ending with the assistant header."""
        budget = self.context_tokens - max_new_tokens
        if budget <= 0:
            raise ChatError(f"max_new_tokens={max_new_tokens} leaves no room for the prompt in the {self.context_tokens}-token context")
        message = encodable(message)
        pairs = self.recent_turns(history)

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

    def recent_turns(self, history: Iterable[Pair | dict[str, Any]] | None) -> list[Pair]:
        """The newest turns whose text could fit the context, bounded by characters before anything is tokenised.

        A token is at least one character, so turns beyond `CHARS_PER_TOKEN_BOUND` characters per context token can
        never fit: whatever the history holds (a 50 MB turn, 10,000 turns), prompt building stays cheap. Turns whose
        message was refused (too long) never enter a prompt.
        """
        budget = self.context_tokens * CHARS_PER_TOKEN_BOUND
        kept: list[Pair] = []
        for user, assistant in reversed(history_pairs(history)):
            if len(user) > self.max_message_chars:
                continue
            budget -= len(user) + len(assistant)
            if budget < 0:
                break
            kept.append((encodable(user), encodable(assistant)))
        return kept[::-1]

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

    def turn(
        self,
        message: str,
        history: Iterable[Pair | dict[str, Any]] | None = None,
        settings: GenerationSettings | None = None,
        stats: StreamStats | None = None,
    ) -> Iterator[Reply]:
        """One turn, growing as it streams; the last Reply has `done` set and ends with the disclaimer.

        In this order: an emergency (in this message, or earlier in the conversation until the user moves on) gets
        fixed guidance and the model generates nothing; an empty or oversized message gets an explanation; with a
        knowledge base, a question no card answers gets the fixed abstention; otherwise the model answers from the
        retrieved cards, which come with the reply as its sources.
        """
        try:
            earlier, history_error = [user for user, _ in history_pairs(history)], None
        except ChatError as error:  # the message is still checked for an emergency first
            earlier, history_error = [], error
        guidance = emergency_reply(message if isinstance(message, str) else "", earlier)
        if guidance is not None:
            yield Reply(guidance + DISCLAIMER, kind="emergency", done=True)
            return
        if history_error is not None or not isinstance(message, str):
            yield Reply(str(history_error or f"the message must be text, got {type(message).__name__}"), kind="refused", done=True)
            return
        problem = check_message(message, self.max_message_chars)
        if problem:
            yield Reply(problem, kind="refused", done=True)
            return
        hits: list[Hit] = []
        question = message
        if self.knowledge_base is not None:
            hits = retrieve(self.knowledge_base, message, self.grounding)
            if not hits:
                yield Reply(ABSTAIN_ANSWER + DISCLAIMER, kind="abstain", done=True)
                return
            question = grounded_question(message, hits)
        text = ""
        try:
            for piece in self.stream(question, history, settings, stats):
                text += piece
                yield Reply(text, hits)
        except ChatError as error:  # any text already generated keeps its sources
            yield Reply(f"{text}{error}", hits if text else [], kind="refused", done=True)
            return
        kind = "abstain" if is_abstention(text) else "answer"
        yield Reply(text.rstrip() + DISCLAIMER, [] if kind == "abstain" else hits, kind, done=True)

    def reply(self, message: str, history: Iterable[Pair | dict[str, Any]] | None = None, settings: GenerationSettings | None = None) -> str:
        """The complete decorated answer: the finished turn as plain text, its sources listed under it."""
        last = None
        for last in self.turn(message, history, settings):
            pass
        return as_text(last)


def serving_engine(adapter: str | Path, base: str | None = None, backend: str = ServeConfig.backend,
                   context_tokens: int = DEFAULT_CONTEXT_TOKENS,
                   grounding: GroundingConfig | None = None) -> tuple[ChatEngine, str]:
    """Engine for the web app, plus a note for its description.

    A directory without adapter_config.json (no adapter shipped yet) serves the base model and says so;
    an adapter that is present but broken or mismatched is an error, never silently replaced.
    """
    adapter = Path(adapter)
    if (adapter / ADAPTER_CONFIG).is_file():
        return ChatEngine.load(adapter, base, backend, context_tokens=context_tokens, grounding=grounding), ""
    engine = ChatEngine.load(None, base or EMBEDDED, backend, context_tokens=context_tokens, grounding=grounding)
    return engine, f"No fine-tuned adapter found in `{adapter}/`: this is the base model without medical fine-tuning."
