"""Find faces with MTCNN and cut them out the way the models expect them.

``detect_faces`` returns every face in one image (box, confidence, five landmarks), largest
first, and an empty list when there is none. ``crop_faces`` does the same for many images
with a progress bar and cuts each face out: a square window around the box with a margin
(0.4 of the box on each side by default, clipped at the image border), optionally rotated
so the eyes are level, resized to the model's input, written to a folder if asked. A file
that cannot be read gets an error of its own and the other files go on.

**MTCNN runs on TensorFlow, whatever backend Keras uses.** mtcnn 1.0 defines its three
networks as ``tf.keras`` models, and under Keras 3 ``tf.keras`` follows ``KERAS_BACKEND``:
with ``KERAS_BACKEND=jax`` mtcnn's own detector gets JAX arrays back and fails. This module
therefore runs the three networks as plain TensorFlow functions (``tf.nn.conv2d``,
``tf.nn.max_pool2d``, matrix products) fed with the weights that ship inside the mtcnn
package, and uses mtcnn's numpy box utilities for the rest of the cascade. Nothing in
detection goes through Keras, so the Keras backend can be JAX (or anything Keras accepts)
in the same process. Keras must still be importable, because importing mtcnn defines its
(unused) Keras classes.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from .images import ImageError, as_rgb, read_rgb, to_rgb  # noqa: F401  (as_rgb: importable from here too)
from .paths import KIT_ROOT

#: The public-domain NASA portrait of Eileen Collins that ships with the kit (data/README.md).
ASTRONAUT = KIT_ROOT / "data" / "astronaut.png"
#: The five landmarks, named as mtcnn names them: "left" and "right" as seen in the picture.
KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
DEFAULT_MARGIN = 0.4
DEFAULT_MIN_CONFIDENCE = 0.9
#: The longest side the detector works at: larger photos are shrunk to it before the search.
DETECT_MAX_SIDE = 1024
#: Files the crop command picks up inside a folder.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
#: IMDB-WIKI face_score buckets, and what MTCNN should say about each (share with a face).
FACE_SCORE_BUCKETS = ("face_score = -inf", "face_score < 2", "face_score ≥ 2")
AGREEMENT_TARGETS = {"face_score ≥ 2": (">=", 0.97), "face_score = -inf": ("<=", 0.05)}


@dataclass(frozen=True)
class Face:
    """One face: box (x, y, width, height) in pixels, confidence in [0, 1], five landmarks (x, y)."""

    box: tuple[int, int, int, int]
    confidence: float
    keypoints: dict[str, tuple[float, float]]

    @property
    def area(self) -> int:
        """Box area in pixels (faces are sorted by it, largest first)."""
        return self.box[2] * self.box[3]

    def as_dict(self) -> dict:
        """JSON-ready: ``box`` [x, y, w, h], ``confidence``, ``keypoints`` {name: [x, y]}."""
        return {
            "box": [int(v) for v in self.box],
            "confidence": round(float(self.confidence), 4),
            "keypoints": {k: [round(float(x), 1), round(float(y), 1)] for k, (x, y) in self.keypoints.items()},
        }


@dataclass(frozen=True)
class CropSettings:
    """How a face is cut out for a model: ``margin`` around the box (see ``crop_window``) and
    ``align`` (eyes levelled first), as the model's training images were framed."""

    margin: float
    align: bool = False

    def as_dict(self) -> dict:
        return {"margin": float(self.margin), "align": bool(self.align)}


#: How each dataset's own images frame a face: UTKFace's chips are tight (median implied margin
#: about 0, notebook 02), IMDB-WIKI's crops keep about 40 % of the face box on each side. No
#: alignment: UTKFace's chips were aligned by its makers, but re-cutting 392 UTKFace images with
#: the eyes levelled scored no better with the shipped models than without (mixed, within noise).
TRAINING_CROPS = {"utkface": CropSettings(0.0, False), "wiki": CropSettings(0.4, False),
                  "imdb": CropSettings(0.4, False)}


