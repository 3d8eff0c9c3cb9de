"""The notebook runs top to bottom, offline, on the smoke profile: the same code path a T4 runs, other values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "Medical_LLM_FineTuning.ipynb"


def test_notebook_is_committed_executed_top_to_bottom_on_the_cpu_profile():
    """Someone browsing the repository sees every table and plot: the notebook is committed with the outputs of one
    run in order (`make notebook`, cpu profile, experiments off), without errors, and small enough to diff."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "re-run it whole: make notebook"
    outputs = [out for cell in code for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    printed = "".join(out.get("text", "") for out in outputs)
    assert "profile cpu" in printed and "95% CI" in printed
    assert sum(out.output_type == "display_data" and "image/png" in out.get("data", {}) for out in outputs) >= 3
    assert NOTEBOOK.stat().st_size < 3_000_000
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


def setup_cell() -> str:
    """The notebook's first code cell: on a fresh kernel it finds or clones the repository and installs it."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def fresh_kernel(tmp_path: Path) -> Path:
    """A Python in which medassist is not importable but its dependencies are (as on Kaggle, where torch and
    transformers come preinstalled): a venv whose site-packages lists this environment's by a path entry, which
    adds the directory without running its .pth files (so medassist's editable install is not found)."""
    kernel = tmp_path / "kernel"
    base_python = getattr(sys, "_base_executable", sys.executable)  # the interpreter this environment was made from
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(kernel)], check=True)
    site_packages = next((kernel / "lib").glob("python3*/site-packages"))
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "torch").is_dir())
    (site_packages / "dependencies.pth").write_text(f"{ours}\n")
    return kernel


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cloned beside the notebook", "cloned by the cell"])
def test_setup_cell_installs_medassist_on_a_fresh_kernel(tmp_path, how):
    """Kaggle's steps (`!git clone URL medassist`, then run the notebook from /kaggle/working), or no clone and
    MEDASSIST_REPOSITORY set: either way cell 1 installs from the clone and moves into it."""
    kernel = fresh_kernel(tmp_path)
    python = kernel / "bin" / "python"
    work = tmp_path / "working"
    work.mkdir()
    repository = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    if how == "cloned beside the notebook":
        subprocess.run(["git", "clone", "-q", str(repository), str(work / "medassist")], check=True)
    else:
        env["MEDASSIST_REPOSITORY"] = str(repository)
    probe = [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('medassist'))"]
    assert subprocess.run(probe, cwd=tmp_path, env=env, capture_output=True, text=True).stdout.strip() == "None"

    code = setup_cell() + "\nprint('CWD', os.getcwd())\n"
    result = subprocess.run([str(python), "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"CWD {work / 'medassist'}" in result.stdout
    assert "profile " in result.stdout
    installed = list((kernel / "lib").glob("python3*/site-packages/medassist-*.dist-info"))
    assert installed, "the cell did not pip-install medassist into the kernel"
