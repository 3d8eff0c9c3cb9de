"""Chat formatting: one system prompt, rendered with the model's own chat template.

Training, evaluation and serving all build their text here, so the model sees at inference exactly
the format it was tuned on. User text is neutralised first: a chat-template control string typed
by a user (or present in a dataset row) must never become a real turn boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from .config import ANSWER, QUESTION

SYSTEM_PROMPT = (
    "You are a medical knowledge assistant for students. Answer from the numbered sources given with the "
    "question, citing them like [1]. If the sources do not answer the question, say that your sources have "
    "nothing on it. You do not give personal medical advice."
)

# TinyLlama-1.1B-Chat's Zephyr-style format, used when a tokenizer ships no chat template.
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
ZEPHYR_CONTROL_STRINGS = ("<|system|>", "<|user|>", "<|assistant|>", "</s>", "<s>")

Message = dict[str, str]


def ensure_chat_template(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give a template-less tokenizer the Zephyr format (in place) and return it."""
    if not tokenizer.chat_template:
        tokenizer.chat_template = ZEPHYR_TEMPLATE
    return tokenizer


def control_strings(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Strings that would be read as turn structure: special tokens plus the Zephyr markers."""
    specials = set(tokenizer.all_special_tokens) | set(ZEPHYR_CONTROL_STRINGS)
    specials |= {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    return sorted((s for s in specials if s), key=len, reverse=True)


def neutralize(text: str, tokenizer: PreTrainedTokenizerBase) -> str:
    """Break every control string in user text so it is read as plain characters.

    A zero-width space after the first character keeps the text readable to a person while
    the tokenizer can no longer match the special token.
    """
    for marker in control_strings(tokenizer):
        if marker in text:
            text = text.replace(marker, marker[0] + "\u200b" + marker[1:])
    return text


def build_messages(
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    answer: str | None = None,
    history: list[tuple[str, str]] | None = None,
    system_prompt: str = SYSTEM_PROMPT,
) -> list[Message]:
    """System prompt, earlier (user, assistant) turns, the new question and optionally its answer."""
    messages: list[Message] = [{"role": "system", "content": system_prompt}]
    for user_turn, assistant_turn in history or []:
        messages.append({"role": "user", "content": neutralize(user_turn, tokenizer)})
        messages.append({"role": "assistant", "content": neutralize(assistant_turn, tokenizer)})
    messages.append({"role": "user", "content": neutralize(question, tokenizer)})
    if answer is not None:
        messages.append({"role": "assistant", "content": neutralize(answer, tokenizer)})
    return messages


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: list[Message]) -> str:
    """Text up to and including the assistant header, ready for generation."""
    ensure_chat_template(tokenizer)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class PromptCompletion:
    prompt: str
    completion: str  # the answer plus the template's end-of-turn marker


def to_prompt_completion(tokenizer: PreTrainedTokenizerBase, row: dict[str, str]) -> PromptCompletion:
    """Split a formatted example so the loss can cover the answer tokens only."""
    ensure_chat_template(tokenizer)
    prompt_messages = build_messages(tokenizer, row[QUESTION])  # the generic instruction gives way to the system prompt
    full_messages = build_messages(tokenizer, row[QUESTION], row[ANSWER])
    prompt = render_prompt(tokenizer, prompt_messages)
    full = tokenizer.apply_chat_template(full_messages, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently with and without the answer")
    return PromptCompletion(prompt=prompt, completion=full[len(prompt) :])


@dataclass
class EncodedExample:
    input_ids: list[int]
    completion_mask: list[int]  # 1 on answer tokens (the loss covers these), 0 on the prompt


def encode(tokenizer: PreTrainedTokenizerBase, row: dict[str, str], max_length: int) -> EncodedExample:
    """Token ids and completion mask; an over-long answer is cut at `max_length`, the prompt is kept."""
    pair = to_prompt_completion(tokenizer, row)
    prompt_ids = tokenizer(pair.prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(pair.completion, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) >= max_length:
        raise ValueError(f"prompt alone is {len(prompt_ids)} tokens, over max_length={max_length}: {row[QUESTION][:80]!r}")
    completion_ids = completion_ids[: max_length - len(prompt_ids)]
    return EncodedExample(
        input_ids=prompt_ids + completion_ids,
        completion_mask=[0] * len(prompt_ids) + [1] * len(completion_ids),
    )


def end_of_turn_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Token ids that end an assistant turn: EOS plus the special tokens the chat template closes a turn with."""
    completion = to_prompt_completion(tokenizer, {QUESTION: "q", ANSWER: "a"}).completion
    special = set(tokenizer.all_special_ids)
    ids = [i for i in tokenizer(completion, add_special_tokens=False)["input_ids"] if i in special]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))