def crop_settings(config: dict | None) -> CropSettings:
    """How the faces a model trained on were framed, from its run's (or shipped model's) ``config.json``.

    The ``crop`` the config records (``{"margin", "align"}``, written by ``ship``) when there
    is one; else that of its ``dataset`` (:data:`TRAINING_CROPS`). A multi-source mix
    (``config["mix"]``, source -> labels it contributes) takes its sources' crop when they
    agree, else the crop of the first source that contributes age labels. Anything else (the
    synthetic set, a bare model): :data:`DEFAULT_MARGIN` without alignment. A config that
    records only ``crop_margin`` keeps that margin.
    """
    config = config or {}
    recorded = config.get("crop")
    if isinstance(recorded, dict) and "margin" in recorded:
        return CropSettings(float(recorded["margin"]), bool(recorded.get("align", False)))
    mix = config.get("mix")
    if isinstance(mix, dict) and mix:
        crops = [TRAINING_CROPS.get(source, CropSettings(DEFAULT_MARGIN)) for source in mix]
        if len(set(crops)) == 1:
            found = crops[0]
        else:
            age_sources = [source for source, labels in mix.items() if "age" in labels] or list(mix)
            found = TRAINING_CROPS.get(age_sources[0], CropSettings(DEFAULT_MARGIN))
    else:
        found = TRAINING_CROPS.get(config.get("dataset"), CropSettings(DEFAULT_MARGIN))
    if config.get("crop_margin") is not None:
        found = CropSettings(float(config["crop_margin"]), found.align)
    return found


@dataclass
class FaceResult:
    """What one input gave: its faces (largest first) and their crops, or the error that stopped it."""

    file: str
    faces: list[Face] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    crop_files: list[str] = field(default_factory=list)
    error: str | None = None
    shape: tuple[int, ...] | None = None

    def as_dict(self) -> dict:
        """JSON-ready: ``file`` and ``faces`` (box, confidence, keypoints, crop), or ``file`` and ``error``."""
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        faces = []
        for i, face in enumerate(self.faces):
            entry = face.as_dict()
            entry["crop"] = self.crop_files[i] if i < len(self.crop_files) else None
            faces.append(entry)
        return {"file": self.file, "faces": faces}


def detect_faces(
    image,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_face_size: int = 20,
    max_side: int = DETECT_MAX_SIDE,
    min_side: int = 0,
) -> list[Face]:
    """Every face in one image (path, PIL image or array of any mode), largest first; [] if none.

    Images longer than ``max_side`` are shrunk and images shorter than ``min_side`` enlarged
    before detection; boxes always come back in the original image's pixels. Faces smaller
    than ``min_face_size`` pixels (at detection scale) are not searched for. An unreadable
    file raises ImageError.
    """
    rgb = as_rgb(image)
    return _detector().detect([rgb], min_confidence=min_confidence, min_face_size=min_face_size,
                              max_side=max_side, min_side=min_side)[0]


def detect_many(images, *, progress: bool = True, batch_size: int = 32, **options) -> list[FaceResult]:
    """``detect_faces`` on many images at once; unreadable files get ``error`` set, the rest go on.

    Images of the same size are run through the networks together (much faster for datasets
    of equal-size crops). ``options`` are those of ``detect_faces``.
    """
    return crop_faces(images, crop=False, progress=progress, batch_size=batch_size, **options)


