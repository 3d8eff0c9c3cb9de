"""LoRA settings as PEFT sees them, and how many parameters they train (checked against PEFT in the tests)."""

from __future__ import annotations

from typing import Any

from peft import LoraConfig

from .config import LoraSettings


def lora_parameter_count(
    hidden_size: int,
    intermediate_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    r: int,
    target_modules: tuple[str, ...] | list[str],
    head_dim: int | None = None,
) -> int:
    """Trainable LoRA parameters of a Llama-family model: each adapted (in -> out) linear adds r * (in + out)."""
    head_dim = head_dim or hidden_size // num_heads
    shapes = {
        "q_proj": (hidden_size, num_heads * head_dim),
        "k_proj": (hidden_size, num_kv_heads * head_dim),
        "v_proj": (hidden_size, num_kv_heads * head_dim),
        "o_proj": (num_heads * head_dim, hidden_size),
        "gate_proj": (hidden_size, intermediate_size),
        "up_proj": (hidden_size, intermediate_size),
        "down_proj": (intermediate_size, hidden_size),
    }
    unknown = set(target_modules) - set(shapes)
    if unknown:
        raise ValueError(f"no shape rule for LoRA target module(s) {sorted(unknown)}")
    per_layer = sum(r * (shapes[name][0] + shapes[name][1]) for name in target_modules)
    return per_layer * num_layers


def lora_parameter_count_for(model_config: Any, lora: LoraSettings) -> int:
    """`lora_parameter_count` read off a transformers Llama-style config."""
    return lora_parameter_count(
        hidden_size=model_config.hidden_size,
        intermediate_size=model_config.intermediate_size,
        num_layers=model_config.num_hidden_layers,
        num_heads=model_config.num_attention_heads,
        num_kv_heads=getattr(model_config, "num_key_value_heads", None) or model_config.num_attention_heads,
        r=lora.r,
        target_modules=lora.target_modules,
        head_dim=getattr(model_config, "head_dim", None),
    )


def build_lora_config(lora: LoraSettings) -> LoraConfig:
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
