"""Try a model on any photo: faces found by MTCNN, cropped as the model's training images were, labelled.

``predict(photo)`` runs the whole pipeline on one photo (a path, uploaded bytes, a PIL image
or an array) and returns a :class:`Prediction`: for every face, largest first, its box, the
age group (label and probabilities), the age in years when the age head gives years, and
gender and race with their probabilities. ``draw_predictions`` draws the boxes and labels
on the photo (the paper's Figure 3); ``prediction_html`` does the same as HTML, for widgets
and web pages.

**Which model.** ``model`` may be a run folder (its ``best.keras``), a ``.keras`` file, a
:class:`helpers.training.Run`, a loaded model, or None for the kit's default model: the
folder named by ``$AGEKIT_MODEL``, else ``models/default/`` in the kit. Models load in Keras
safe mode and are kept in memory, so the second photo costs only the prediction.

**Cropped as in training.** A model has only seen faces framed like its training images:
UTKFace chips are tight (the face fills the frame), IMDB-WIKI crops keep 40 % of the face
box around it (notebook 02 measures both). The crop margin therefore follows the dataset
in the run's ``config.json`` (:data:`TRAINING_MARGINS`) unless you pass ``margin``.

Nothing here imports TensorFlow or Keras until a model is loaded.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .datasets import GENDERS, RACES
from .faces import ASTRONAUT, DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, as_rgb, crop_face, detect_faces
from .images import ImageError, to_rgb
from .paths import KIT_ROOT, runs_dir

#: Where the kit's default model lives (a run folder: config.json, best.keras, metrics.json, README.md).
DEFAULT_MODEL_DIR = KIT_ROOT / "models" / "default"
#: Environment variable naming another model (run folder or .keras file) to use as the default.
MODEL_ENV = "AGEKIT_MODEL"
#: The crop margin that matches each dataset's own images (median implied margin, notebook 02).
TRAINING_MARGINS = {"utkface": 0.0, "wiki": 0.4, "imdb": 0.4}
#: The speed target of the whole pipeline on two CPU cores, photo to labels.
TARGET_MS_PER_PHOTO = 150.0
#: Class names of the gender and race outputs, in output order.
CLASS_NAMES = {"gender": list(GENDERS), "race": list(RACES)}
#: Box colours, one per face in turn (the paper's Figure 3 uses one colour per box).
COLOURS = ("#ffd400", "#00e5ff", "#ff4fd8", "#7cff4f", "#ff8c1a", "#b38cff")


class ModelNotFoundError(FileNotFoundError):
    """No model where one was looked for; the message says how to get one."""


@dataclass
class Prediction:
    """What a model says about one photo: one entry per face in ``faces``, largest first.

    Each face: ``box`` [x, y, width, height] in the photo's pixels, ``confidence`` (MTCNN),
    ``age_group`` and ``age_probabilities`` (over ``age_groups``: the model's groups, the
    10 groups for a per-year head), ``age_years`` (None when the head gives no years),
    ``gender``/``race`` with ``*_probabilities`` when the model has those heads, and
    ``label``, a short text of it all. ``crops`` are the model's inputs, one per face.
    """

    image: str
    width: int
    height: int
    faces: list[dict] = field(default_factory=list)
    model: str = ""
    margin: float = DEFAULT_MARGIN
    detected: bool = True
    crops: list[np.ndarray] = field(default_factory=list, repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def labels(self) -> list[str]:
        """The short label of each face, e.g. ``'age 25-32 · 29 y · female 0.93 · White 0.71'``."""
        return [f["label"] for f in self.faces]

    def as_dict(self) -> dict:
        """JSON-ready: image, width, height, model, margin and the faces (no crops)."""
        return {"image": self.image, "width": self.width, "height": self.height, "model": self.model,
                "margin": self.margin, "faces": [dict(f) for f in self.faces]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def table(self):
        """One row per face: box, confidence, age group and its probability, years, gender, race."""
        import pandas as pd

        rows = []
        for k, f in enumerate(self.faces, start=1):
            row = {"face": k, "box": tuple(f["box"]), "confidence": f.get("confidence"),
                   "age group": f["age_group"], "p(age group)": _top(f.get("age_probabilities"), f["age_group"]),
                   "age (years)": f.get("age_years")}
            for task in ("gender", "race"):
                if task in f:
                    row[task] = f[task]
                    row[f"p({task})"] = _top(f[f"{task}_probabilities"], f[task])
            rows.append(row)
        return pd.DataFrame(rows).set_index("face") if rows else pd.DataFrame(columns=["box"])


class Predictor:
    """A loaded model ready to label face crops fast, with what it needs to crop like its training data.

    ``outputs(crops)`` runs the model on (N, S, S, 3) uint8 crops through one compiled call
    (no per-call set-up as in ``model.predict``); ``describe(crops)`` turns the outputs into
    readable entries.
    """

    def __init__(self, model, *, path: str | os.PathLike | None = None, config: dict | None = None,
                 margin: float | None = None):
        self.model = model
        self.spec = dict(model.spec)
        self.path = Path(path) if path is not None else None
        self.config = dict(config or {})
        self.size = int(self.spec["image_size"])
        dataset = self.config.get("dataset")
        if margin is None:
            margin = self.config.get("crop_margin", TRAINING_MARGINS.get(dataset, DEFAULT_MARGIN))
        self.margin = float(margin)
        self.name = str(self.path) if self.path is not None else f"<{type(model).__name__}>"
        self._call = _compiled_call(model, self.size)
        self.outputs(np.zeros((1, self.size, self.size, 3), np.uint8))  # warm-up: builds the compiled call

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

    def __repr__(self) -> str:
        return (f"Predictor({self.name}: {'+'.join(self.tasks)}, {self.spec['backbone']} at {self.size} px, "
                f"crop margin {self.margin:g})")


# --- the pipeline ------------------------------------------------------------------------------


def predict(
    image,
    model=None,
    *,
    detect: bool = True,
    margin: float | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_faces: int | None = None,
    **detect_options,
) -> Prediction:
    """Find the faces in ``image``, crop each as the model's training images were, and label them.

    ``image``: a path, the bytes of an image file (an upload), a PIL image or an array;
    phone photos are turned upright by their EXIF orientation. ``model``: see the module
    notes (None: the kit's default model). ``detect=False`` treats the whole image as one
    face crop (dataset chips). ``margin`` overrides the training data's crop margin;
    ``max_faces`` keeps the largest faces only; ``min_confidence`` and ``detect_options``
    (``min_face_size``, ``max_side``, ...) go to :func:`helpers.faces.detect_faces`.
    A photo without faces gives a Prediction with no faces; an unreadable file raises
    :class:`helpers.images.ImageError` naming it.
    """
    predictor = load_predictor(model)
    clock = _Clock()
    rgb = read_photo(image)
    name = _image_name(image)
    clock.lap("read")
    crop_margin = predictor.margin if margin is None else float(margin)
    if detect:
        faces = detect_faces(rgb, min_confidence=min_confidence, **detect_options)[:max_faces]
        clock.lap("detect")
        crops = [crop_face(rgb, face, margin=crop_margin, size=predictor.size) for face in faces]
        boxes = [{"box": [int(v) for v in face.box], "confidence": round(float(face.confidence), 4)} for face in faces]
    else:  # a file is decoded and resized exactly as the training images were
        from .images import load_image, resize_square

        whole = isinstance(image, (str, os.PathLike))
        crops = [load_image(image, predictor.size) if whole else resize_square(rgb, predictor.size)]
        boxes = [{"box": [0, 0, int(rgb.shape[1]), int(rgb.shape[0])], "confidence": None}]
    clock.lap("crop")
    described = predictor.describe(np.stack(crops)) if crops else []
    clock.lap("model")
    return Prediction(image=name, width=int(rgb.shape[1]), height=int(rgb.shape[0]),
                      faces=[{**b, **d} for b, d in zip(boxes, described)], model=predictor.name,
                      margin=crop_margin, detected=detect, crops=crops, timings_ms=clock.laps)


def predict_files(paths, model=None, *, detect: bool = True, which: str = "best", **options) -> list[dict]:
    """``predict`` on many files, one JSON-ready entry each; an unreadable file gets ``error``, the rest go on.

    With ``detect`` an entry has ``image`` and ``faces``; without it, ``image`` and the
    whole-image prediction (the format of ``python -m helpers predict --json``).
    """
    predictor = load_predictor(model, which=which)
    out = []
    for path in paths:
        try:
            result = predict(path, predictor, detect=detect, **options)
        except ImageError as err:
            out.append({"image": str(path), "error": str(err)})
            continue
        if detect:
            out.append({"image": str(path), "faces": result.faces})
        else:
            entry = {k: v for k, v in result.faces[0].items() if k not in ("box", "confidence")}
            out.append({"image": str(path), **entry})
    return out


def split_model_argument(inputs) -> tuple[str | None, list[str]]:
    """(model, images) from a command line's ``[RUN_DIR] IMAGE ...``.

    The first path is the model when it is a folder or a .keras file; without one the
    model is None (the default model).
    """
    inputs = [str(x) for x in inputs]
    first = Path(inputs[0]) if inputs else None
    if first is not None and (first.is_dir() or first.suffix == ".keras"):
        if len(inputs) == 1:
            raise ValueError(f"{first} is a model; name one or more image files after it")
        return inputs[0], inputs[1:]
    if not inputs:
        raise ValueError("name one or more image files")
    return None, inputs


def read_photo(image) -> np.ndarray:
    """An RGB uint8 array from a path, the bytes of an image file, a PIL image or an array.

    Files and bytes are turned upright by their EXIF orientation, as a photo viewer shows
    them. Raises ImageError (naming the file) for a missing, empty or undecodable file.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, name = bytes(image), "uploaded file"
        if not data:
            raise ImageError(f"{name}: empty file")
        source = io.BytesIO(data)
    elif isinstance(image, (str, os.PathLike)):
        source = name = Path(image)
        if not source.is_file():
            raise ImageError(f"{name}: no such file")
        if source.stat().st_size == 0:
            raise ImageError(f"{name}: empty file")
    else:
        return as_rgb(image)
    try:
        with Image.open(source) as img:
            img.load()
            if img.getexif().get(0x0112, 1) != 1:  # stored turned or mirrored: show it as a viewer would
                img = ImageOps.exif_transpose(img)
            return to_rgb(img, name)
    except ImageError:
        raise
    except UnidentifiedImageError as err:
        raise ImageError(f"{name}: not an image file (corrupt or unknown format)") from err
    except Image.DecompressionBombError as err:
        raise ImageError(f"{name}: image too large to decode safely ({err})") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"{name}: cannot decode image, truncated or corrupt ({err})") from err