def crop_face(
    image,
    face: Face,
    *,
    margin: float = DEFAULT_MARGIN,
    size: int | None = None,
    align: bool = False,
) -> np.ndarray:
    """The face cut out with ``margin`` (see ``crop_window``), eyes levelled if ``align``, as size x size RGB.

    ``size`` defaults to the input size of the current profile (``helpers.profile().image_size``).
    With ``align`` the window turns about its centre; a corner that then falls outside the
    photo is black.
    """
    rgb = as_rgb(image)
    size = _default_size(size)
    x1, y1, x2, y2 = crop_window(face, rgb.shape, margin)
    pil = Image.fromarray(rgb)
    if align:
        angle = eye_angle(face)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        reach = int(math.ceil((x2 - x1) / 2 * math.sqrt(2))) + 2  # the window's half diagonal
        bx, by = int(cx) - reach, int(cy) - reach
        region = pil.crop((bx, by, bx + 2 * reach, by + 2 * reach))  # outside the photo: black
        region = region.rotate(angle, resample=Image.Resampling.BICUBIC, center=(cx - bx, cy - by))
        window = region.crop((x1 - bx, y1 - by, x2 - bx, y2 - by))
    else:
        window = pil.crop((x1, y1, x2, y2))
    return np.asarray(window.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def crop_faces(
    images,
    *,
    margin: float = DEFAULT_MARGIN,
    size: int | None = None,
    align: bool = False,
    out_dir: str | os.PathLike | None = None,
    crop: bool = True,
    progress: bool = True,
    batch_size: int = 32,
    **options,
) -> list[FaceResult]:
    """Detect and crop every face in many images (paths or arrays), one FaceResult per input.

    Crops are kept in ``result.crops``; with ``out_dir`` they are also written there as
    ``<file stem>_face<k>.png`` (k = 1 for the largest face; arrays are named ``image<i>``)
    and listed in ``result.crop_files``. ``crop=False`` only detects (``detect_many``). An
    unreadable file gets ``result.error`` and the others go on. ``options`` are those of
    ``detect_faces``.
    """
    items = list(images) if not isinstance(images, (str, os.PathLike)) else [images]
    if crop and margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    size = _default_size(size) if crop else None
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    results = [FaceResult(_name(item, i)) for i, item in enumerate(items)]
    stems: dict[str, int] = {}
    detector = _detector()
    with tqdm(total=len(items), desc="faces", unit="img", disable=not progress) as bar:
        for start in range(0, len(items), max(1, batch_size)):
            chunk = range(start, min(start + max(1, batch_size), len(items)))
            arrays = {}
            for i in chunk:
                try:
                    arrays[i] = as_rgb(items[i], results[i].file)
                    results[i].shape = arrays[i].shape
                except ImageError as err:
                    results[i].error = str(err)
            found = detector.detect(list(arrays.values()), **options)
            for (i, rgb), faces in zip(arrays.items(), found):
                results[i].faces = faces
                if crop:
                    results[i].crops = [crop_face(rgb, f, margin=margin, size=size, align=align) for f in faces]
                    if out is not None:
                        results[i].crop_files = _write_crops(results[i], i, out, stems)
            bar.update(len(chunk))
    return results


def crop_window(face: Face, image_shape: tuple[int, ...], margin: float = DEFAULT_MARGIN) -> tuple[int, int, int, int]:
    """The square (x1, y1, x2, y2) cut around ``face``: side (1 + 2 * margin) x the box's longer side.

    The square is centred on the box and clipped at the image border; when clipping leaves a
    rectangle, its longer side is trimmed back to a square that keeps the face centre as well
    as it can, so a face is never stretched.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    height, width = image_shape[:2]
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    half = max(w, h, 1) * (1 + 2 * margin) / 2
    x1, y1 = max(0.0, cx - half), max(0.0, cy - half)
    x2, y2 = min(float(width), cx + half), min(float(height), cy + half)
    side = max(1.0, min(x2 - x1, y2 - y1))
    x1 = min(max(cx - side / 2, x1), x2 - side)
    y1 = min(max(cy - side / 2, y1), y2 - side)
    side_px = max(1, int(round(side)))
    x1_px = int(np.clip(round(x1), 0, max(0, width - side_px)))
    y1_px = int(np.clip(round(y1), 0, max(0, height - side_px)))
    return x1_px, y1_px, x1_px + side_px, y1_px + side_px


def eye_angle(face: Face) -> float:
    """Angle of the eye line in degrees, clockwise as seen on screen (0 when the eyes are level)."""
    (lx, ly), (rx, ry) = face.keypoints["left_eye"], face.keypoints["right_eye"]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def implied_margin(face: Face, image_shape: tuple[int, ...]) -> float:
    """The margin that makes ``face``'s crop window the whole image: how loose a dataset's crops are."""
    x, y, w, h = face.box
    return (min(image_shape[:2]) / max(w, h, 1) - 1) / 2


def faces_table(faces: list[Face]) -> pd.DataFrame:
    """One row per face: x, y, width, height, confidence and each landmark as (x, y)."""
    rows = []
    for k, f in enumerate(faces, start=1):
        row = {"face": k, "x": f.box[0], "y": f.box[1], "width": f.box[2], "height": f.box[3],
               "confidence": round(f.confidence, 4)}
        row.update({name: f"({x:.0f}, {y:.0f})" for name, (x, y) in f.keypoints.items()})
        rows.append(row)
    columns = ["face", "x", "y", "width", "height", "confidence", *KEYPOINTS]
    return pd.DataFrame(rows, columns=columns).set_index("face")


def astronaut() -> np.ndarray:
    """The bundled NASA portrait of astronaut Eileen Collins (public domain) as RGB uint8."""
    return read_rgb(ASTRONAUT)


def group_photo(
    photo: np.ndarray | None = None,
    scales: tuple[float, ...] = (1.0, 0.6, 0.35),
    *,
    gap: int = 24,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A made-up "wild" scene: ``photo`` (default: the astronaut) pasted at each scale on a noisy canvas.

    Returns the canvas (RGB uint8) and where each copy went as (x, y, width, height), in the
    order of ``scales``.
    """
    rng = np.random.default_rng(seed)
    photo = astronaut() if photo is None else as_rgb(photo)
    copies = []
    for s in scales:
        h, w = max(1, round(photo.shape[0] * s)), max(1, round(photo.shape[1] * s))
        copies.append(np.asarray(Image.fromarray(photo).resize((w, h), Image.Resampling.LANCZOS)))
    height = max(c.shape[0] for c in copies) + 2 * gap
    width = sum(c.shape[1] for c in copies) + gap * (len(copies) + 1)
    ramp = np.linspace(60, 180, width)[None, :, None] * np.ones((height, 1, 3))
    canvas = np.clip(ramp + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    places, x = [], gap
    for c in copies:
        y = int(rng.integers(gap, height - gap - c.shape[0] + 1))
        canvas[y:y + c.shape[0], x:x + c.shape[1]] = c
        places.append((x, y, c.shape[1], c.shape[0]))
        x += c.shape[1] + gap
    return canvas, places


def draw_faces(ax, image, faces: list[Face], *, margin: float | None = None, title: str | None = None):
    """Show ``image`` on ``ax`` with each face's box, landmarks and confidence (and crop window if ``margin``)."""
    from matplotlib.patches import Rectangle

    rgb = as_rgb(image)
    ax.imshow(rgb)
    for k, face in enumerate(faces):
        x, y, w, h = face.box
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="yellow", linewidth=1.5))
        pts = np.array([face.keypoints[name] for name in KEYPOINTS])
        ax.scatter(pts[:, 0], pts[:, 1], s=12, c=["cyan", "cyan", "lime", "magenta", "magenta"], zorder=3)
        ax.text(x, y - 3, f"#{k + 1} {face.confidence:.3f}", color="yellow", fontsize=8, va="bottom",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
        if margin is not None:
            x1, y1, x2, y2 = crop_window(face, rgb.shape, margin)
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor="white",
                                   linestyle="--", linewidth=1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else f"{len(faces)} face(s)")
    return ax


