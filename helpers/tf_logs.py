"""TensorFlow's start-up log lines and notes: hidden by default, shown with ``AGEKIT_TF_LOGS=1``.

TensorFlow's C++ core prints notes when it loads (oneDNN, CPU instructions, absl) straight to
the process's standard error, past Python's logging and, for some of them, past
``TF_CPP_MIN_LOG_LEVEL``. The command line and the app page import TensorFlow through
:func:`import_tensorflow_quietly`, which sets that level and mutes standard error for the
import only: an import error still raises, and everything printed afterwards is shown.
"""
from __future__ import annotations

import os
import sys

#: Set to 1 to see TensorFlow's start-up lines again.
SHOW_ENV = "AGEKIT_TF_LOGS"


def showing_logs() -> bool:
    """Whether the user asked for TensorFlow's start-up lines (``AGEKIT_TF_LOGS=1``)."""
    return os.environ.get(SHOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def import_tensorflow_quietly():
    """Import TensorFlow (once) without its start-up lines, unless :func:`showing_logs`; return it."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if showing_logs():
        import tensorflow

        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    # its Python-side notes too (e.g. "tf.function retracing" when many small models train): errors only
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def import_tensorflow_if_installed():
    """:func:`import_tensorflow_quietly` where TensorFlow is installed; None where it is not (JAX alone
    on a GPU machine), so that the caller goes on without it."""
    try:
        return import_tensorflow_quietly()
    except ImportError:
        return None
