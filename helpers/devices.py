"""Which accelerator is here, which precision to train in, and how to spread training over devices.

The one place that talks to the backend library itself: ``tf.distribute`` on TensorFlow,
``keras.distribution`` on JAX. ``distribution("auto")`` uses every GPU (or the TPU) there is:
a ``MirroredStrategy`` (or ``TPUStrategy``) on TensorFlow, data parallelism on JAX; on a
machine with one device it runs the same code path on that one device. Mixed precision
(``precision="auto"``) is bfloat16 on TPUs and on GPUs from compute capability 8 (A100, H100),
float16 with loss scaling on older GPUs, and float32 on CPUs.
"""
from __future__ import annotations

import contextlib
import os

import keras

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
DISTRIBUTE_MODES = ("none", "auto")


def accelerator() -> str:
    """'tpu', 'gpu' or 'cpu': the best device kind the current Keras backend can see."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        platforms = {d.platform for d in jax.devices()}
        return "tpu" if "tpu" in platforms else "gpu" if ("gpu" in platforms or "cuda" in platforms) else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return "cpu"


def precision_policy(precision: str = "auto") -> str:
    """The Keras dtype policy for ``precision``: 'auto' picks mixed precision on accelerators."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    kind = accelerator()
    if kind == "tpu":
        return "mixed_bfloat16"
    if kind == "gpu":
        major = _gpu_compute_capability()
        return "mixed_bfloat16" if major is not None and major >= 8 else "mixed_float16"
    return "float32"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build models under the Keras dtype policy ``name``; the previous policy comes back afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def distribution(mode: str = "none"):
    """Build, compile and fit inside this context to train on every device ('auto') or as usual ('none')."""
    if mode not in DISTRIBUTE_MODES:
        raise ValueError(f"unknown distribute mode {mode!r}; choose none or auto")
    if mode == "none":
        yield None
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = _tf_strategy()
        with strategy.scope():
            yield strategy
    elif backend == "jax":
        previous = keras.distribution.distribution()
        data_parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        keras.distribution.set_distribution(data_parallel)
        try:
            yield data_parallel
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise RuntimeError(f"distributed training supports the tensorflow and jax backends, not {backend}")


def replicas_in_sync() -> int:
    """How many replicas share a step under the current ``tf.distribute`` strategy (1 elsewhere)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def device_summary() -> dict:
    """Backend, accelerator and the precision 'auto' would choose: for run records."""
    return {"backend": keras.backend.backend(), "accelerator": accelerator(),
            "auto_precision": precision_policy("auto")}


# --- private details -------------------------------------------------------------------------


def _tf_strategy():
    import tensorflow as tf

    if tf.config.list_physical_devices("TPU") or os.environ.get("TPU_NAME"):
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", "local"))
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.MirroredStrategy(["/cpu:0"])


def _gpu_compute_capability() -> int | None:
    try:
        if keras.backend.backend() == "jax":
            import jax

            cc = getattr(jax.devices()[0], "compute_capability", None)
            return int(str(cc).split(".")[0]) if cc else None
        import tensorflow as tf

        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        cc = details.get("compute_capability")
        return int(cc[0]) if cc else None
    except Exception:  # details are optional; fall back to float16, which every GPU runs
        return None