def wiki_face_scores(source: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every IMDB-WIKI image on disk with the dataset's own face_score, second_face_score and bucket.

    ``source`` is what ``index_imdb_wiki`` accepts; default: the kit's default wiki data.
    """
    from .datasets import find_mat, default_source, read_imdb_wiki_mat

    if source is None:
        source, _ = default_source("wiki")
    mat = find_mat(source)
    meta = read_imdb_wiki_mat(mat)
    paths = [mat.parent / p for p in meta["full_path"]]
    exists = np.array([p.is_file() for p in paths], dtype=bool)
    score = meta["face_score"].to_numpy(dtype=float)
    table = pd.DataFrame({
        "path": [str(p) for p in paths],
        "face_score": score,
        "second_face_score": meta["second_face_score"].to_numpy(dtype=float),
        "bucket": _bucket(score),
    })
    return table[exists & table["bucket"].notna().to_numpy()].reset_index(drop=True)


def score_wiki_sample(
    source: str | os.PathLike | None = None,
    *,
    n_per_bucket: int | None = 100,
    seed: int = 0,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    progress: bool = True,
    **options,
) -> pd.DataFrame:
    """MTCNN on ``n_per_bucket`` random wiki images per face_score bucket (None: all): one row per image.

    Columns: path, face_score, second_face_score, bucket, faces (how many MTCNN found with
    at least ``min_confidence``), confidence (MTCNN's best score for any candidate that
    passed its second network, NaN if none did), error.
    """
    table = wiki_face_scores(source)
    picks = [g if n_per_bucket is None or len(g) <= n_per_bucket else g.sample(n_per_bucket, random_state=seed)
             for _, g in table.groupby("bucket", sort=False)]
    sample = pd.concat(picks).reset_index(drop=True) if picks else table.iloc[:0].copy()
    # detect with no confidence floor, so the best score of a rejected candidate is kept too;
    # candidates below min_confidence cannot remove better ones, so the faces counted are the same
    results = detect_many(sample["path"].tolist(), progress=progress, min_confidence=0.0, **options)
    sample["faces"] = [sum(f.confidence >= min_confidence for f in r.faces) for r in results]
    sample["confidence"] = [max((f.confidence for f in r.faces), default=np.nan) for r in results]
    sample["error"] = [r.error for r in results]
    return sample


def face_score_agreement(images: pd.DataFrame | None = None, **sample_options) -> pd.DataFrame:
    """How often MTCNN finds a face in each face_score bucket, against the kit's targets.

    ``images`` is a ``score_wiki_sample`` table; without it one is made with ``sample_options``
    (source, n_per_bucket, seed, detection options). One row per bucket: images, with a face,
    share, two or more faces, dataset says second face, target, meets target.
    """
    if images is None:
        images = score_wiki_sample(**sample_options)
    rows = []
    for bucket in FACE_SCORE_BUCKETS:
        g = images[(images["bucket"] == bucket) & images["error"].isna()]
        if not len(g):
            continue
        share = float((g["faces"] > 0).mean())
        op, goal = AGREEMENT_TARGETS.get(bucket, (None, None))
        rows.append({
            "bucket": bucket,
            "images": len(g),
            "with a face": int((g["faces"] > 0).sum()),
            "share": round(share, 4),
            "two or more faces": int((g["faces"] > 1).sum()),
            "dataset says second face": int(np.isfinite(g["second_face_score"].to_numpy(dtype=float)).sum()),
            "target": f"{op} {goal:.0%}" if op else "",
            "meets target": (share >= goal if op == ">=" else share <= goal) if op else pd.NA,
        })
    return pd.DataFrame(rows).set_index("bucket")


def bench_crop(sizes: tuple[int, ...] = (64, 200), n_images: int = 48, seed: int = 0) -> dict:
    """Images per second of detect + crop on the CPU, for square images of each size.

    The images are jittered crops of the astronaut photo (one face each), run once one at a
    time and once in batches; a warm-up call comes first so start-up costs are not counted.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    photo = Image.fromarray(astronaut())
    report = {"device": "CPU", "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
              "n_images": n_images, "sizes": {}}
    with tf.device("/CPU:0"):
        for size in sizes:
            images = []
            for _ in range(n_images):
                x, y = rng.integers(0, 60, 2)
                side = int(rng.integers(280, 330))
                images.append(np.asarray(photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.BILINEAR)))
            crop_faces(images[:2], progress=False)  # warm-up: builds the graphs for this size
            t0 = time.perf_counter()
            single = [crop_faces([im], progress=False)[0] for im in images]
            t1 = time.perf_counter()
            batched = crop_faces(images, progress=False, batch_size=n_images)
            t2 = time.perf_counter()
            report["sizes"][f"{size}px"] = {
                "one_at_a_time_images_per_s": round(n_images / (t1 - t0), 1),
                "batched_images_per_s": round(n_images / (t2 - t1), 1),
                "share_with_a_face": round(sum(bool(r.faces) for r in batched) / n_images, 3),
                "same_faces_both_ways": [len(r.faces) for r in single] == [len(r.faces) for r in batched],
            }
    return report


