"""Try a model on any photo: faces found by MTCNN, cropped as the model's training images were, labelled.

``predict(photo)`` runs the whole pipeline on one photo (a path, uploaded bytes, a PIL image
or an array) and returns a :class:`Prediction`: for every face, largest first, its box, the
age group (label and probabilities), the age in years when the age head gives years, and
gender and race with their probabilities. ``iter_predictions`` and ``predict_files`` do the
same for many files (a folder counts as its image files), one small entry at a time.
Drawing the answer (the paper's Figure 3) is :mod:`helpers.drawing`, the timing of the
pipeline :mod:`helpers.predict_bench`, the labelled images chapter 08 shows :mod:`helpers.examples`.

**Which model.** ``model`` may be a run folder (its ``best.keras``), a ``.keras`` file, a
:class:`helpers.training.Run`, a loaded model, or None for the kit's default model: the
folder named by ``$AGEKIT_MODEL``, else ``models/kit-b0-128-e30/`` in the kit. Models load in Keras
safe mode and are kept in memory, so the second photo costs only the prediction.

**Cropped as in training.** A model has only seen faces framed like its training images:
UTKFace chips are tight (the face fills the frame), IMDB-WIKI crops keep 40 % of the face
box around it (notebook 02 measures both). The crop margin and the alignment therefore
follow the run's ``config.json`` (:func:`helpers.faces.crop_settings`) unless you pass
``margin`` or ``align``.

**Photos of any size.** A photo is decoded straight to the size the detector works at
(:data:`helpers.faces.DETECT_MAX_SIDE` on its long side; a large JPEG at a reduced scale),
so a 12000 x 12000 photo never sits in memory at full size. Boxes are still given in the
photo's own pixels. A file above :data:`helpers.images.MAX_PIXELS` pixels is refused.

Nothing here imports TensorFlow or Keras until a model is loaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .datasets import CLASS_NAMES
from .faces import (DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, DETECT_MAX_SIDE, IMAGE_SUFFIXES, TRAINING_CROPS,
                    CropSettings, crop_face, crop_settings, detect_faces)
from .images import ImageError, Photo, decode_photo, read_photo  # noqa: F401  (read_photo: importable from here)
from .paths import KIT_ROOT, runs_dir
from .predict_bench import Clock
from .tf_logs import import_tensorflow_quietly  # noqa: F401  (the app page imports it from here)

#: Where the kit's default model lives (a run folder: config.json, best.keras, metrics.json, README.md): the most
#: accurate shipped model that answers a photo within the 100 ms target (``bench predict``).
DEFAULT_MODEL_DIR = KIT_ROOT / "models" / "kit-b0-128-e30"
#: Environment variable naming another model (run folder or .keras file) to use as the default.
MODEL_ENV = "AGEKIT_MODEL"
#: The crop margin that matches each dataset's own images (from :data:`helpers.faces.TRAINING_CROPS`).
TRAINING_MARGINS = {dataset: crop.margin for dataset, crop in TRAINING_CROPS.items()}


class ModelNotFoundError(FileNotFoundError):
    """No model where one was looked for; the message says how to get one."""


@dataclass
class Prediction:
    """What a model says about one photo: one entry per face in ``faces``, largest first.

    Each face: ``box`` [x, y, width, height] in the photo's own pixels, ``confidence`` (MTCNN),
    ``age_group`` and ``age_probabilities`` (over ``age_groups``: the model's groups, the
    10 groups for a per-year head), ``age_years`` (None when the head gives no years),
    ``gender``/``race`` with ``*_probabilities`` when the model has those heads, and
    ``label``, a short text of it all. ``width`` and ``height`` are the photo's own size;
    ``margin`` and ``align`` how the faces were cut. ``crops`` are the model's inputs, one per face.
    """

    image: str
    width: int
    height: int
    faces: list[dict] = field(default_factory=list)
    model: str = ""
    margin: float = DEFAULT_MARGIN
    detected: bool = True
    align: bool = False
    crops: list[np.ndarray] = field(default_factory=list, repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def labels(self) -> list[str]:
        """The short label of each face, e.g. ``'age 25-32 · 29 y · female 0.93 · White 0.71'``."""
        return [f["label"] for f in self.faces]

    def as_dict(self) -> dict:
        """JSON-ready: image, width, height, model, margin, align and the faces (no crops)."""
        return {"image": self.image, "width": self.width, "height": self.height, "model": self.model,
                "margin": self.margin, "align": self.align, "faces": [dict(f) for f in self.faces]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def table(self):
        """One row per face: box, confidence, age group and its probability, years, gender, race."""
        import pandas as pd

        rows = []
        for k, f in enumerate(self.faces, start=1):
            row = {"face": k, "box": tuple(f["box"]), "confidence": f.get("confidence"),
                   "age group": f["age_group"], "p(age group)": probability_of(f.get("age_probabilities"), f["age_group"]),
                   "age (years)": f.get("age_years")}
            for task in ("gender", "race"):
                if task in f:
                    row[task] = f[task]
                    row[f"p({task})"] = probability_of(f[f"{task}_probabilities"], f[task])
            rows.append(row)
        return pd.DataFrame(rows).set_index("face") if rows else pd.DataFrame(columns=["box"])


class Predictor:
    """A loaded model ready to label face crops fast, with what it needs to crop like its training data.

    ``outputs(crops)`` runs the model on (N, S, S, 3) uint8 crops through one compiled call
    (no per-call set-up as in ``model.predict``); ``describe(crops)`` turns the outputs into
    readable entries. ``crop`` (``margin``, ``align``) is :func:`helpers.faces.crop_settings`
    of the run's config unless ``margin`` is given.
    """

    def __init__(self, model, *, path: str | os.PathLike | None = None, config: dict | None = None,
                 margin: float | None = None):
        self.model = model
        self.spec = dict(model.spec)
        self.path = Path(path) if path is not None else None
        self.config = dict(config or {})
        self.size = int(self.spec["image_size"])
        crop = crop_settings(self.config)
        self.crop = crop if margin is None else CropSettings(float(margin), crop.align)
        self.name = str(self.path) if self.path is not None else f"<{type(model).__name__}>"
        self._call = _compiled_call(model, self.size)
        self.outputs(np.zeros((1, self.size, self.size, 3), np.uint8))  # warm-up: builds the compiled call

    @property
    def margin(self) -> float:
        return self.crop.margin

    @property
    def align(self) -> bool:
        return self.crop.align

    @property
    def tasks(self) -> list[str]:
        return list(self.spec["tasks"])

    def outputs(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """The model's raw outputs (NumPy, one array per task) for crops in 0-255."""
        return self._call(np.asarray(crops, dtype="float32"))[0]

    def describe(self, crops: np.ndarray) -> list[dict]:
        """One readable entry per crop (see :class:`Prediction`), without box and confidence.

        The same entries as :func:`helpers.evaluation.describe_outputs`, read out inside the
        compiled call so that a photo costs one call into the backend.
        """
        if not len(crops):
            return []
        _, read = self._call(np.asarray(crops, dtype="float32"))
        labels, probs, years = self._age_labels, read.get("age_probabilities"), read.get("age_years")
        entries = []
        for i, group in enumerate(read["age_group"]):
            entry = {
                "age_group": labels[int(group)] if group >= 0 else None,
                "age_groups": self._age_scheme,
                "age_probabilities": None if probs is None else
                {lab: round(float(p), 4) for lab, p in zip(labels, probs[i])},
                "age_years": None if years is None else round(float(years[i]), 1),
            }
            for task in self.tasks:
                if task != "age":
                    p = read[task][i]
                    names = CLASS_NAMES[task]
                    entry[task] = names[int(np.argmax(p))]
                    entry[f"{task}_probabilities"] = {lab: round(float(x), 4) for lab, x in zip(names, p)}
            entry["label"] = face_label(entry)
            entries.append(entry)
        return entries

    @property
    def _age_scheme(self) -> str:
        return _reporting_scheme(self.spec).name

    @property
    def _age_labels(self) -> list[str]:
        return _reporting_scheme(self.spec).labels

    @property
    def networks(self) -> str:
        """The backbone, or for an average (see :mod:`helpers.ensemble`) its members' backbones,
        e.g. ``"average of b0 + b1"``."""
        members = self.spec.get("members")
        if not members:
            return str(self.spec["backbone"])
        return "average of " + " + ".join(str(m["backbone"]) for m in members)

    def __repr__(self) -> str:
        return (f"Predictor({self.name}: {'+'.join(self.tasks)}, {self.networks} at {self.size} px, "
                f"crop margin {self.margin:g}{', eyes levelled' if self.align else ''})")


