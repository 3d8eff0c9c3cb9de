"""Batched greedy generation for evaluation: many questions, one model, answers in input order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from tqdm.auto import tqdm
from transformers import (GenerationConfig, LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase,
                          RepetitionPenaltyLogitsProcessor)

from .prompts import build_messages, end_of_turn_ids, render_prompt


def build_prompt(tokenizer: PreTrainedTokenizerBase, question: str) -> str:
    return render_prompt(tokenizer, build_messages(tokenizer, question))


def greedy_config(tokenizer: PreTrainedTokenizerBase, max_new_tokens: int) -> GenerationConfig:
    """Plain greedy decoding that stops at the end of the assistant turn."""
    return GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=end_of_turn_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def answer_penalty(penalty: float, prompt_tokens: int) -> LogitsProcessorList:
    """The repetition penalty on the answer's own tokens only. `generate`'s default also counts the prompt's, which
    penalises a grounded answer for copying its sources: with the app's settings, 0.57 of answers were a source's text
    word for word, 0.76 with this (bench/served_answers.py)."""
    if penalty == 1.0:
        return LogitsProcessorList()
    return LogitsProcessorList([RepetitionPenaltyLogitsProcessor(penalty, prompt_ignore_length=prompt_tokens)])


@torch.inference_mode()
def generate_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: list[str],
    max_new_tokens: int = 128,
    batch_size: int = 8,
    generation_config: GenerationConfig | None = None,
    sort_by_length: bool = True,
    progress: bool = True,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Answers in input order, generated in left-padded batches.

    Prompts are sorted by token length first so a batch holds similar lengths and little padding;
    left padding with the attention mask (generate derives position ids from it) keeps each
    sequence's greedy output the same as when it is generated alone. `repetition_penalty` counts the answers' own
    tokens, as serving does (`answer_penalty`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generation_config = generation_config or greedy_config(tokenizer, max_new_tokens)
    prompts = [build_prompt(tokenizer, q) for q in questions]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i]) if sort_by_length else list(range(len(prompts)))
    device = next(model.parameters()).device
    answers: list[str] = [""] * len(prompts)
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="generating", unit="batch", disable=not progress):
        inputs = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
        ).to(device)
        output = model.generate(**inputs, generation_config=generation_config,
                                logits_processor=answer_penalty(repetition_penalty, inputs["input_ids"].shape[1]))
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        for index, tokens in zip(batch, new_tokens):
            answers[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
    return answers


@contextmanager
def base_view(base_model: PreTrainedModel, tuned_model: PreTrainedModel) -> Iterator[PreTrainedModel]:
    """The base model; when it is the very model the adapter was injected into, run with the adapter off."""
    shares_weights = hasattr(tuned_model, "disable_adapter") and (
        base_model is tuned_model or base_model is tuned_model.get_base_model()
    )
    with tuned_model.disable_adapter() if shares_weights else nullcontext():
        yield tuned_model if shares_weights else base_model
