"""Serving: a streaming chat engine over a base model with its LoRA adapter merged in.

Choices, and why:
- The adapter is merged into the base weights (`merge_and_unload`): a token then costs one matmul
  per projection instead of three, and greedy answers are the same as the unmerged model's.
- Two backends stream from the same prompt token ids and decode text the same way:
  `hf` (transformers `generate`, fp32 on CPU: the default, it runs wherever the package does) and
  `llama.cpp` (the merged model exported once to a GGUF file, projections in Q8_0, run by
  `llama-cpp-python`). On 2 CPU cores fp32 decode is bound by reading ~0.5 GB of weights per token;
  the GGUF reads ~4x less and decodes ~3x faster, at the price of int8 rounding that can change
  answers after some tokens (bench/chat_latency.py measures both speed and agreement). Both reuse
  the system prompt's KV cache, so the first token comes after processing only the new text.
- One lock serialises generation. On 2 cores a second concurrent `generate` would only split the
  cores between two answers and slow both; requests instead run one after another, in order.
- User text is checked (empty, too long), neutralised (`prompts.neutralize`) so control strings
  cannot forge a turn, and multi-turn history is trimmed oldest-first to fit the context window.
  A message describing an emergency gets an urgent-care notice first; every answer ends with the
  disclaimer.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import queue
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache, GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, TextStreamer

from .config import GenerationSettings
from .prompts import SYSTEM_PROMPT, build_messages, render_prompt

MAX_MESSAGE_CHARS = 2000
DEFAULT_CONTEXT_TOKENS = 2048  # bounds prompt processing time on 2 CPU cores; the model itself allows more
BACKENDS = ("hf", "llama.cpp")

DISCLAIMER = (
    "\n\n---\n*MedAssist gives general medical information for learning, not personal medical advice. "
    "Consult a qualified healthcare professional about your own health.*"
)
URGENT_NOTICE = (
    "**\u26a0\ufe0f This may be a medical emergency ({signs}). Call your local emergency number "
    "(911 / 112 / 999) or go to the nearest emergency department now.{crisis}**\n\n"
)
CRISIS_LINE = " If you are thinking about suicide, call or text a crisis line (988 in the US) or talk to someone you trust today."
EMPTY_MESSAGE_REPLY = (
    "Please type a medical question, for example: *What are the early signs of type 2 diabetes?*"
)

# Words that describe an emergency, by the name the urgent-care notice gives them.
EMERGENCY_SIGNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "chest pain": r"\bchest\b.{0,30}\b(pain|pressure|tight\w*|crush\w*)|\bheart attack",
        "stroke signs": r"\bstroke\b|face\b.{0,20}\bdroop|slurred speech|sudden(ly)?\b.{0,30}\b(numb\w*|weak\w*|"
        r"confus\w*|can'?t speak)|one side of (my|his|her|their|the) (body|face)",
        "difficulty breathing": r"(can'?t|cannot|unable to|hard to|struggling to|difficulty|trouble|problems?)\W+"
        r"(\w+\W+)?breath|short(ness)? of breath|not breathing|stopped breathing|choking|turning blue",
        "suicidal thoughts": r"suicid\w*|kill(ing)? (myself|himself|herself|themselves)|end(ing)? (my|his|her) "
        r"(own )?life|want(ed)? to die|self[- ]harm|hurt(ing)? myself",
        "severe bleeding": r"(severe|heavy|heavily|uncontroll\w*|profuse\w*|a lot of)\W+(\w+\W+)?bleed\w*|"
        r"bleed\w*\W+(heavily|badly|profusely|a lot)|bleed\w*\b.{0,30}\b(won'?t|will not|doesn'?t|does not|can'?t|"
        r"cannot|not) stop|(vomit\w*|cough\w*)( up)? blood",
        "overdose or poisoning": r"overdos\w*|took too many|swallowed\b.{0,30}\b(poison|bleach|pills)|\bpoison\w*",
        "severe allergic reaction": r"anaphyla\w*|throat\b.{0,20}\b(clos\w*|swell\w*)|swollen (tongue|throat)",
        "loss of consciousness or seizure": r"unconscious|unresponsive|passed out|faint(ed)? and|seizure|convuls\w*",
    }.items()
}

Pair = tuple[str, str]
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ChatError(ValueError):
    """The engine cannot serve this request or adapter; the message says what is wrong."""


# --------------------------------------------------------------------------------------------
# Safety and validation


def detect_emergency(text: str) -> list[str]:
    """Names of the emergency signs `text` describes (empty when none)."""
    return [name for name, pattern in EMERGENCY_SIGNS.items() if pattern.search(text)]


def urgent_notice(text: str) -> str:
    signs = detect_emergency(text)
    if not signs:
        return ""
    return URGENT_NOTICE.format(signs=", ".join(signs), crisis=CRISIS_LINE if "suicidal thoughts" in signs else "")


def check_message(message: str, max_chars: int = MAX_MESSAGE_CHARS) -> str | None:
    """A reply for a message that cannot be answered (empty or too long), else None."""
    if not message or not message.strip():
        return EMPTY_MESSAGE_REPLY
    if len(message) > max_chars:
        return (
            f"Your message is {len(message):,} characters long; the limit is {max_chars:,}. "
            "Please shorten it and ask again."
        )
    return None


def encodable(text: str) -> str:
    """`text` with lone UTF-16 surrogates replaced by U+FFFD: JSON (so the Gradio API) can carry them, but UTF-8
    cannot, and the tokenizer raises on them."""
    return LONE_SURROGATE.sub("\ufffd", text)


def check_settings(settings: GenerationSettings) -> None:
    if not 0 <= settings.temperature <= 2:
        raise ChatError(f"temperature must be between 0 (greedy) and 2, got {settings.temperature}")
    if not 0 < settings.top_p <= 1:
        raise ChatError(f"top_p must be in (0, 1], got {settings.top_p}")
    if settings.max_new_tokens < 1:
        raise ChatError(f"max_new_tokens must be at least 1, got {settings.max_new_tokens}")
    if settings.repetition_penalty <= 0:
        raise ChatError(f"repetition_penalty must be positive, got {settings.repetition_penalty}")


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


# --------------------------------------------------------------------------------------------
# Loading a base model and an adapter


def load_model(
    adapter: str | Path | None, base: str | None = None, merge: bool = True
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(model, tokenizer, base source): the base named by the adapter (or `base`), the adapter applied and merged."""
    from .models import load_adapter, load_base

    if adapter is None:
        source = base or "embedded"
        model, tokenizer = load_base(source)
        return model, tokenizer, source
    tuned, tokenizer, source = load_adapter(adapter, base)
    return (tuned.merge_and_unload() if merge else tuned).eval(), tokenizer, source


