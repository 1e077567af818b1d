"""Every notebook runs top to bottom without error, and every figure cell shows a picture.

A figure cell is one tagged ``figure`` or whose source calls a plotting function (``…figure(``,
``.plot(``, ``.hist(``, ``.barh(``, ``.errorbar(``): it must produce an ``image/png`` output,
not just ``<Figure size …>`` text. Notebooks are committed without outputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_quickstart.ipynb",
    "02_compare_scenarios.ipynb",
    "03_uncertainty.ipynb",
    "04_history.ipynb",
    "05_what_drives_the_loss.ipynb",
]
PLOTS = re.compile(r"figure\(|\.plot\(|\.hist\(|\.barh?\(|\.errorbar\(|\.scatter\(|\.imshow\(")


def figure_cells(notebook) -> list[int]:
    """Indices of the code cells that should draw a picture."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and ("figure" in cell.metadata.get("tags", []) or PLOTS.search(cell.source))
    ]


def has_png(cell) -> bool:
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path: Path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{path.name} is committed with outputs; clear them"
    )
    cells = figure_cells(notebook)
    assert cells, f"{path.name} draws no figure"
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    blank = [i for i in cells if not has_png(notebook.cells[i])]
    assert not blank, f"{path.name}: figure cell(s) {blank} produced no image/png output"


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


def test_a_figure_cell_without_a_picture_is_caught():
    """The check itself: a cell that returns a Figure without the inline backend only prints its repr."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from sim import plots\nplots.compare_figure({})")]
    )
    assert figure_cells(notebook) == [0]
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    assert not has_png(notebook.cells[0])