# --- private details -------------------------------------------------------------------------


def _name(item, i: int) -> str:
    return str(item) if isinstance(item, (str, os.PathLike)) else f"<image {i}>"


def _default_size(size: int | None) -> int:
    if size is None:
        from .profiles import profile

        size = profile().image_size
    if int(size) < 1:
        raise ValueError(f"crop size must be at least 1 pixel, got {size}")
    return int(size)


def _bucket(score: np.ndarray) -> np.ndarray:
    out = np.full(len(score), None, dtype=object)
    out[np.isneginf(score)] = FACE_SCORE_BUCKETS[0]
    out[np.isfinite(score) & (score < 2)] = FACE_SCORE_BUCKETS[1]
    out[np.isfinite(score) & (score >= 2)] = FACE_SCORE_BUCKETS[2]
    return out


def _write_crops(result: FaceResult, index: int, out: Path, stems: dict[str, int]) -> list[str]:
    stem = f"image{index}" if result.file.startswith("<") else Path(result.file).name.split(".")[0]
    stems[stem] = stems.get(stem, 0) + 1
    if stems[stem] > 1:  # two inputs with the same name: keep both
        stem = f"{stem}-{stems[stem]}"
    files = []
    for k, crop in enumerate(result.crops, start=1):
        path = out / f"{stem}_face{k}.png"
        Image.fromarray(crop).save(path)
        files.append(str(path))
    return files