# --------------------------------------------------------------------------------------------
# Exporting a merged model to GGUF for llama.cpp

GGUF_EXPORT_VERSION = 1  # part of the cache key: bump when the export format changes
GGUF_LAYER_TENSORS = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
GGUF_GLOBALS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def gguf_base_file(source: str) -> Path:
    """The GGUF file a base source was converted from; the llama.cpp backend copies its metadata and tokenizer."""
    from .models import EMBEDDED, embedded_gguf_path

    if source == EMBEDDED:
        return embedded_gguf_path()
    if source.endswith(".gguf") and Path(source).is_file():
        return Path(source)
    raise ChatError(
        f"the llama.cpp backend needs a base loaded from GGUF ('embedded' or a .gguf file), not '{source}'; "
        "use --backend hf"
    )


def hf_tensor_name(gguf_name: str) -> str:
    """Hugging Face Llama parameter name of a GGUF tensor name."""
    base, _, suffix = gguf_name.rpartition(".")
    if base in GGUF_GLOBALS:
        return f"{GGUF_GLOBALS[base]}.{suffix}"
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)", base)
    if not match or match.group(2) not in GGUF_LAYER_TENSORS:
        raise ChatError(f"cannot map GGUF tensor '{gguf_name}' to a Llama parameter")
    return f"model.layers.{match.group(1)}.{GGUF_LAYER_TENSORS[match.group(2)]}.{suffix}"


