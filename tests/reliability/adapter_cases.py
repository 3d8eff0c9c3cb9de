"""Broken LoRA adapters, built from a real one, and what `medassist.models.load_adapter` must say about each.

Every case starts from a real PEFT adapter for the tiny Llama (2 layers, r=4, the 7 Llama projections, non-zero
B matrices, base recorded as "tiny") and breaks one thing: the config, the safetensors file, or one tensor.
A broken adapter must be refused with one `AdapterError` line naming the file (and the first bad tensor);
a valid variant must load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import get_peft_model
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from medassist.config import ADAPTER_CONFIG, ADAPTER_WEIGHTS, LoraSettings
from medassist.lora import build_lora_config
from medassist.models import TINY, tiny_llama

PREFIX = "base_model.model.model.layers"


def save_adapter(tokenizer: PreTrainedTokenizerBase, directory: Path, r: int = 4,
                 modules: tuple[str, ...] = LoraSettings().target_modules, zero_b: bool = False) -> Path:
    """A real PEFT adapter for the tiny Llama; B matrices non-zero unless `zero_b` (PEFT's fresh initialisation)."""
    model = get_peft_model(tiny_llama(tokenizer), build_lora_config(LoraSettings(r=r, alpha=2 * r, target_modules=modules)))
    if not zero_b:
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.02)
    model.peft_config["default"].base_model_name_or_path = TINY
    model.save_pretrained(directory, save_embedding_layers=False)
    return directory


def _edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(adapter: Path) -> None:
        config = json.loads((adapter / ADAPTER_CONFIG).read_text())
        config.update(changes)
        (adapter / ADAPTER_CONFIG).write_text(json.dumps(config))
    return edit


def _write_config(value: object) -> Callable[[Path], None]:
    return lambda adapter: (adapter / ADAPTER_CONFIG).write_text(json.dumps(value))


def _edit_weights(change: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]) -> Callable[[Path], None]:
    def edit(adapter: Path) -> None:
        tensors = load_file(adapter / ADAPTER_WEIGHTS)
        save_file(change(dict(tensors)), adapter / ADAPTER_WEIGHTS, metadata={"format": "pt"})
    return edit


