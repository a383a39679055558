"""What this machine runs: Python, the pinned libraries, the Keras backend and any accelerator."""
from __future__ import annotations

import importlib
import os
import platform
import sys

import pandas as pd

PINNED = ("numpy", "pandas", "scipy", "PIL", "matplotlib", "tensorflow", "keras", "mtcnn", "jax", "tqdm",
          "ipywidgets", "jupytext", "nbval")


def environment_table() -> pd.DataFrame:
    """A table of library versions, the Keras backend and the devices it sees."""
    rows = [{"component": "python", "version": platform.python_version(), "note": sys.executable}]
    for name in PINNED:
        try:
            module = importlib.import_module(name)
            rows.append({"component": name, "version": getattr(module, "__version__", "?"), "note": ""})
        except ImportError:
            rows.append({"component": name, "version": "not installed", "note": _why_optional(name)})
    try:
        import keras

        rows.append({"component": "keras backend", "version": keras.backend.backend(),
                     "note": "set KERAS_BACKEND before the first import to change it"})
        rows.append({"component": "accelerators", "version": ", ".join(accelerators()) or "none (CPU)",
                     "note": ""})
    except ImportError:
        pass
    rows.append({"component": "CPU cores", "version": str(os.cpu_count()), "note": platform.platform()})
    return pd.DataFrame(rows).set_index("component")


def accelerators() -> list[str]:
    """Names of the GPUs/TPUs the current Keras backend can use (empty on a CPU-only machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices() if d.device_type in ("GPU", "TPU")]
    return []


def _why_optional(name: str) -> str:
    return {"jax": "only needed for KERAS_BACKEND=jax on a GPU"}.get(name, "missing: install requirements.txt")