_DETECTOR = None


def _detector() -> "_Cascade":
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = _Cascade()
    return _DETECTOR


class _Cascade:
    """MTCNN's three-stage cascade with the networks as plain TensorFlow functions.

    The weights are mtcnn 1.0's own (``mtcnn/assets/weights/*.lz4``, lists of arrays in the
    order of its Keras layers); the box arithmetic between the stages is mtcnn's own numpy code.
    """

    PNET_THRESHOLD, RNET_THRESHOLD = 0.6, 0.7
    SCALE_FACTOR = 0.709
    CELL = 12  # PNet's window: the smallest image side the pyramid may reach

    def __init__(self):
        import importlib.util

        import joblib
        import tensorflow as tf

        spec = importlib.util.find_spec("mtcnn")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the mtcnn package is not installed: pip install mtcnn==1.0.0")
        folder = Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights"
        weights = {n: [tf.constant(w, tf.float32) for w in joblib.load(folder / f"{n}.lz4")] for n in ("pnet", "rnet", "onet")}
        self.tf = tf
        p, r, o = weights["pnet"], weights["rnet"], weights["onet"]
        spec_p = [tf.TensorSpec([None, None, None, 3], tf.float32)]
        self.pnet = tf.function(lambda x: _pnet(tf, p, x), input_signature=spec_p)
        self.rnet = tf.function(lambda x: _rnet(tf, r, x), input_signature=[tf.TensorSpec([None, 24, 24, 3], tf.float32)])
        self.onet = tf.function(lambda x: _onet(tf, o, x), input_signature=[tf.TensorSpec([None, 48, 48, 3], tf.float32)])

    def detect(self, images: list[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
               min_face_size: int = 20, max_side: int = DETECT_MAX_SIDE, min_side: int = 0) -> list[list[Face]]:
        """Faces for each RGB uint8 image; images of one shape go through the networks together."""
        if min_face_size < 1:
            raise ValueError(f"min_face_size must be at least 1 pixel, got {min_face_size}")
        out: list[list[Face]] = [[] for _ in images]
        prepared, factors = [], []
        for rgb in images:
            arr, f = _detection_scale(rgb, max_side, min_side)
            prepared.append(arr)
            factors.append(f)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, arr in enumerate(prepared):
            groups.setdefault(arr.shape, []).append(i)
        for shape, members in groups.items():
            rows = self._cascade(np.stack([prepared[i] for i in members]), min_confidence, min_face_size)
            for j, i in enumerate(members):
                out[i] = _to_faces(rows[rows[:, 0] == j], factors[i], images[i].shape)
        return out

    def _cascade(self, batch: np.ndarray, min_confidence: float, min_face_size: int) -> np.ndarray:
        """Rows [image, x1, y1, x2, y2, confidence, 5 landmark x, 5 landmark y] for a batch of one shape."""
        from mtcnn.utils.bboxes import (adjust_bboxes, generate_bounding_box, pick_matches, replace_confidence,
                                        resize_to_square, smart_nms_from_bboxes, upscale_bboxes)
        from mtcnn.utils.landmarks import adjust_landmarks

        tf = self.tf
        n, h, w = batch.shape[:3]
        empty = np.empty((0, 16))
        # The photo stays uint8 (a quarter of float32's memory); each pyramid level and each patch is
        # normalised on its own. Resizing and cropping are linear, so this is the same arithmetic.
        images = tf.convert_to_tensor(batch)
        proposals = []
        for scale in _pyramid(h, w, min_face_size, self.SCALE_FACTOR, self.CELL):
            hs, ws = max(self.CELL, math.ceil(h * scale)), max(self.CELL, math.ceil(w * scale))
            reg, prob = self._pnet_strips(_normalise(tf, tf.image.resize(images, (hs, ws), method="area")))
            boxes = generate_bounding_box(reg, prob, self.PNET_THRESHOLD)
            if len(boxes):
                boxes = upscale_bboxes(boxes, np.full(n, scale))
                proposals.append(smart_nms_from_bboxes(boxes, threshold=0.5, method="union", initial_sort=False))
        if not proposals:
            return empty
        boxes = smart_nms_from_bboxes(np.concatenate(proposals), threshold=0.7, method="union", initial_sort=True)
        boxes = resize_to_square(boxes)

        reg, prob = self.rnet(_patches(tf, images, boxes, 24))
        boxes = adjust_bboxes(replace_confidence(boxes, prob.numpy()), reg.numpy())
        boxes = pick_matches(boxes, score_threshold=self.RNET_THRESHOLD)
        if not len(boxes):
            return empty
        boxes = resize_to_square(smart_nms_from_bboxes(boxes, threshold=0.7, method="union", initial_sort=True))

        reg, landmarks, prob = self.onet(_patches(tf, images, boxes, 48))
        landmarks = adjust_landmarks(landmarks, boxes)
        boxes = adjust_bboxes(replace_confidence(boxes, prob.numpy()), reg.numpy())
        boxes = pick_matches(np.concatenate([boxes, landmarks], axis=-1), scores_column=5,
                             score_threshold=min(min_confidence, 1.0 - 1e-9))
        if not len(boxes):
            return empty
        return smart_nms_from_bboxes(boxes, threshold=0.7, method="min", initial_sort=True)


    def _pnet_strips(self, x):
        """PNet over ``x`` (N, H, W, 3), in bands of rows when the level is large, so that its
        activations never hold more than about :data:`PNET_STRIP_PIXELS` input pixels at once.

        PNet's output row ``i`` sees input rows ``2i`` to ``2i + 11``: bands that start on even rows
        and overlap by 10 rows give exactly the rows the whole level gives, concatenated.
        """
        tf = self.tf
        n, h, w = (int(d) for d in x.shape[:3])
        rows = max(24, (PNET_STRIP_PIXELS // max(1, n * w)) // 2 * 2)  # an even number of input rows
        if h <= rows:
            return self.pnet(x)
        regs, probs, top = [], [], 0
        while True:
            last = top + rows >= h
            reg, prob = self.pnet(x[:, top:] if last else x[:, top:top + rows])
            regs.append(reg)
            probs.append(prob)
            if last:
                return tf.concat(regs, axis=1), tf.concat(probs, axis=1)
            top += rows - 10


#: The most input pixels (all images of a batch together) PNet takes at once; a larger pyramid
#: level runs in bands of rows (:meth:`_Cascade._pnet_strips`), which caps the detector's memory.
PNET_STRIP_PIXELS = 160 * 640


def _normalise(tf, x):
    """Pixel values 0-255 to MTCNN's input range, about -1 to 1."""
    return (tf.cast(x, tf.float32) - 127.5) / 128.0


def _patches(tf, images, boxes: np.ndarray, size: int):
    """The boxes' patches (rows [image, x1, y1, x2, y2, ...] in pixels) of uint8 ``images``, resized
    to ``size`` and normalised; outside the photo counts as mid-grey (0 once normalised)."""
    height, width = int(images.shape[1]), int(images.shape[2])
    coords = boxes[:, [2, 1, 4, 3]] / np.asarray([[height, width, height, width]])
    patches = tf.image.crop_and_resize(images, coords.astype(np.float32), boxes[:, 0].astype(np.int32),
                                       (size, size), extrapolation_value=127.5)
    return _normalise(tf, patches)


def _pyramid(h: int, w: int, min_face_size: int, factor: float, cell: int) -> list[float]:
    # the first scale maps a min_face_size face onto PNet's 12-pixel window; stop before the
    # image gets smaller than that window (mtcnn 1.0 counts the levels as if the first scale
    # were 1, which overshoots for min_face_size > 12 and then finds nothing at all)
    scales, scale = [], cell / min_face_size
    while min(h, w) * scale >= cell:
        scales.append(scale)
        scale *= factor
    return scales


def _detection_scale(rgb: np.ndarray, max_side: int, min_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    factor = 1.0
    if max_side and max(h, w) > max_side:
        factor = max_side / max(h, w)
    elif min_side and min(h, w) < min_side:
        factor = min_side / min(h, w)
    if factor == 1.0:
        return rgb, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    method = Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(rgb).resize(size, method, reducing_gap=None if factor > 1 else 3.0)), factor


def _to_faces(rows: np.ndarray, factor: float, shape: tuple[int, ...]) -> list[Face]:
    height, width = shape[:2]
    faces = []
    for row in rows:
        x1, y1, x2, y2 = (row[1:5] / factor).tolist()
        x1, y1 = min(max(x1, 0.0), width - 1.0), min(max(y1, 0.0), height - 1.0)
        x2, y2 = min(max(x2, 0.0), width - 1.0), min(max(y2, 0.0), height - 1.0)
        box = (int(round(x1)), int(round(y1)), max(1, int(round(x2 - x1))), max(1, int(round(y2 - y1))))
        xs, ys = row[6:11] / factor, row[11:16] / factor
        keypoints = {name: (float(x), float(y)) for name, x, y in zip(KEYPOINTS, xs, ys)}
        faces.append(Face(box, float(row[5]), keypoints))
    return sorted(faces, key=lambda f: (-f.area, -f.confidence))


# The networks, layer for layer as mtcnn 1.0's Keras models (same weight order). The final
# layers of RNet and ONet read the feature map transposed (height and width swapped), as
# the original Caffe models did.


def _conv(tf, x, kernel, bias):
    return tf.nn.conv2d(x, kernel, strides=1, padding="VALID") + bias


def _prelu(tf, x, alpha):
    return tf.nn.relu(x) - alpha * tf.nn.relu(-x)


def _pool(tf, x, size, padding):
    return tf.nn.max_pool2d(x, ksize=size, strides=2, padding=padding)


def _pnet(tf, w, x):
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[0], w[1]), w[2]), 2, "SAME")
    x = _prelu(tf, _conv(tf, x, w[3], w[4]), w[5])
    x = _prelu(tf, _conv(tf, x, w[6], w[7]), w[8])
    return _conv(tf, x, w[9], w[10]), tf.nn.softmax(_conv(tf, x, w[11], w[12]), axis=-1)


