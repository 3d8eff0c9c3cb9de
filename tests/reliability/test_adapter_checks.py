"""Broken adapters are refused with one line naming the file and the first bad tensor, never served as if fine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medassist.config import ADAPTER_CONFIG, EMBEDDED, EMBEDDED_HUB_ID
from medassist.models import AdapterError, adapter_base, load_adapter, read_adapter_config, resolve_source
from reliability.adapter_cases import CASES, PREFIX, save_adapter

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ADAPTER = ROOT / "medical_lora_adapter"


def test_there_are_many_corruptions_and_some_valid_variants():
    refused = [case for case in CASES if case.refused is not None]
    assert len(refused) >= 20 and len(CASES) - len(refused) >= 3


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_broken_adapter_is_refused_with_one_line_naming_the_file(case, tokenizer, tmp_path):
    adapter = save_adapter(tokenizer, tmp_path / "adapter", **case.save)
    case.break_it(adapter)
    if case.refused is None:
        tuned, _, source = load_adapter(adapter)
        assert source == "tiny" and all(torch.isfinite(p).all() for p in tuned.parameters())
        return
    with pytest.raises(AdapterError) as error:
        load_adapter(adapter)
    message = str(error.value)
    assert "\n" not in message
    assert str(adapter / case.names) in message, message
    for text in case.refused:
        assert text in message, message


def test_the_first_bad_tensor_is_named_in_layer_order(tokenizer, tmp_path):
    """With layers 0 and 1 both broken, the message names layer 0's tensor, whatever the order in the file."""
    from safetensors.torch import load_file, save_file

    adapter = save_adapter(tokenizer, tmp_path / "adapter")
    tensors = load_file(adapter / "adapter_model.safetensors")
    for key in (f"{PREFIX}.1.mlp.up_proj.lora_B.weight", f"{PREFIX}.0.mlp.up_proj.lora_B.weight"):
        tensors[key] = torch.full_like(tensors[key], float("nan"))
    save_file(dict(reversed(list(tensors.items()))), adapter / "adapter_model.safetensors")
    with pytest.raises(AdapterError, match=rf"{PREFIX}\.0\.mlp\.up_proj\.lora_B\.weight holds NaN"):
        load_adapter(adapter)


def test_an_explicit_base_loads_an_adapter_that_does_not_record_one(tokenizer, tmp_path):
    adapter = save_adapter(tokenizer, tmp_path / "adapter")
    config = json.loads((adapter / ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = None
    (adapter / ADAPTER_CONFIG).write_text(json.dumps(config))
    with pytest.raises(AdapterError, match="pass the base model explicitly"):
        load_adapter(adapter)
    assert load_adapter(adapter, base="tiny")[2] == "tiny"


@pytest.mark.slow
@pytest.mark.parametrize("recorded", [EMBEDDED, EMBEDDED_HUB_ID])
def test_shipped_adapter_loads_whether_it_records_embedded_or_the_hub_id(recorded, tmp_path):
    """Old adapters record "embedded"; new ones the Hub id, which medassist maps to the same embedded copy."""
    adapter = tmp_path / "adapter"
    shutil.copytree(SHIPPED_ADAPTER, adapter)
    config = json.loads((adapter / ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = recorded
    (adapter / ADAPTER_CONFIG).write_text(json.dumps(config))
    assert read_adapter_config(adapter)["peft_type"] == "LORA" and adapter_base(adapter) == recorded
    assert resolve_source(recorded) == resolve_source(EMBEDDED)
    tuned, _, source = load_adapter(adapter)
    assert source == recorded and any("lora_B" in name for name, _ in tuned.named_parameters())


def _nan_adapter(tokenizer, directory: Path) -> tuple[Path, str]:
    from reliability.adapter_cases import V1

    adapter = save_adapter(tokenizer, directory)
    [case] = [case for case in CASES if case.name == "all-NaN lora_B"]
    case.break_it(adapter)
    return adapter, f"{V1}.lora_B.weight"


@pytest.mark.slow
def test_web_app_with_a_broken_adapter_exits_with_one_clear_line(tokenizer, tmp_path):
    adapter, tensor = _nan_adapter(tokenizer, tmp_path / "adapter")
    env = {**os.environ, "MEDASSIST_ADAPTER": str(adapter), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("MedAssist cannot start: ") and tensor in last and "NaN" in last, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_cli_with_a_broken_adapter_exits_2_with_one_line(tokenizer, tmp_path):
    adapter, tensor = _nan_adapter(tokenizer, tmp_path / "adapter")
    done = subprocess.run([sys.executable, "-m", "medassist", "ask", "--adapter", str(adapter), "What is insulin?"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("medassist ask: error:")]
    assert len(lines) == 1 and tensor in lines[0] and "Traceback" not in done.stderr, done.stderr[-2000:]