def rope_interleave(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's row order for q/k projections (rotary pairs interleaved); transformers un-does it on GGUF load."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).transpose(1, 2).reshape(weight.shape)


def export_gguf(model: PreTrainedModel, base_gguf: Path, destination: Path) -> Path:
    """Write `model`'s weights into a copy of `base_gguf` (same metadata, tokenizer and tensor list), atomically.

    Matrices are stored in Q8_0 (per-32 int8 blocks: close to the fp32 merged weights, where re-using
    the base's Q4_1 would round most of the small LoRA update away); vectors stay F32.
    """
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import quantize

    reader = GGUFReader(base_gguf)
    arch = str(reader.fields["general.architecture"].contents())
    heads = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_heads = int(reader.fields[f"{arch}.attention.head_count_kv"].contents())
    state = {name: tensor.detach().float().cpu() for name, tensor in model.state_dict().items()}
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkstemp(prefix=destination.name + ".", dir=destination.parent)[1])
    try:
        writer = GGUFWriter(staging, arch)
        for key, value in reader.fields.items():
            if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
                continue
            sub_type = value.types[1] if value.types[0] == GGUFValueType.ARRAY else None
            writer.add_key_value(key, value.contents(), value.types[0], sub_type)
        writer.add_file_type(7)  # LLAMA_FTYPE_MOSTLY_Q8_0
        for tensor in reader.tensors:
            weight = state[hf_tensor_name(tensor.name)]
            if tensor.name.endswith("attn_q.weight"):
                weight = rope_interleave(weight, heads)
            elif tensor.name.endswith("attn_k.weight"):
                weight = rope_interleave(weight, kv_heads)
            array = np.ascontiguousarray(weight.numpy())
            if array.ndim == 1:
                writer.add_tensor(tensor.name, array)
            else:
                qtype = GGMLQuantizationType.Q8_0
                writer.add_tensor(tensor.name, quantize(array, qtype), raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        staging.replace(destination)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return destination


def merged_gguf_path(adapter: str | Path | None, base_gguf: Path) -> Path:
    """Cache location of a merged export, keyed by the adapter's weights and config and the base file."""
    from .models import cache_root

    digest = hashlib.sha256(f"v{GGUF_EXPORT_VERSION}:{base_gguf.name}:{base_gguf.stat().st_size}".encode())
    if adapter is not None:
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            digest.update((Path(adapter) / name).read_bytes())
    return cache_root() / "merged-gguf" / f"{base_gguf.stem}-{digest.hexdigest()[:16]}-q8_0.gguf"


# --------------------------------------------------------------------------------------------
# Backends: prompt token ids in, text pieces out


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

    @property
    def decode_tokens_per_s(self) -> float | None:
        if self.first_token_s is None or self.total_s is None or self.new_tokens < 2:
            return None
        return (self.new_tokens - 1) / max(self.total_s - self.first_token_s, 1e-9)


class _Pieces(TextStreamer):
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


class _Cancelled(StoppingCriteria):
    def __init__(self, cancel: threading.Event):
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool, device=input_ids.device)


