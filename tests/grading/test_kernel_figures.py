"""Grading kernels draw inline: figures become PNG outputs, still under the per-cell cap."""

from __future__ import annotations

import os

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ds4023.grading.preprocessors.execute import KERNEL_MPLBACKEND, TrackedExecute

pytestmark = pytest.mark.timeout(300)

DRAW = "import matplotlib.pyplot as plt\nplt.imshow([[0, 1], [1, 0]])"
FLOOD = "for i in range(40):\n    plt.figure(); plt.imshow([[i, 1], [1, 0]])"


def _run(cells: list[str], **traits):
    nb = new_notebook(cells=[new_code_cell(src) for src in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    TrackedExecute(timeout=120, **traits).preprocess(nb, {"metadata": {"path": "."}})
    return nb


def test_a_figure_becomes_a_png_output_while_the_grader_stays_on_agg(monkeypatch):
    """With MPLBACKEND=Agg in the grader, does a kernel's figure still come back as a PNG?"""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _run([DRAW, "import matplotlib; print(matplotlib.get_backend())"])
    kinds = [set(out.get("data", {})) for out in nb.cells[0].outputs]
    assert any("image/png" in k for k in kinds), nb.cells[0].outputs
    assert nb.cells[1].outputs[0].text.strip() in (KERNEL_MPLBACKEND, "inline")
    assert os.environ["MPLBACKEND"] == "Agg"  # the grading process keeps its own


def test_figures_count_against_the_per_cell_output_cap(monkeypatch):
    """Are 40 figures in one cell cut at the cap like any other output?"""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _run([DRAW, FLOOD], max_output_bytes=20_000)
    outs = nb.cells[1].outputs
    images = [o for o in outs if "image/png" in o.get("data", {})]
    assert 0 < len(images) < 40
    assert sum(len(o.data["image/png"]) for o in images) <= 20_000
    assert any("output truncated by the grader" in o.get("text", "") for o in outs)
