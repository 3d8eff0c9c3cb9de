"""Hostile artefacts: pickles and remote code planted where a loader might look, and what medassist does.

Each planted pickle or module, if it were ever unpickled or imported, creates a marker file. A case's verdict
is "ignored" (the safe file was used), "refused" (a clear error), or "EXECUTED" (the marker appeared).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import get_peft_model
from safetensors.torch import load_file
from transformers import PreTrainedTokenizerBase

from medassist.config import LoraSettings, apply_overrides, load_profile
from medassist.models import TINY, AdapterError, ModelLoadError, load_adapter, load_base, tiny_llama
from medassist.lora import build_lora_config
from medassist.run_checks import TrainError, last_complete_checkpoint
from medassist.train import train


class Payload:
    """Unpickling this runs code: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def plant_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))


@dataclass
class Outcome:
    case: str
    verdict: str
    detail: str


def save_tiny_adapter(tokenizer: PreTrainedTokenizerBase, directory: Path) -> Path:
    """A LoRA adapter for the tiny Llama with non-zero B matrices, so loaded weights can be compared."""
    model = get_peft_model(tiny_llama(tokenizer), build_lora_config(LoraSettings(r=4, alpha=8)))
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.02)
    model.peft_config["default"].base_model_name_or_path = TINY
    model.save_pretrained(directory, save_embedding_layers=False)
    return directory


def pickle_beside_safetensors_adapter(tokenizer: PreTrainedTokenizerBase, work: Path, marker: Path) -> str:
    adapter = save_tiny_adapter(tokenizer, work / "adapter")
    plant_pickle(adapter / "adapter_model.bin", marker)
    tuned, _, _ = load_adapter(adapter)
    saved = load_file(adapter / "adapter_model.safetensors")
    live = dict(tuned.named_parameters())
    loaded_the_safetensors = all(
        torch.equal(parameter, saved[key]) for key, parameter in
        ((k, live[k.replace(".weight", ".default.weight")]) for k in saved if "lora_B" in k)
    )
    return "ignored" if loaded_the_safetensors else "weights differ from adapter_model.safetensors"


def pickle_only_adapter(tokenizer: PreTrainedTokenizerBase, work: Path, marker: Path) -> str:
    adapter = save_tiny_adapter(tokenizer, work / "adapter")
    (adapter / "adapter_model.safetensors").unlink()
    plant_pickle(adapter / "adapter_model.bin", marker)
    try:
        load_adapter(adapter)
    except AdapterError as error:
        return "refused" if "only safetensors adapters are loaded" in str(error) else f"unclear error: {error}"
    return "loaded a pickle-only adapter"


def pickle_only_base_model(tokenizer: PreTrainedTokenizerBase, work: Path, marker: Path) -> str:
    model_dir = work / "model"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "model.safetensors").unlink()
    plant_pickle(model_dir / "pytorch_model.bin", marker)
    try:
        load_base(str(model_dir))
    except ModelLoadError as error:
        return "refused" if "safetensors only" in str(error) else f"unclear error: {error}"
    return "loaded pickled weights"


def remote_code_in_model_directory(tokenizer: PreTrainedTokenizerBase, work: Path, marker: Path) -> str:
    model_dir = work / "model"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    (model_dir / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = (model_dir / "config.json").read_text()
    (model_dir / "config.json").write_text(config.replace(
        '"architectures"', '"auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}, "architectures"', 1))
    try:
        model, _ = load_base(str(model_dir))
    except (ModelLoadError, ValueError) as error:
        return f"refused: {str(error)[:80]}"
    return "ignored" if type(model).__name__ == "LlamaForCausalLM" else f"loaded {type(model).__name__}"


def pickled_checkpoint_on_resume(tokenizer: PreTrainedTokenizerBase, work: Path, marker: Path) -> str:
    """transformers reads rng_state.pth etc. with torch.load; torch's weights-only default refuses code objects."""
    config = apply_overrides(load_profile("smoke"), [f"output_dir={work / 'run'}", "train.max_steps=4", "train.save_steps=2"])
    train(config)
    checkpoint = last_complete_checkpoint(work / "run" / "checkpoints")
    for name in ("rng_state.pth", "optimizer.pt", "scheduler.pt"):
        if (Path(checkpoint) / name).exists():
            plant_pickle(Path(checkpoint) / name, marker)
    try:
        train(apply_overrides(config, ["train.max_steps=6"]), resume=True)
    except TrainError as error:
        expected = f"checkpoint {checkpoint} holds a file that is not plain tensors"
        return "refused" if expected in str(error) else f"unclear error: {error}"
    return "resumed from a pickled checkpoint"


CASES: dict[str, Callable[[PreTrainedTokenizerBase, Path, Path], str]] = {
    "pickle beside a safetensors adapter": pickle_beside_safetensors_adapter,
    "adapter that is only a pickle": pickle_only_adapter,
    "base model with only pickled weights": pickle_only_base_model,
    "remote code in a model directory": remote_code_in_model_directory,
    "pickled files in a checkpoint, then --resume": pickled_checkpoint_on_resume,
}
SAFE_VERDICTS = {name: {"refused"} for name in CASES} | {
    "pickle beside a safetensors adapter": {"ignored"},
    "remote code in a model directory": {"ignored", "refused"},  # refusing is as safe as ignoring
}


def run_case(name: str, tokenizer: PreTrainedTokenizerBase) -> Outcome:
    """Run one case in a fresh directory; whatever the loader says, the marker decides whether code ran."""
    with tempfile.TemporaryDirectory() as temp:
        work, marker = Path(temp), Path(temp) / "pwned"
        try:
            verdict = CASES[name](tokenizer, work, marker)
        except Exception as error:  # noqa: BLE001 - anything else escaping is counted, not hidden
            verdict = f"crash: {type(error).__name__}: {str(error)[:120]}"
        if marker.exists():
            return Outcome(name, "EXECUTED", verdict)
        return Outcome(name, verdict.split(":")[0] if verdict.startswith("refused") else verdict, verdict)