# --- the pipeline ------------------------------------------------------------------------------


def predict(
    image,
    model=None,
    *,
    detect: bool = True,
    margin: float | None = None,
    align: bool | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_faces: int | None = None,
    **detect_options,
) -> Prediction:
    """Find the faces in ``image``, crop each as the model's training images were, and label them.

    ``image``: a path, the bytes of an image file (an upload), a PIL image or an array;
    phone photos are turned upright by their EXIF orientation. ``model``: see the module
    notes (None: the kit's default model). ``detect=False`` treats the whole image as one
    face crop (dataset chips). ``margin`` and ``align`` override the training data's crop;
    ``max_faces`` keeps the largest faces only; ``min_confidence`` and ``detect_options``
    (``min_face_size``, ``max_side``, ...) go to :func:`helpers.faces.detect_faces`; the photo
    is decoded at most ``max_side`` pixels on its long side (default
    :data:`helpers.faces.DETECT_MAX_SIDE`, the detector's own). A photo without faces gives a
    Prediction with no faces; an unreadable or too large file raises
    :class:`helpers.images.ImageError` naming it.
    """
    predictor = load_predictor(model)
    clock = Clock()
    photo = decode_photo(image, max_side=detect_options.get("max_side", DETECT_MAX_SIDE))
    rgb = photo.rgb
    clock.lap("read")
    crop = CropSettings(predictor.margin if margin is None else float(margin),
                        predictor.align if align is None else bool(align))
    if detect:
        faces = detect_faces(rgb, min_confidence=min_confidence, **detect_options)[:max_faces]
        clock.lap("detect")
        crops = [crop_face(rgb, face, margin=crop.margin, align=crop.align, size=predictor.size) for face in faces]
        boxes = [{"box": _photo_box(face.box, photo), "confidence": round(float(face.confidence), 4)}
                 for face in faces]
    else:  # a file is decoded and resized exactly as the training images were
        from .images import load_image, resize_square

        whole = isinstance(image, (str, os.PathLike))
        crops = [load_image(image, predictor.size) if whole else resize_square(rgb, predictor.size)]
        boxes = [{"box": [0, 0, photo.width, photo.height], "confidence": None}]
    clock.lap("crop")
    described = predictor.describe(np.stack(crops)) if crops else []
    clock.lap("model")
    return Prediction(image=photo.name, width=photo.width, height=photo.height,
                      faces=[{**b, **d} for b, d in zip(boxes, described)], model=predictor.name,
                      margin=crop.margin, align=crop.align, detected=detect, crops=crops, timings_ms=clock.laps)


