"""Artefacts load from safetensors only: a pickle placed where a loader might look is never unpickled.

Each hostile pickle, if ever loaded, creates a marker file; the tests assert the marker never appears.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest
import torch
from peft import get_peft_model
from safetensors.torch import load_file

from medassist.config import LoraSettings, apply_overrides, load_profile
from medassist.models import TINY, AdapterError, ModelLoadError, load_adapter, load_base, tiny_llama
from medassist.train import TrainError, build_lora_config, last_complete_checkpoint, train

ROOT = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this runs code: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def plant_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))


@pytest.fixture
def adapter(tokenizer, tmp_path) -> Path:
    model = get_peft_model(tiny_llama(tokenizer), build_lora_config(LoraSettings(r=4, alpha=8)))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.02)  # non-zero, so loaded weights can be compared
    model.peft_config["default"].base_model_name_or_path = TINY
    model.save_pretrained(tmp_path / "adapter", save_embedding_layers=False)
    return tmp_path / "adapter"


def test_a_pickle_beside_the_safetensors_adapter_is_ignored(adapter, tmp_path):
    marker = tmp_path / "pwned"
    plant_pickle(adapter / "adapter_model.bin", marker)
    tuned, _, _ = load_adapter(adapter)
    assert not marker.exists()
    saved = load_file(adapter / "adapter_model.safetensors")
    live = {name: p for name, p in tuned.named_parameters() if "lora_B" in name}
    some_key = next(iter(k for k in saved if "lora_B" in k))
    live_key = next(k for k in live if k.startswith(some_key.removesuffix(".weight")))
    assert torch.equal(live[live_key], saved[some_key])


def test_an_adapter_that_is_only_a_pickle_is_refused(adapter, tmp_path):
    marker = tmp_path / "pwned"
    (adapter / "adapter_model.safetensors").unlink()
    plant_pickle(adapter / "adapter_model.bin", marker)
    with pytest.raises(AdapterError, match="only safetensors adapters are loaded"):
        load_adapter(adapter)
    assert not marker.exists()


def test_a_base_model_with_only_pickled_weights_is_refused(tokenizer, tmp_path):
    model_dir, marker = tmp_path / "model", tmp_path / "pwned"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "model.safetensors").unlink()
    plant_pickle(model_dir / "pytorch_model.bin", marker)
    with pytest.raises(ModelLoadError, match="safetensors only"):
        load_base(str(model_dir))
    assert not marker.exists()


def test_remote_code_in_a_model_directory_is_never_run(tokenizer, tmp_path):
    model_dir, marker = tmp_path / "model", tmp_path / "pwned"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = (model_dir / "config.json").read_text()
    (model_dir / "config.json").write_text(config.replace(
        '"architectures"', '"auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}, "architectures"', 1))
    try:
        model, _ = load_base(str(model_dir))
        assert type(model).__name__ == "LlamaForCausalLM"  # the built-in class, not the directory's code
    except (ModelLoadError, ValueError):
        pass  # refusing is as good as ignoring
    assert not marker.exists()


def test_a_pickled_checkpoint_file_is_not_unpickled_on_resume(tmp_path):
    """transformers reads rng_state.pth etc. with torch.load; torch's weights-only default refuses code objects."""
    config = apply_overrides(load_profile("smoke"), [f"output_dir={tmp_path / 'run'}", "train.max_steps=4",
                                                     "train.save_steps=2"])
    train(config)
    checkpoint = Path(last_complete_checkpoint(tmp_path / "run" / "checkpoints"))
    marker = tmp_path / "pwned"
    for name in ("rng_state.pth", "optimizer.pt", "scheduler.pt"):
        if (checkpoint / name).exists():
            plant_pickle(checkpoint / name, marker)
    with pytest.raises(TrainError, match=f"checkpoint {checkpoint} holds a file that is not plain tensors"):
        train(apply_overrides(config, ["train.max_steps=6"]), resume=True)
    assert not marker.exists()


def test_no_source_file_enables_trust_remote_code():
    """Every call that passes trust_remote_code passes the constant False."""
    offenders = []
    for path in [*sorted((ROOT / "medassist").glob("*.py")), ROOT / "app.py", *sorted((ROOT / "bench").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
