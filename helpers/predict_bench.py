"""How fast a photo becomes labels: the benchmark behind ``python -m helpers bench predict``.

``bench_predict`` times :func:`helpers.predict.predict` warm (the first call per photo, which
builds the detector's graphs for that size, is reported on its own), step by step, and gives
the process's peak memory beside the times. ``Clock`` is the stopwatch every prediction
carries its ``timings_ms`` from.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

#: The speed target of the whole pipeline on two CPU cores, photo to labels.
TARGET_MS_PER_PHOTO = 100.0


class Clock:
    """Laps in milliseconds: ``lap(name)`` records the time since the previous lap (or the start)."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(1000 * (now - self._last), 2)
        self._last = now


def peak_rss_mb() -> float | None:
    """The most memory (resident set) this process has held so far, in MB; None where unknown."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB elsewhere


def bench_predict(model=None, *, repeats: int = 20, photos=None) -> dict:
    """Milliseconds from photo to labels, warm (a first call per photo is reported apart), on the CPU.

    ``photos`` maps names to photos (paths, bytes, arrays; default: the shipped astronaut
    portrait as a file, 400 x 400 with one face, decoding included; and the made-up group
    photo, 876 x 448 with three faces). Each photo runs ``repeats`` times; each photo's
    figures are medians, with the time of every step, the first call (``ms_first``) and the
    process's peak memory after it (``peak_rss_mb``). ``rss_mb_backend`` is the memory of the
    process with TensorFlow imported and nothing loaded (most of it TensorFlow's own library), and
    ``rss_mb_model_loaded`` the same with the model and detector loaded: a photo's own cost is
    its peak above that. ``ms_per_photo`` is the mean over the
    photos of their medians, the figure the target (:data:`TARGET_MS_PER_PHOTO`) is for.
    """
    import tensorflow as tf

    from .faces import ASTRONAUT, group_photo
    from .predict import load_predictor, predict

    if photos is None:
        photos = {"astronaut": ASTRONAUT, "group": group_photo()[0]}
    backend_mb = peak_rss_mb()  # the floor: Python, NumPy and TensorFlow imported, nothing loaded
    predictor = load_predictor(model)
    report = {"model": predictor.name, "backbone": predictor.spec["backbone"], "image_size": predictor.size,
              "tasks": predictor.tasks, "device": "CPU", "cpus": os.cpu_count(),
              "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
              "repeats": int(repeats), "rss_mb_backend": backend_mb, "rss_mb_model_loaded": peak_rss_mb(),
              "photos": {}}
    with tf.device("/CPU:0"):
        for name, photo in photos.items():
            start = time.perf_counter()
            predict(photo, predictor)  # the first call: builds the detector's graphs for this size
            first = 1000 * (time.perf_counter() - start)
            totals, laps = [], []
            for _ in range(max(1, int(repeats))):
                start = time.perf_counter()
                result = predict(photo, predictor)
                totals.append(1000 * (time.perf_counter() - start))
                laps.append(result.timings_ms)
            report["photos"][name] = {
                "faces": len(result), "size": [result.width, result.height],
                "ms": round(float(np.median(totals)), 1), "ms_min": round(float(np.min(totals)), 1),
                **{f"ms_{k}": round(float(np.median([lap.get(k, 0.0) for lap in laps])), 1) for k in laps[0]},
                "ms_first": round(first, 1), "peak_rss_mb": peak_rss_mb(),
            }
    ms = round(float(np.mean([r["ms"] for r in report["photos"].values()])), 1)
    report.update(ms_per_photo=ms, target_ms=TARGET_MS_PER_PHOTO, meets_target=bool(ms <= TARGET_MS_PER_PHOTO),
                  peak_rss_mb=peak_rss_mb())
    return report
