"""Every notebook in notebooks/ runs top to bottom without a cell error, and is stored executed."""

import os
import shutil
from glob import glob
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(glob(str(NOTEBOOK_DIR / "*.ipynb")))
EXPECTED = [
    "01_scalar_autodiff.ipynb",
    "02_tensors_broadcasting.ipynb",
    "03_softmax_mlp_digits.ipynb",
    "04_cnn_im2col.ipynb",
    "05_optimizers.ipynb",
    "06_batchnorm_dropout.ipynb",
    "07_gradient_checking.ipynb",
    "08_higher_order.ipynb",
    "09_teach_backward.ipynb",
    "10_compile.ipynb",
]
TIMEOUT = 120  # seconds per cell; each notebook takes well under a minute in total


def test_the_expected_notebooks_are_there():
    assert [Path(p).name for p in NOTEBOOKS] == EXPECTED


def _draws_graphs(nb) -> bool:
    """Whether the notebook renders a graph, which needs Graphviz's ``dot`` program."""
    return any(cell.cell_type == "code" and any(
        call in cell.source for call in ("ag.draw(", "ag.render(", "animate_backward("))
        for cell in nb.cells)


@pytest.mark.slow  # 3-15 s each, the kernel start included
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[Path(p).stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)  # a copy in memory: the file is not rewritten
    if _draws_graphs(nb) and shutil.which("dot") is None:
        pytest.skip("Graphviz's 'dot' program is not installed; this notebook draws graphs")
    # The kernel inherits this environment.  Multithreaded BLAS on these small matrices
    # only adds contention on a 2-core machine (training runs many times slower), and
    # it can change the last bits of results.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    # The kernel imports this checkout's packages even if another copy is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[Path(p).stem for p in NOTEBOOKS])
def test_notebook_is_stored_with_outputs(path):
    """The committed file was executed top to bottom in one session, without errors, so it
    renders with its outputs on a code host."""
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
