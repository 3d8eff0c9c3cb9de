"""The notebook runs top to bottom, offline, on the smoke profile: the same code path a T4 runs, other values."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "Medical_LLM_FineTuning.ipynb"


def test_notebook_is_valid_and_committed_without_heavy_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.get("outputs") for cell in code), "strip outputs before committing"
    # logic lives in the package: the notebook imports it and defines no functions or classes of its own
    assert sum("from medassist" in cell.source for cell in code) >= 8
    assert not any(line.lstrip().startswith(("def ", "class ")) for cell in code for line in cell.source.splitlines())


@pytest.mark.slow
def test_notebook_runs_end_to_end_on_the_smoke_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDASSIST_PROFILE", "smoke")
    monkeypatch.setenv("MEDASSIST_OUTPUT", str(tmp_path / "run"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MEDASSIST_EXPERIMENTS", "1")  # off by default on a CPU; the smoke profile runs them in seconds
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "run" / "eval" / "metrics.json").is_file()
    assert (tmp_path / "run" / "sweep" / "experiments.csv").read_text().count("\n") == 6  # header, base, 4 runs
    printed = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", []))
    assert "trainable" in printed and "95% CI" in printed
