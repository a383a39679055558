"""From model outputs to numbers: accuracy per task and per age scheme, MAE in years, confusion matrices.

Whatever its age head, a model is scored on every one of the seed's 3, 5 and 10 groups it
serves (a softmax over the 10 groups serves only the 10; a per-year head serves all three),
plus its own scheme, and on the mean absolute error in years (from the head's years, or the
expected group centre for a group head). Gender and race are scored where the model has the
head and the image has the label. Keys: ``age_3``, ``age_5``, ``age_10``, ``mae``, ``gender``,
``race``, ``n`` (images), ``n_labelled`` (per key), ``confusion`` (rows true, columns
predicted) and ``labels`` (class names per key).

A dataset's images are scored as they are, as the model trained on them. ``recrop`` first
finds the face in each image with MTCNN and cuts it the way the model's training images were
framed (:func:`helpers.faces.crop_settings`: margin and alignment from the run's config), for
images framed otherwise than the training data (a UTKFace model on wiki images).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .age_groups import age_groups
from .age_heads import REPORTED_SCHEMES, age_head_from_spec, to_numpy, true_group
from .datasets import CLASS_NAMES
from .metrics import accuracy, confusion_matrix, mae


def predict_outputs(model, images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """The model's outputs for ``images`` (N, S, S, 3) in 0-255, as NumPy arrays per task."""
    images = np.asarray(images, dtype="float32")
    if not len(images):  # model.predict fails on no data at all: empty outputs of the right shape
        outputs = model.predict(np.zeros((1, *images.shape[1:]), "float32"), verbose=0)
        return {k: np.asarray(v)[:0] for k, v in outputs.items()}
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    return {k: np.asarray(v) for k, v in outputs.items()}


def evaluate_outputs(outputs: dict, labels: dict, spec: dict) -> dict:
    """Metrics of ``outputs`` against ``labels`` (age in years, gender, race; -1 missing) for a model ``spec``."""
    head = age_head_from_spec(spec["age_head"])
    years = np.asarray(labels["age"], dtype="float32").reshape(-1)
    result = {"n": int(len(years)), "n_labelled": {}, "confusion": {}, "labels": {}}
    schemes = [age_groups(s) for s in head.served(REPORTED_SCHEMES)]
    if head.groups.name not in REPORTED_SCHEMES + ("year",):
        schemes.append(head.groups)
    for scheme in schemes:
        key = f"age_{scheme.name}"
        truth = to_numpy(true_group(years, scheme))
        guess = to_numpy(head.predicted_group(outputs["age"], scheme))
        _score(result, key, truth, guess, scheme.labels)
    lo, hi = head.age_range
    valid = (years >= lo) & (years <= hi)
    predicted = to_numpy(head.predicted_years(outputs["age"]))
    result["mae"] = mae(years[valid], predicted[valid]) if valid.any() else None
    result["n_labelled"]["mae"] = int(valid.sum())
    for task in spec["tasks"]:
        if task == "age":
            continue
        truth = np.asarray(labels.get(task, np.full(len(years), -1)), dtype=int).reshape(-1)
        guess = np.asarray(outputs[task]).argmax(axis=1)
        _score(result, task, truth, guess, CLASS_NAMES[task])
    headline = ["n", *(f"age_{s.name}" for s in schemes), "mae", *(t for t in spec["tasks"] if t != "age")]
    return {**{k: result[k] for k in headline}, **{k: v for k, v in result.items() if k not in headline}}


def evaluate_model(model, images: np.ndarray, labels: dict, batch_size: int = 256) -> dict:
    """Predict ``images`` with ``model`` and score the outputs against ``labels``."""
    return evaluate_outputs(predict_outputs(model, images, batch_size), labels, model.spec)


def evaluate_run(run_dir, dataset: str, source, *, which: str = "best", limit: int | None = None,
                 batch_size: int = 256, progress: bool = True, recrop: bool = False) -> dict:
    """Score a run's ``best`` (or ``last``) model on every readable image of ``dataset`` at ``source``.

    ``limit`` draws that many images at random (fixed seed) instead of all of them. With
    ``recrop`` each image's largest face is found and cut as the model's training faces were
    (images without a face are counted in ``n_unreadable``). The metrics record the model's
    ``crop`` (margin, align) and whether the images were ``recropped``.
    """
    from .datasets import index_dataset, label_arrays
    from .faces import crop_settings
    from .images import load_images
    from .models import load_model

    run_dir = Path(run_dir)
    model = load_model(run_dir / f"{which}.keras", compile=False)
    crop = crop_settings(_read_config(run_dir))
    df = index_dataset(dataset, source)
    if limit is not None and limit < len(df):
        df = df.iloc[np.random.default_rng(0).permutation(len(df))[:limit]].reset_index(drop=True)
    size = model.spec["image_size"]
    batch = (recropped_images(df["path"], size, crop, progress=progress) if recrop else
             load_images(df["path"], size, progress=progress))
    labels = label_arrays(df.iloc[batch.index])
    labels["age"] = labels["age"].astype("float32")
    metrics = evaluate_model(model, batch.images, labels, batch_size)
    metrics.update(run=str(run_dir), model=which, dataset=dataset, source=str(source),
                   n_unreadable=len(batch.errors), crop=crop.as_dict(), recropped=bool(recrop))
    return metrics