def face_label(entry: dict) -> str:
    """A short text of one face's prediction: age group, years, gender and race with probabilities."""
    parts = [f"age {entry['age_group']}" if entry.get("age_group") is not None else "age ?"]
    if entry.get("age_years") is not None:
        parts.append(f"{entry['age_years']:.0f} y")
    for task in ("gender", "race"):
        if entry.get(task) is not None:
            parts.append(f"{entry[task]} {entry[f'{task}_probabilities'][entry[task]]:.2f}")
    return " · ".join(parts)


# --- models -------------------------------------------------------------------------------------


def default_model_dir() -> Path:
    """The default model: ``$AGEKIT_MODEL`` when set, else ``models/default`` in the kit (may not exist)."""
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


# --- pictures ------------------------------------------------------------------------------------


def draw_predictions(image, prediction: Prediction, *, ax=None, width: int | None = None,
                     title: str | None = None) -> Image.Image:
    """The photo with each face's box and label drawn on it (the paper's Figure 3), as a PIL image.

    ``width`` resizes the result (boxes follow). With a matplotlib ``ax`` the picture is
    also shown there, titled ``title`` (default: the number of faces).
    """
    rgb = read_photo(image)
    scale = 1.0 if not width else width / rgb.shape[1]
    pil = Image.fromarray(rgb)
    if scale != 1.0:
        pil = pil.resize((max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                         Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(pil)
    line = max(2, round(min(pil.size) / 160))
    font = _font(max(11, round(min(pil.size) / 28)))
    for k, face in enumerate(prediction.faces):
        colour = COLOURS[k % len(COLOURS)]
        x, y, w, h = (v * scale for v in face["box"])
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=line)
        text = f"#{k + 1} {face['label']}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        ty = y - th - 2 * line if y - th - 2 * line >= 0 else min(y + h + line, pil.size[1] - th - 2 * line)
        tx = min(max(0, x), max(0, pil.size[0] - tw - 2 * line))
        draw.rectangle([tx, ty, tx + tw + 2 * line, ty + th + 2 * line], fill=(0, 0, 0))
        draw.text((tx + line - left, ty + line - top), text, fill=colour, font=font)
    if ax is not None:
        ax.imshow(pil)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title if title is not None else f"{len(prediction)} face(s)")
    return pil


