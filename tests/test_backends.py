"""The backend registry: a new backend is one class and one registration, and the engine serves it unchanged."""

from __future__ import annotations

import threading

import pytest
import torch

from medassist.backends import BACKENDS, TokenStream, register_backend
from medassist.chat import ChatEngine
from medassist.config import TINY, GenerationSettings
from medassist.models import load_tokenizer
from medassist.safety import DISCLAIMER, ChatError


class EchoBackend:
    """Answers with the user's last message, token by token, through the tokenizer: no model at all."""

    name = "echo"
    skip_prompt = False
    slots = 2

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def generate(self, prompt_ids: list[int], settings: GenerationSettings, pieces: TokenStream,
                 cancel: threading.Event) -> None:
        prompt = self.tokenizer.decode(prompt_ids)
        last_user_turn = prompt.rsplit("<|im_start|>user\n", 1)[-1].split("<|im_end|>", 1)[0]
        for token in self.tokenizer(last_user_turn, add_special_tokens=False)["input_ids"][: settings.max_new_tokens]:
            if cancel.is_set():
                break
            pieces.put(torch.tensor([token]))
        pieces.end()

    def context_limit(self) -> int:
        return 512


@pytest.fixture
def echo_registered():
    @register_backend("echo")
    def echo_backend(adapter, base, *, merge=True, context_tokens):
        tokenizer = load_tokenizer(TINY)
        return EchoBackend(tokenizer), tokenizer

    yield
    del BACKENDS["echo"]


def test_a_registered_backend_is_served_by_the_engine(echo_registered):
    engine = ChatEngine.load(base=TINY, backend="echo", context_tokens=256)
    assert engine.context_tokens == 256 and "echo backend" in engine.description
    history = [{"role": "user", "content": "What is asthma?"}, {"role": "assistant", "content": "A lung disease."}]
    answer = engine.reply("Which cells release histamine?", history, GenerationSettings(max_new_tokens=50))
    assert answer == "Which cells release histamine?" + DISCLAIMER


def test_an_unknown_backend_names_the_registered_ones():
    with pytest.raises(ChatError, match="unknown backend 'nope': choose one of hf, llama.cpp"):
        ChatEngine.load(base=TINY, backend="nope")