def iter_predictions(paths, model=None, *, detect: bool = True, which: str = "best", progress: bool = False,
                     **options):
    """``predict`` on many files, one at a time: yields one JSON-ready entry per image file as it is done.

    ``paths`` may name folders: each stands for the image files inside it (:func:`photo_files`).
    An unreadable file gets an entry with ``error`` and the rest go on. With ``detect`` an
    entry has ``image`` and ``faces``; without it, ``image`` and the whole-image prediction
    (the format of ``python -m helpers predict --json``). Only one photo is decoded at a time
    and no crops or pictures are kept, so memory stays flat over thousands of files;
    ``progress`` shows a progress bar (tqdm).
    """
    from tqdm.auto import tqdm

    predictor = load_predictor(model, which=which)
    files = photo_files(paths)
    with tqdm(total=len(files), desc="predict", unit="photo", disable=not progress) as bar:
        for path in files:
            yield _entry(path, predictor, detect, options)
            bar.update(1)


def predict_files(paths, model=None, *, detect: bool = True, which: str = "best", **options) -> list[dict]:
    """Every entry of :func:`iter_predictions` in a list (small dicts; no images are kept)."""
    return list(iter_predictions(paths, model, detect=detect, which=which, **options))


def photo_files(inputs) -> list[str]:
    """The image files ``inputs`` name, in order: a file (or a missing path) as given, a folder as
    every image file inside it (recursive, sorted, hidden files left out; an empty folder stays
    itself, so that it is reported)."""
    out: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            out.extend(found or [str(item)])
        else:
            out.append(str(item))
    return out


