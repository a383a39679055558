"""Shared fixtures: every test gets its own data, cache and runs folders."""
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

# the real archives: the mirror CI names, else ../shared/datasets beside the project
SHARED = Path(os.environ.get("AGEKIT_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


@pytest.fixture(autouse=True)
def _isolated_kit_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("AGEKIT_DATA", str(tmp_path / "kitdata"))
    monkeypatch.setenv("AGEKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("AGEKIT_MIRROR", raising=False)
    yield


@pytest.fixture
def shared_datasets():
    """The real archives beside the project, or skip when they are not there."""
    if not (SHARED / "utkface" / "UTKFace.tar.gz").is_file():
        pytest.skip("../shared/datasets is not beside the project")
    return SHARED