def prediction_html(image, prediction: Prediction, *, width: int = 480) -> str:
    """HTML of the photo with each face's box and label laid over it, and one line per face below.

    Boxes are ``div.agekit-box`` (label in ``span.agekit-label``) placed in percent of the
    picture, so they stay on the faces at any display size. For ipywidgets and web pages.
    """
    rgb = read_photo(image)
    parts = [f'<div class="agekit-photo" style="position:relative;display:inline-block;max-width:100%;'
             f'width:{int(width)}px;line-height:0">',
             f'<img src="{image_data_url(rgb, width)}" style="width:100%;height:auto" alt="photo">']
    for k, face in enumerate(prediction.faces):
        x, y, w, h = face["box"]
        colour = COLOURS[k % len(COLOURS)]
        style = (f"position:absolute;left:{100 * x / prediction.width:.2f}%;top:{100 * y / prediction.height:.2f}%;"
                 f"width:{100 * w / prediction.width:.2f}%;height:{100 * h / prediction.height:.2f}%;"
                 f"border:2px solid {colour};box-sizing:border-box")
        label_style = (f"position:absolute;left:-2px;bottom:100%;white-space:nowrap;background:rgba(0,0,0,.75);"
                       f"color:{colour};font:12px/1.3 sans-serif;padding:1px 4px")
        parts.append(f'<div class="agekit-box" data-face="{k + 1}" style="{style}">'
                     f'<span class="agekit-label" style="{label_style}">#{k + 1} {html.escape(face["label"])}'
                     "</span></div>")
    parts.append("</div>")
    if prediction.faces:
        items = "".join(f"<li>#{k + 1}: {html.escape(f['label'])} (box {f['box']})</li>"
                        for k, f in enumerate(prediction.faces))
        parts.append(f'<ol class="agekit-faces" style="list-style:none;padding-left:0">{items}</ol>')
    else:
        parts.append('<p class="agekit-no-face">No face found. Try a photo where the face is larger, frontal and '
                     "well lit.</p>")
    return "".join(parts)