def _flat(tf, x):
    x = tf.transpose(x, [0, 2, 1, 3])
    return tf.reshape(x, [tf.shape(x)[0], -1])


def _rnet(tf, w, x):
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[0], w[1]), w[2]), 3, "SAME")
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[3], w[4]), w[5]), 3, "VALID")
    x = _flat(tf, _prelu(tf, _conv(tf, x, w[6], w[7]), w[8]))
    x = _prelu(tf, tf.matmul(x, w[9]) + w[10], w[11])
    return tf.matmul(x, w[12]) + w[13], tf.nn.softmax(tf.matmul(x, w[14]) + w[15], axis=-1)


def _onet(tf, w, x):
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[0], w[1]), w[2]), 3, "SAME")
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[3], w[4]), w[5]), 3, "VALID")
    x = _pool(tf, _prelu(tf, _conv(tf, x, w[6], w[7]), w[8]), 2, "SAME")
    x = _flat(tf, _prelu(tf, _conv(tf, x, w[9], w[10]), w[11]))
    x = _prelu(tf, tf.matmul(x, w[12]) + w[13], w[14])
    return (tf.matmul(x, w[15]) + w[16], tf.matmul(x, w[17]) + w[18],
            tf.nn.softmax(tf.matmul(x, w[19]) + w[20], axis=-1))
