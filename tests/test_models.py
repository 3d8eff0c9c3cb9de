import pytest
import torch

from medassist.models import EMBEDDED, ModelLoadError, count_parameters, load_base, pick_dtype, resolve_source, tiny_llama
from medassist.prompts import build_messages, render_prompt


def test_cpu_precision_is_fp32_and_names_are_checked():
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cuda")) == torch.float16
    assert pick_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        pick_dtype(torch.device("cpu"), "fp8")


def test_tiny_llama_is_reproducible_and_sized_to_the_tokenizer(tokenizer):
    a, b = tiny_llama(tokenizer, seed=3), tiny_llama(tokenizer, seed=3)
    assert a.config.vocab_size == len(tokenizer)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    trainable, total = count_parameters(a)
    assert trainable == total == sum(p.numel() for p in a.parameters())


@pytest.mark.parametrize("source, message", [
    ("not a model", "neither a local path nor a hub id"),
    ("/no/such/file.gguf", "GGUF file not found"),
])
def test_bad_sources_are_named(source, message):
    with pytest.raises(ModelLoadError, match=message):
        resolve_source(source)


def test_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_source(str(tmp_path))


def test_offline_hub_id_explains_the_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="--model embedded"):
        load_base("no-such-org/no-such-model")


def test_non_causal_model_is_refused(tmp_path):
    from transformers import T5Config, T5Model

    T5Model(T5Config(d_model=32, d_ff=64, num_layers=1, num_heads=2, d_kv=16, vocab_size=128)).save_pretrained(tmp_path)
    embedded_tokenizer_dir = resolve_source(EMBEDDED)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(embedded_tokenizer_dir).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a causal language model"):
        load_base(str(tmp_path))


@pytest.mark.slow
def test_embedded_model_answers_a_question():
    model, tokenizer = load_base(EMBEDDED)
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert 130e6 < count_parameters(model)[1] < 140e6
    prompt = render_prompt(tokenizer, build_messages(tokenizer, "What organ produces insulin?"))
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "insulin" in answer.lower()  # greedy on fixed weights: the same on-topic text every run