def split_model_argument(inputs) -> tuple[str | None, list[str]]:
    """(model, images) from a command line's ``[RUN_DIR] IMAGE ...``.

    The first path is the model when it is a .keras file or a folder holding one (or a
    run's config.json); without one the model is None (the default model). Other folders
    are folders of photos.
    """
    inputs = [str(x) for x in inputs]
    first = Path(inputs[0]) if inputs else None
    if first is not None and (first.suffix == ".keras" or _holds_model(first)):
        if len(inputs) == 1:
            raise ValueError(f"{first} is a model; name one or more image files after it")
        return inputs[0], inputs[1:]
    if not inputs:
        raise ValueError("name one or more image files")
    return None, inputs


def face_label(entry: dict) -> str:
    """A short text of one face's prediction: age group, years, gender and race with probabilities."""
    parts = [f"age {entry['age_group']}" if entry.get("age_group") is not None else "age ?"]
    if entry.get("age_years") is not None:
        parts.append(f"{entry['age_years']:.0f} y")
    for task in ("gender", "race"):
        if entry.get(task) is not None:
            parts.append(f"{entry[task]} {entry[f'{task}_probabilities'][entry[task]]:.2f}")
    return " · ".join(parts)


def probability_of(probabilities: dict | None, key):
    """``probabilities[key]``, or None when there are none (a regression head) or no such key."""
    if not probabilities or key not in probabilities:
        return None
    return probabilities[key]


# --- models -------------------------------------------------------------------------------------


def default_model_dir() -> Path:
    """The default model: ``$AGEKIT_MODEL`` when set, else ``models/kit-b0-128-e30`` in the kit (may not exist)."""
    value = os.environ.get(MODEL_ENV)
    return Path(value).expanduser() if value else DEFAULT_MODEL_DIR


def find_model(*, fall_back: bool = True) -> Path | None:
    """The model to try: the default one if it exists, else (``fall_back``) the newest finished run; None if none."""
    path = default_model_dir()
    if _model_file(path) is not None:
        return path
    if fall_back:
        runs = list_models(include_default=False)
        if runs:
            return Path(next(iter(runs.values())))
    return None