def recropped_images(paths, size: int, crop, *, progress: bool = True):
    """Each image's largest face, found by MTCNN and cut as ``crop`` (a :class:`helpers.faces.CropSettings`)
    says, as an :class:`helpers.images.ImageBatch` of (N, size, size, 3); an unreadable image or one
    without a face is left out, with why in ``errors``."""
    from .faces import crop_faces
    from .images import ImageBatch

    paths = [str(p) for p in paths]
    images, index, errors = [], [], {}
    for start in range(0, len(paths), 256):  # a chunk at a time: only the largest face of each is kept
        chunk = paths[start:start + 256]
        for i, result in enumerate(crop_faces(chunk, margin=crop.margin, align=crop.align, size=size,
                                              progress=progress and len(paths) <= 256), start=start):
            if result.crops:
                images.append(result.crops[0])
                index.append(i)
            else:
                errors[paths[i]] = result.error or f"{paths[i]}: no face found"
    stacked = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return ImageBatch(stacked, np.asarray(index, dtype=np.int64), errors)


def describe_outputs(outputs: dict, spec: dict) -> list[dict]:
    """One readable prediction per row of ``outputs``: age group (label, probabilities), years, gender, race."""
    head = age_head_from_spec(spec["age_head"])
    scheme = head.groups if head.groups.name != "year" else age_groups("10")
    n = len(outputs["age"])
    group = to_numpy(head.predicted_group(outputs["age"], scheme))
    probs = head.scheme_probabilities(outputs["age"], scheme) if head.kind != "regression" else None
    probs = to_numpy(probs) if probs is not None else None
    years = to_numpy(head.predicted_years(outputs["age"])) if head.gives_years else None
    out = []
    for i in range(n):
        entry = {
            "age_group": scheme.labels[int(group[i])] if group[i] >= 0 else None,
            "age_groups": scheme.name,
            "age_probabilities": None if probs is None else
            {lab: round(float(p), 4) for lab, p in zip(scheme.labels, probs[i])},
            "age_years": None if years is None else round(float(years[i]), 1),
        }
        for task in spec["tasks"]:
            if task == "age":
                continue
            p = np.asarray(outputs[task][i], dtype=float)
            entry[task] = CLASS_NAMES[task][int(p.argmax())]
            entry[f"{task}_probabilities"] = {lab: round(float(x), 4) for lab, x in zip(CLASS_NAMES[task], p)}
        out.append(entry)
    return out


def confusion_frame(metrics: dict, key: str) -> pd.DataFrame:
    """The confusion matrix ``key`` (e.g. 'age_10', 'gender') of a metrics dict as a labelled table."""
    labels = metrics["labels"][key]
    frame = pd.DataFrame(metrics["confusion"][key], index=labels, columns=labels)
    frame.index.name, frame.columns.name = "true", "predicted"
    return frame


def metrics_row(metrics: dict) -> dict:
    """The headline numbers of a metrics dict: age_3/5/10, mae, gender, race, n."""
    return {k: metrics.get(k) for k in ("age_3", "age_5", "age_10", "mae", "gender", "race", "n")}


def format_metrics(metrics: dict) -> str:
    """A readable multi-line text of a metrics dict, confusion matrices included."""
    lines = [f"images: {metrics['n']}"]
    for key in ("age_3", "age_5", "age_10", "mae", "gender", "race"):
        if key in metrics and metrics[key] is not None:
            unit = " years" if key == "mae" else ""
            lines.append(f"{key:>7}: {metrics[key]:.4f}{unit}   (n={metrics['n_labelled'].get(key, 0)})")
        elif key in metrics:
            lines.append(f"{key:>7}: no labelled images")
    if metrics.get("crop"):
        how = "faces found and re-cut" if metrics.get("recropped") else "images as they are"
        lines.append(f"   crop: the model's training faces had margin {metrics['crop']['margin']:g}"
                     f"{', eyes levelled' if metrics['crop']['align'] else ''}; scored on {how}")
    for key in metrics.get("confusion", {}):
        lines += ["", f"confusion {key} (rows true, columns predicted):", confusion_frame(metrics, key).to_string()]
    return "\n".join(lines)


def to_json(metrics) -> str:
    """JSON text of metrics or predictions."""
    return json.dumps(metrics, indent=2)


# --- private details -------------------------------------------------------------------------


def _read_config(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def _score(result: dict, key: str, truth: np.ndarray, guess: np.ndarray, labels: list[str]) -> None:
    valid = truth >= 0
    result[key] = accuracy(truth, guess) if valid.any() else None
    result["n_labelled"][key] = int(valid.sum())
    result["confusion"][key] = confusion_matrix(truth, guess, len(labels)).tolist()
    result["labels"][key] = list(labels)
