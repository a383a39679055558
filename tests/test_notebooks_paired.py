"""Every notebook has a jupytext percent twin, and the pair says the same thing."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert len(IPYNBS) >= 2


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_pair_in_sync(ipynb):
    twin = ipynb.with_suffix(".py")
    assert twin.is_file(), f"{ipynb.name} has no .py twin"
    a, b = jupytext.read(ipynb), jupytext.read(twin)
    assert _cells(a) == _cells(b), f"{ipynb.name} and {twin.name} drifted: run `jupytext --sync {twin}`"


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_no_stored_outputs(ipynb):
    nb = jupytext.read(ipynb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{ipynb.name}: cells {dirty} keep outputs; clean with `jupytext --to ipynb {ipynb.with_suffix('.py')}`"


@pytest.mark.parametrize("twin", sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_every_py_has_its_notebook(twin):
    assert twin.with_suffix(".ipynb").is_file()
