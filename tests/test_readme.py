"""The README's result tables are what the result files in the repository say (docs/render_results.py)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


SPEC = importlib.util.spec_from_file_location("render_results", ROOT / "docs" / "render_results.py")
renderer = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(renderer)


def test_readme_results_match_the_result_files():
    readme = (ROOT / "README.md").read_text()
    names = [match["name"] for match in renderer.BLOCK.finditer(readme)]
    assert sorted(names) == sorted(renderer.RENDERERS), "every renderer has one block in the README"
    assert renderer.render(readme) == readme, "run .venv/bin/python docs/render_results.py"


def test_a_changed_figure_or_an_unknown_block_is_caught():
    readme = (ROOT / "README.md").read_text()
    tampered = readme.replace("| ROUGE-L | ", "| ROUGE-L | 9", 1)
    assert tampered != readme and renderer.render(tampered) == readme
    with pytest.raises(KeyError, match="'made-up' has no renderer"):
        renderer.render("<!-- results:made-up -->\n<!-- /results:made-up -->")