def list_models(root=None, *, include_default: bool = True) -> dict[str, str]:
    """Models to choose from, as {label: path}: the default model and the other shipped models
    beside it (``models/NAME``), then finished runs under ``root``, newest first.

    ``root`` defaults to the runs folder. A run counts when it has finished and holds
    ``best.keras``. Labels say what each model is (tasks, backbone, size).
    """
    found: dict[str, str] = {}
    if include_default:
        path = default_model_dir()
        if _model_file(path) is not None:
            found[f"default: {_model_title(path)}"] = str(path)
        for model_file in sorted(DEFAULT_MODEL_DIR.parent.glob("*/best.keras")):
            folder = model_file.parent
            if folder.resolve() != path.resolve():
                found[f"{folder.name}: {_model_title(folder)}"] = str(folder)
    root = Path(root) if root is not None else runs_dir()
    runs = []
    for cfg in root.glob("*/config.json"):
        folder = cfg.parent
        state = _read_json(folder / "state.json")
        if state.get("finished") and (folder / "best.keras").is_file():
            runs.append((state.get("updated", ""), folder))
    for _, folder in sorted(runs, key=lambda r: (r[0], r[1].name), reverse=True):
        found[f"{folder.name}: {_model_title(folder)}"] = str(folder)
    return found


def load_predictor(model=None, *, which: str = "best", margin: float | None = None) -> Predictor:
    """A :class:`Predictor` for ``model`` (see the module notes); loaded once, then reused from memory."""
    if isinstance(model, Predictor):
        return model
    if model is None:
        folder = default_model_dir()
        if _model_file(folder, which) is None:
            raise ModelNotFoundError(_no_default_message(folder))
        model = folder
    if hasattr(model, "spec") and hasattr(model, "network"):  # a loaded MultiTaskModel
        key = ("model", id(model), margin)  # the cache holds the model, so its id stays its own
        if key not in _PREDICTORS:
            _remember(key, Predictor(model, margin=margin))
        return _PREDICTORS[key]
    if hasattr(model, "path") and hasattr(model, "config"):  # a helpers.training.Run
        model = model.path
    path = Path(model).expanduser()
    file = _model_file(path, which)
    if file is None:
        raise ModelNotFoundError(f"{path}: no model there (expected a .keras file or a run folder with {which}.keras)")
    key = (str(file.resolve()), file.stat().st_mtime_ns, margin)
    if key not in _PREDICTORS:
        from .models import load_model

        config = _read_json((path if path.is_dir() else path.parent) / "config.json")
        _remember(key, Predictor(load_model(file, compile=False), path=path, config=config, margin=margin))
    return _PREDICTORS[key]


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each file in an ipywidgets ``FileUpload`` value, whatever the ipywidgets version.

    ipywidgets 8 (JupyterLab, voila) holds a tuple of dicts with ``name`` and ``content``;
    ipywidgets 7 (Colab) a dict from file name to a dict with ``content``.
    """
    if isinstance(value, dict):
        return [(str(name), bytes(item["content"])) for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in (value or ())]


# --- private details -------------------------------------------------------------------------------

_PREDICTORS: dict[tuple, Predictor] = {}
_KEEP = 2  # models kept in memory (switching back and forth between two is instant; a B4 weighs hundreds of MB)


def _remember(key: tuple, predictor: Predictor) -> None:
    while len(_PREDICTORS) >= _KEEP:
        _PREDICTORS.pop(next(iter(_PREDICTORS)))
    _PREDICTORS[key] = predictor


def _entry(path: str, predictor: Predictor, detect: bool, options: dict) -> dict:
    if Path(path).is_dir():
        return {"image": path, "error": f"{path}: a folder without image files ({', '.join(IMAGE_SUFFIXES)})"}
    try:
        result = predict(path, predictor, detect=detect, **options)
    except ImageError as err:
        return {"image": path, "error": str(err)}
    if detect:
        return {"image": path, "faces": result.faces}
    return {"image": path, **{k: v for k, v in result.faces[0].items() if k not in ("box", "confidence")}}


def _photo_box(box, photo: Photo) -> list[int]:
    """A box found on the decoded (maybe shrunk) photo, in the photo's own pixels."""
    sx, sy = photo.scale
    x, y, w, h = box
    x1, y1 = min(round(x * sx), photo.width - 1), min(round(y * sy), photo.height - 1)
    return [int(x1), int(y1), int(max(1, min(round(w * sx), photo.width - x1))),
            int(max(1, min(round(h * sy), photo.height - y1)))]


