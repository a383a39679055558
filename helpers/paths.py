"""Where the kit keeps things: the data folder, caches and the local mirror of archives."""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder that holds ``helpers/``).
KIT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Folder where datasets land: ``$AGEKIT_DATA`` or ``<kit>/data``."""
    path = Path(os.environ.get("AGEKIT_DATA", KIT_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sample_dir() -> Path:
    """Folder where the kit writes its offline sample when the real data cannot be had: ``<data>/sample``
    (created by :func:`helpers.sample.make_sample`, not here)."""
    return data_dir() / "sample"


def cache_dir() -> Path:
    """Folder for decoded-image caches: ``<data>/cache``."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Folder for run records: ``$AGEKIT_RUNS`` or ``<kit>/runs``."""
    path = Path(os.environ.get("AGEKIT_RUNS", KIT_ROOT / "runs")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Folder of the committed replication results (``<kit>/results``): run records, never model weights."""
    return KIT_ROOT / "results"


def models_dir() -> Path:
    """Folder of shipped models (``models/kit-b0-128-e30``, the default, and the others): ``<kit>/models``."""
    return KIT_ROOT / "models"


def mirror_dir() -> Path | None:
    """A local folder of archives that replaces the public URLs (``$AGEKIT_MIRROR``), if set."""
    value = os.environ.get("AGEKIT_MIRROR")
    return Path(value).expanduser() if value else None