def _set(key: str, make: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], None]:
    def change(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tensors[key] = make(tensors[key])
        return tensors
    return _edit_weights(change)


def _drop(fragment: str) -> Callable[[Path], None]:
    return _edit_weights(lambda tensors: {k: v for k, v in tensors.items() if fragment not in k})


def _add(key: str, shape: tuple[int, ...]) -> Callable[[Path], None]:
    def change(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tensors[key] = torch.zeros(shape)
        return tensors
    return _edit_weights(change)


def _bytes(cut: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(adapter: Path) -> None:
        path = adapter / ADAPTER_WEIGHTS
        path.write_bytes(cut(path.read_bytes()))
    return edit


def _one_inf(tensor: torch.Tensor) -> torch.Tensor:
    tensor[0, 0] = float("inf")
    return tensor


def _nothing(adapter: Path) -> None:
    pass


@dataclass
class AdapterCase:
    """`break_it` changes a saved adapter in place. `refused` is a list of texts the one-line error must contain
    (besides the file it names: `names`, ADAPTER_CONFIG or ADAPTER_WEIGHTS); None means the adapter must load."""

    name: str
    break_it: Callable[[Path], None]
    refused: list[str] | None = None
    names: str = ADAPTER_WEIGHTS
    save: dict[str, object] = field(default_factory=dict)  # save_adapter options


Q0, V1 = f"{PREFIX}.0.self_attn.q_proj", f"{PREFIX}.1.self_attn.v_proj"
CASES = [
    # the weights file
    AdapterCase("empty safetensors file", _bytes(lambda data: b""), ["not a readable safetensors file"]),
    AdapterCase("truncated safetensors file", _bytes(lambda data: data[: len(data) // 2]),
                ["not a readable safetensors file"]),
    AdapterCase("garbage instead of safetensors", _bytes(lambda data: b"\x00" * 64), ["not a readable safetensors file"]),
    # tensors: values
    AdapterCase("all-NaN lora_B", _set(f"{V1}.lora_B.weight", lambda t: torch.full_like(t, float("nan"))),
                [f"{V1}.lora_B.weight", "NaN or infinite"]),
    AdapterCase("one inf in lora_A", _set(f"{Q0}.lora_A.weight", _one_inf), [f"{Q0}.lora_A.weight", "NaN or infinite"]),
    AdapterCase("integer lora_A", _set(f"{Q0}.lora_A.weight", lambda t: t.to(torch.int32)),
                [f"{Q0}.lora_A.weight", "floating point"]),
    # tensors: which are there
    AdapterCase("missing layer-0 tensors", _drop(".layers.0."), ["missing tensor", f"{PREFIX}.0."]),
    AdapterCase("one lora_B missing", _drop(f"{V1}.lora_B"), ["missing tensor", f"{V1}.lora_B.weight"]),
    AdapterCase("no tensors at all", _drop("lora"), ["missing tensor"]),
    AdapterCase("target_modules q_proj over 7-module weights", _edit_config(target_modules=["q_proj"]),
                ["unexpected tensor", "not in target_modules"]),
    AdapterCase("extra k_proj weights in a q,v adapter", _add(f"{PREFIX}.0.self_attn.k_proj.lora_A.weight", (4, 64)),
                ["unexpected tensor", f"{PREFIX}.0.self_attn.k_proj.lora_A.weight"], save={"modules": ("q_proj", "v_proj")}),
    AdapterCase("embedding weights saved alongside", _add("base_model.model.model.embed_tokens.weight", (8, 64)),
                ["unexpected tensor", "embed_tokens"]),
    AdapterCase("weights for a layer the base does not have", _add(f"{PREFIX}.5.self_attn.q_proj.lora_A.weight", (4, 64)),
                ["layers.5.self_attn.q_proj", "which the base does not have"]),
    # tensors: shapes
    AdapterCase("rank mismatch: config r=8, weights r=4", _edit_config(r=8),
                ["mlp.down_proj.lora_A.weight has shape [4, 128], expected [8, 128]", "r=8"]),
    AdapterCase("one lora_A with another rank", _set(f"{Q0}.lora_A.weight", lambda t: torch.zeros(2, 64)),
                [f"{Q0}.lora_A.weight", "has shape [2, 64], expected [4, 64]"]),
    AdapterCase("lora_B wider than the layer", _set(f"{Q0}.lora_B.weight", lambda t: torch.zeros(128, 4)),
                [f"{Q0}.lora_B.weight", "out_features=64"]),
    # the config
    AdapterCase("config is a list", _write_config([{"peft_type": "LORA"}]), ["must hold a JSON object, got a list"],
                ADAPTER_CONFIG),
    AdapterCase("config is not JSON", lambda a: (a / ADAPTER_CONFIG).write_text("{not json"), ["is not valid JSON"],
                ADAPTER_CONFIG),
    AdapterCase("PREFIX_TUNING adapter", _edit_config(peft_type="PREFIX_TUNING"),
                ["PREFIX_TUNING adapters are not supported"], ADAPTER_CONFIG),
    AdapterCase("no peft_type", _edit_config(peft_type=None), ["does not record a peft_type"], ADAPTER_CONFIG),
    AdapterCase("base_model_name_or_path: 123", _edit_config(base_model_name_or_path=123),
                ["base_model_name_or_path must be a model name or path, got 123"], ADAPTER_CONFIG),
    AdapterCase("base_model_name_or_path missing", _edit_config(base_model_name_or_path=None),
                ["does not record base_model_name_or_path"], ADAPTER_CONFIG),
    AdapterCase("r is 0", _edit_config(r=0), ["r must be an int >= 1, got 0"], ADAPTER_CONFIG),
    AdapterCase("r is a string", _edit_config(r="4"), ["r must be an int >= 1, got '4'"], ADAPTER_CONFIG),
    AdapterCase("lora_alpha is 0", _edit_config(lora_alpha=0), ["lora_alpha must be a finite number > 0"], ADAPTER_CONFIG),
    AdapterCase("target_modules is a number", _edit_config(target_modules=42),
                ["target_modules must be a non-empty list of module names, got 42"], ADAPTER_CONFIG),
    AdapterCase("target_modules is empty", _edit_config(target_modules=[]), ["target_modules must be a non-empty list"],
                ADAPTER_CONFIG),
    AdapterCase("target_modules names no module of the base", _edit_config(target_modules=["c_attn"]),
                ["cannot be applied to this base model"], ADAPTER_CONFIG),
    # valid variants: must load
    AdapterCase("valid adapter", _nothing),
    AdapterCase("valid adapter with zero B matrices (fresh initialisation)", _nothing, save={"zero_b": True}),
    AdapterCase("valid q,v adapter", _nothing, save={"modules": ("q_proj", "v_proj")}),
    AdapterCase("valid adapter whose target_modules is a regex", _edit_config(target_modules=r".*\.(q_proj|v_proj)"),
                save={"modules": ("q_proj", "v_proj")}),
]