class HFBackend:
    """transformers `generate` on the (merged) model: fp32 on CPU, works on any device.

    The system prompt opens every conversation, so its KV cache is computed once and a copy seeds each
    request: only the history and the new message are processed before the first token.
    """

    name = "hf"

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
        sampling = settings.temperature > 0
        extra = dict(temperature=settings.temperature, top_p=settings.top_p, top_k=0) if sampling else {}
        return GenerationConfig(
            do_sample=sampling,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            **extra,
        )

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: _Pieces, cancel: threading.Event) -> None:
        device = next(self.model.parameters()).device
        inputs = torch.tensor([prompt_ids], device=device)
        self.model.generate(
            input_ids=inputs,
            attention_mask=torch.ones_like(inputs),
            cache=self.prefix_cache(prompt_ids),
            generation_config=self.generation_config(settings),
            streamer=pieces,
            stopping_criteria=[_Cancelled(cancel)],
        )

    def context_limit(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", DEFAULT_CONTEXT_TOKENS))


class LlamaCppBackend:
    """llama.cpp on a merged GGUF export: ~3x faster decode on CPU, Q8_0 rounding (answers measured in the bench).

    llama.cpp keeps the KV cache of the previous prompt, so the shared system prompt is not recomputed.
    Its repetition penalty counts the tokens it generated (up to `n_ctx` of them); `hf` also counts the prompt's.
    """

    name = "llama.cpp"

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

    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: _Pieces, cancel: threading.Event) -> None:
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


# --------------------------------------------------------------------------------------------
# The engine

_DONE = object()


class ChatEngine:
    """Turns (message, history, settings) into a streamed, decorated answer; safe to call from many threads."""

    def __init__(
        self,
        backend: HFBackend | LlamaCppBackend,
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
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        adapter: str | Path | None = None,
        base: str | None = None,
        backend: str = "hf",
        merge: bool = True,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> ChatEngine:
        """Base (from the adapter's config unless `base` is given) + adapter, merged, on the chosen backend."""
        from .evaluate import end_of_turn_ids
        from .models import adapter_base, load_tokenizer

        if backend not in BACKENDS:
            raise ChatError(f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}")
        source = base or (adapter_base(Path(adapter)) if adapter is not None else "embedded")
        what = f"base '{source}'" + (f" + adapter {adapter} ({'merged' if merge else 'unmerged'})" if adapter else "")
        if backend == "llama.cpp":
            if not merge:
                raise ChatError("the llama.cpp backend serves merged models only")
            base_gguf = gguf_base_file(source)
            gguf = merged_gguf_path(adapter, base_gguf)
            if not gguf.is_file():
                model, _, _ = load_model(adapter, base)
                export_gguf(model, base_gguf, gguf)
                del model
            tokenizer = load_tokenizer(source)
            engine_backend: HFBackend | LlamaCppBackend = LlamaCppBackend(gguf, end_of_turn_ids(tokenizer), context_tokens)
        else:
            model, tokenizer, _ = load_model(adapter, base, merge)
            engine_backend = HFBackend(model, tokenizer, end_of_turn_ids(tokenizer))
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
        """The model's answer as text pieces. Generation runs in a worker thread that holds the engine lock;
        closing this iterator early cancels it."""
        settings = settings or GenerationSettings()
        check_settings(settings)
        prompt_ids = self.prompt_ids(message, history, settings.max_new_tokens)
        stats = stats or StreamStats()
        stats.prompt_tokens = len(prompt_ids)
        pieces: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()

        def work() -> None:
            try:
                with self._lock:
                    stats.started = time.perf_counter()  # waiting for the lock is queueing, not model time
                    if not cancel.is_set():
                        streamer = _Pieces(self.tokenizer, pieces.put, stats, skip_prompt=self.backend.name == "hf")
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


def serving_engine(adapter: str | Path, base: str | None = None, backend: str = "hf") -> tuple[ChatEngine, str]:
    """Engine for the web app, plus a note for its description.

    A directory without adapter_config.json (no adapter shipped yet) serves the base model and says so;
    an adapter that is present but broken or mismatched is an error, never silently replaced.
    """
    adapter = Path(adapter)
    if (adapter / "adapter_config.json").is_file():
        return ChatEngine.load(adapter, base, backend), ""
    engine = ChatEngine.load(None, base or "embedded", backend)
    return engine, f"No fine-tuned adapter found in `{adapter}/`: this is the base model without medical fine-tuning."