def _holds_model(path: Path) -> bool:
    return path.is_dir() and ((path / "config.json").is_file() or any(path.glob("*.keras")))


def _compiled_call(model, size: int):
    """A function (N, S, S, 3) float32 -> (raw outputs, read-out) in NumPy, running the model in inference mode.

    The read-out holds ``age_group`` (index in the reporting scheme), ``age_probabilities``
    (that scheme's, unless regression), ``age_years`` (if the head gives years) and the
    gender and race probabilities. On TensorFlow and JAX, model and read-out are one compiled function.
    """
    import keras

    spec = dict(model.spec)

    def run(x):
        raw = model(x, training=False)
        return raw, _read_out(raw, spec)

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        call = tf.function(run, autograph=False, reduce_retracing=True,
                           input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        to_numpy = lambda d: {k: v.numpy() for k, v in d.items()}  # noqa: E731
        return lambda x: tuple(to_numpy(d) for d in call(tf.constant(x)))
    if keras.backend.backend() == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def jitted(x):
            raw, _ = model.stateless_call(trainable, fixed, x, training=False)
            return raw, _read_out(raw, spec)

        def padded(x):  # batches padded to a power of two: a handful of compilations, not one per face count
            n = len(x)
            m = 1 << max(0, (n - 1).bit_length())
            if m != n:
                x = np.concatenate([x, np.zeros((m - n, *x.shape[1:]), x.dtype)])
            return tuple({k: np.asarray(v)[:n] for k, v in d.items()} for d in jitted(x))

        return padded
    from .age_heads import to_numpy as backend_to_numpy

    def eager(x):
        raw = {k: np.asarray(v) for k, v in model.predict_on_batch(x).items()}
        return raw, {k: backend_to_numpy(v) for k, v in _read_out(raw, spec).items()}

    return eager


def _read_out(raw: dict, spec: dict) -> dict:
    from .age_heads import age_head_from_spec

    head = age_head_from_spec(spec["age_head"])
    scheme = _reporting_scheme(spec)
    out = {"age_group": head.predicted_group(raw["age"], scheme)}
    if head.kind != "regression":
        out["age_probabilities"] = head.scheme_probabilities(raw["age"], scheme)
    if head.gives_years:
        out["age_years"] = head.predicted_years(raw["age"])
    for task in spec["tasks"]:
        if task != "age":
            out[task] = raw[task]
    return out


def _reporting_scheme(spec: dict):
    """The age groups a prediction is reported in: the model's own, or the seed's 10 for a per-year head."""
    from .age_groups import age_groups
    from .age_heads import age_head_from_spec

    groups = age_head_from_spec(spec["age_head"]).groups
    return groups if groups.name != "year" else age_groups("10")


def _model_file(path: Path, which: str = "best") -> Path | None:
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        return path
    if path.is_dir() and (path / f"{which}.keras").is_file():
        return path / f"{which}.keras"
    return None


def _model_title(folder: Path) -> str:
    c = _read_json(Path(folder) / "config.json")
    if not c:
        return Path(folder).name
    return (f"{c.get('dataset', '?')}, {'+'.join(c.get('tasks', []))}, {c.get('backbone', '?')} "
            f"{c.get('image_size', '?')} px, {c.get('epochs', '?')} epochs")


def _no_default_message(folder: Path) -> str:
    where = f"${MODEL_ENV} = {folder}" if os.environ.get(MODEL_ENV) else f"{folder}"
    return (f"no default model: {where} holds no best.keras. Train one with the kit's own command, e.g. "
            "`python -m helpers train --dataset utkface --tasks age,gender,race --age-groups year --weights none "
            "--out runs/my-model`, then pass it (model='runs/my-model', or `python -m helpers predict "
            f"runs/my-model IMAGE`), set {MODEL_ENV}=runs/my-model, or copy that run folder to {DEFAULT_MODEL_DIR}.")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