def example_html(example: dict, prediction: Prediction, *, width: int = 160) -> str:
    """One labelled image beside the model's answer: ``div.agekit-truth`` and ``div.agekit-prediction``.

    ``example`` holds ``path`` and the true ``age``, ``gender`` and ``race`` (None or NaN when unknown).
    """
    from .age_groups import age_groups

    face = prediction.faces[0]
    scheme = age_groups(face.get("age_groups") or "10")
    age = _known(example.get("age"))
    if age is None:
        truth = ["age unknown"]
    else:
        group = int(scheme.assign([age])[0])
        truth = [f"age {age:g}" + (f" ({scheme.labels[group]})" if group >= 0 else "")]
    for task, names in (("gender", GENDERS), ("race", RACES)):
        value = _known(example.get(task))
        truth.append(names[int(value)] if value is not None else f"{task} unknown")
    p_age = _top(face.get("age_probabilities"), face["age_group"])
    said = [f"age {face['age_group']}" + (f" ({p_age:.2f})" if p_age is not None else "")]
    if face.get("age_years") is not None:
        said.append(f"{face['age_years']:.1f} years")
    for task in ("gender", "race"):
        if task in face:
            said.append(f"{face[task]} ({face[f'{task}_probabilities'][face[task]]:.2f})")
    rgb = read_photo(example["path"])
    return (f'<div class="agekit-example" style="display:flex;gap:16px;align-items:center">'
            f'<img src="{image_data_url(rgb, width)}" style="width:{int(width)}px;image-rendering:auto" alt="face">'
            f'<div><div class="agekit-truth"><b>truth:</b> {html.escape(", ".join(truth))}</div>'
            f'<div class="agekit-prediction"><b>model:</b> {html.escape(", ".join(said))}</div>'
            f'<div class="agekit-file" style="color:#777;font-size:smaller">{html.escape(Path(example["path"]).name)}'
            f"</div></div></div>")


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each file in an ipywidgets ``FileUpload`` value, whatever the ipywidgets version.

    ipywidgets 8 (JupyterLab, voila) holds a tuple of dicts with ``name`` and ``content``;
    ipywidgets 7 (Colab) a dict from file name to a dict with ``content``.
    """
    if isinstance(value, dict):
        return [(str(name), bytes(item["content"])) for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in (value or ())]


def image_data_url(rgb: np.ndarray, width: int | None = None) -> str:
    """A ``data:`` URL of the image (JPEG), shrunk to at most ``width`` pixels wide; for HTML."""
    pil = Image.fromarray(rgb)
    if width and pil.size[0] > width:
        pil = pil.resize((int(width), max(1, round(pil.size[1] * width / pil.size[0]))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- examples with labels -------------------------------------------------------------------------


def validation_examples(model=None, n: int = 40, *, seed: int = 0):
    """Labelled face images to try a model on: a table of path, age, gender, race (``attrs['origin']`` says which).

    In order of preference: the run's own validation images as its ``split.csv`` lists
    them; the same images found by file name in the kit's copy of that dataset (a run
    trained on another machine); without ``split.csv``, the seed split drawn again from the
    kit's copy with the run's settings (the same images when the copy is the same);
    labelled UTKFace images of the kit's data (the model may have trained on some of them;
    without the data, the offline sample of drawn faces). Nothing is downloaded. ``n``
    images are drawn from those with ``seed``.
    """
    import pandas as pd

    from .datasets import index_dataset

    folder = _model_folder(model)
    config = _read_json(folder / "config.json") if folder is not None else {}
    val = None
    if folder is not None and (folder / "split.csv").is_file():
        split = pd.read_csv(folder / "split.csv")
        val = split[split["split"] == "val"]
    table, origin = None, ""
    if val is not None and len(val):
        here = val[[Path(p).is_file() for p in val["path"]]]
        if len(here):
            table, origin = here, "the run's validation images (split.csv)"
    if table is None and config.get("dataset") in ("utkface", "wiki", "imdb"):
        source, is_sample = _kit_data(config["dataset"])
        if not is_sample:
            copy = index_dataset(config["dataset"], source)
            if val is not None and len(val):
                by_name = dict(zip((Path(p).name for p in copy["path"]), copy["path"]))
                found = val.assign(path=[by_name.get(Path(p).name) for p in val["path"]]).dropna(subset=["path"])
                if len(found):
                    table, origin = found, "the run's validation images (split.csv), in the kit's copy of the data"
            else:  # no split.csv: the seed split drawn again, the same images when the copy is the same
                from .splits import SEED, seed_split

                split = seed_split(copy, n=config.get("n_images"), val_fraction=config.get("val_fraction", 0.2),
                                   seed=config.get("seed", SEED))
                table = split[split["split"] == "val"]
                origin = "the run's validation images, drawn again with its seed from the kit's copy of the data"
    if table is None:
        source, is_sample = _kit_data("utkface")
        table = index_dataset("utkface", source)
        origin = ("THE OFFLINE SAMPLE: drawn faces, not photographs" if is_sample else
                  "UTKFace images of the kit's data (the model may have trained on some)")
    rows = np.random.default_rng(seed).permutation(len(table))[:n]
    out = table.iloc[np.sort(rows)].reset_index(drop=True)[["path", "age", "gender", "race"]]
    out.attrs["origin"] = origin
    return out


def import_tensorflow_quietly():
    """Import TensorFlow with the process's stderr muted for the import only, and return it.

    TensorFlow's C++ start-up notes (oneDNN) go straight to the process's stderr, past any
    Python setting; on a voila page they would show as red boxes. An import error still raises.
    """
    import sys

    if "tensorflow" not in sys.modules:
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
                import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules["tensorflow"]


# --- benchmark ---------------------------------------------------------------------------------------


def bench_predict(model=None, *, repeats: int = 20, photos=None) -> dict:
    """Milliseconds from photo to labels, warm (a first call per photo is left out), on the CPU.

    ``photos`` maps names to photos (default: the shipped astronaut portrait as a file,
    400 x 400 with one face, decoding included; and the made-up group photo, 876 x 448 with
    three faces). Each photo runs ``repeats`` times; each photo's figures are medians, with
    the time of every step. ``ms_per_photo`` is the mean over the photos of their medians,
    the figure the target (:data:`TARGET_MS_PER_PHOTO`) is for.
    """
    import tensorflow as tf

    from .faces import group_photo

    if photos is None:
        photos = {"astronaut": ASTRONAUT, "group": group_photo()[0]}
    predictor = load_predictor(model)
    report = {"model": predictor.name, "backbone": predictor.spec["backbone"], "image_size": predictor.size,
              "tasks": predictor.tasks, "device": "CPU", "cpus": os.cpu_count(),
              "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
              "repeats": int(repeats), "photos": {}}
    with tf.device("/CPU:0"):
        for name, photo in photos.items():
            predict(photo, predictor)  # warm-up: builds the detector's graphs for this size
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
            }
    ms = round(float(np.mean([r["ms"] for r in report["photos"].values()])), 1)
    report.update(ms_per_photo=ms, target_ms=TARGET_MS_PER_PHOTO, meets_target=bool(ms <= TARGET_MS_PER_PHOTO))
    return report


# --- private details -------------------------------------------------------------------------------

_PREDICTORS: dict[tuple, Predictor] = {}
_KEEP = 2  # models kept in memory (switching back and forth between two is instant; a B4 weighs hundreds of MB)


def _remember(key: tuple, predictor: Predictor) -> None:
    while len(_PREDICTORS) >= _KEEP:
        _PREDICTORS.pop(next(iter(_PREDICTORS)))
    _PREDICTORS[key] = predictor


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(1000 * (now - self._last), 2)
        self._last = now


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


def _model_folder(model) -> Path | None:
    if model is None:
        path = default_model_dir()
    elif isinstance(model, Predictor):
        path = model.path
    elif hasattr(model, "path") and hasattr(model, "config"):
        path = model.path
    elif isinstance(model, (str, os.PathLike)):
        path = Path(model)
    else:
        return None
    if path is None:
        return None
    path = Path(path)
    return path if path.is_dir() else path.parent


def _kit_data(dataset: str):
    """(folder, is_sample) of the kit's copy of ``dataset``, never downloading."""
    import warnings

    from .datasets import default_source

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the offline sample is named as such in the origin
        return default_source(dataset, allow_download=False)


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


def _image_name(image) -> str:
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "uploaded file"
    return f"<{type(image).__name__}>"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _top(probabilities: dict | None, key):
    if not probabilities or key not in probabilities:
        return None
    return probabilities[key]


def _known(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(value) or value < 0 else value


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
