"""An offline sample dataset in the real on-disk formats, for machines without the data.

``make_sample(dest)`` writes drawn (not photographed) faces whose look follows their labels,
under UTKFace-style names and in a ``wiki_crop`` folder with a ``wiki.mat`` in the real
struct layout. Models can learn something from it, but nothing measured on it says
anything about real faces.
"""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SAMPLE_WARNING = (
    "THIS RUN USES THE OFFLINE SAMPLE: drawn faces, not photographs. The numbers below "
    "only show that the code runs; they say nothing about real faces."
)

_SKIN = [(233, 196, 170), (120, 80, 55), (222, 184, 135), (170, 120, 85), (196, 150, 110)]


def make_sample(dest: str | os.PathLike, *, n_utkface: int = 400, n_wiki: int = 200, seed: int = 0) -> Path:
    """Write a small UTKFace folder and a ``wiki_crop`` folder with ``wiki.mat`` under ``dest``.

    Returns ``dest``. Does nothing when a complete sample is already there.
    """
    dest = Path(dest)
    if (dest / ".complete").is_file():
        return dest
    rng = np.random.default_rng(seed)
    utk = dest / "UTKFace"
    utk.mkdir(parents=True, exist_ok=True)
    for i in range(n_utkface):
        age = int(rng.integers(1, 91))
        gender = int(rng.integers(0, 2))
        race = int(rng.integers(0, 5))
        stamp = f"2017{int(rng.integers(101, 1231)):04d}{int(rng.integers(0, 10**9)):09d}"
        # like the real copy, a few names lack the race field
        name = f"{age}_{gender}_{stamp}" if i < 2 else f"{age}_{gender}_{race}_{stamp}"
        draw_face(rng, age, gender, race, 200).save(utk / f"{name}.jpg.chip.jpg", quality=90)

    wiki = dest / "wiki_crop"
    rows = []
    for i in range(n_wiki):
        age = int(rng.integers(5, 95))
        year = int(rng.integers(1990, 2016))
        born = date(year - age, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        male = float(rng.random() < 0.6)
        gender = np.nan if i % 40 == 3 else male
        face_score = -np.inf if i % 10 == 0 else float(rng.uniform(0.5, 6.0))
        second = float(rng.uniform(0.5, 3.0)) if i % 12 == 5 else np.nan
        rel = f"{i % 100:02d}/{1000 + i}_{born.isoformat()}_{year}.jpg"
        rows.append({"dob": born.toordinal() + 366, "photo_taken": year, "full_path": rel, "gender": gender,
                     "name": f"Person {i}", "face_location": [10.0, 10.0, 54.0, 54.0],
                     "face_score": face_score, "second_face_score": second})
        if i % 15 != 7:  # like the real copy, some rows have no image file
            true_age = year - born.year - (1 if born.month >= 7 else 0)
            (wiki / rel).parent.mkdir(parents=True, exist_ok=True)
            g = 0 if male else 1
            draw_face(rng, true_age, g, int(rng.integers(0, 5)), 64).save(wiki / rel, quality=90)
    write_imdb_wiki_mat(wiki / "wiki.mat", rows, key="wiki")
    (dest / "README.txt").write_text(SAMPLE_WARNING + "\n")
    (dest / ".complete").write_text("sample\n")
    return dest


def write_imdb_wiki_mat(path: str | os.PathLike, rows: list[dict], *, key: str = "wiki") -> Path:
    """Write rows as a MATLAB struct ``key`` in the layout of the official wiki.mat / imdb.mat.

    Each row has dob (datenum), photo_taken, full_path, gender (1 male, 0 female, NaN),
    name, face_location, face_score and second_face_score; imdb rows may add celeb_names
    and celeb_id.
    """
    from scipy.io import savemat

    names = ["dob", "photo_taken", "full_path", "gender", "name", "face_location", "face_score",
             "second_face_score"]
    if key == "imdb":
        names += ["celeb_names", "celeb_id"]
    n = len(rows)
    struct = np.empty((1, 1), dtype=[(f, object) for f in names])

    def cells(values):
        arr = np.empty((1, n), dtype=object)
        for i, v in enumerate(values):
            arr[0, i] = np.array([v]) if isinstance(v, str) else np.asarray(v, dtype=float).reshape(1, -1)
        return arr

    struct[0, 0]["dob"] = np.array([[r["dob"] for r in rows]], dtype=np.int32)
    struct[0, 0]["photo_taken"] = np.array([[r["photo_taken"] for r in rows]], dtype=np.uint16)
    struct[0, 0]["full_path"] = cells([r["full_path"] for r in rows])
    struct[0, 0]["gender"] = np.array([[r["gender"] for r in rows]], dtype=float)
    struct[0, 0]["name"] = cells([r.get("name", "") for r in rows])
    struct[0, 0]["face_location"] = cells([r.get("face_location", [0, 0, 1, 1]) for r in rows])
    struct[0, 0]["face_score"] = np.array([[r["face_score"] for r in rows]], dtype=float)
    struct[0, 0]["second_face_score"] = np.array([[r["second_face_score"] for r in rows]], dtype=float)
    if key == "imdb":
        struct[0, 0]["celeb_names"] = cells(sorted({r.get("name", "") for r in rows}))
        struct[0, 0]["celeb_id"] = np.array([[r.get("celeb_id", 1) for r in rows]], dtype=np.uint16)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {key: struct})
    return path


def draw_face(rng: np.random.Generator, age: int, gender: int, race: int, size: int) -> Image.Image:
    """A drawn face whose look follows its labels: skin tone by race, hair by gender, age by
    face shape, hair colour and wrinkles."""
    s = size / 200
    bg = tuple(int(x) for x in rng.integers(40, 220, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    young = max(0.0, 1 - age / 20)  # children: rounder face, bigger eyes
    old = min(1.0, max(0.0, (age - 35) / 45))
    grey = int(40 + 190 * old)
    hair = (grey, grey, grey) if old > 0.3 else tuple(int(x) for x in rng.integers(20, 120, 3))
    skin = tuple(int(min(255, max(0, c + rng.integers(-12, 13)))) for c in _SKIN[race])
    w, h = (70 + 15 * young) * s, (90 - 5 * young) * s
    cx, cy = size / 2 + rng.uniform(-4, 4) * s, size / 2 + rng.uniform(-4, 4) * s
    if gender == 1:  # long hair behind the face
        d.rectangle([cx - w - 12 * s, cy - h, cx + w + 12 * s, cy + h * 0.9], fill=hair)
    d.ellipse([cx - w, cy - h, cx + w, cy + h], fill=skin)
    d.chord([cx - w, cy - h - 8 * s, cx + w, cy - h * 0.2], 180, 360, fill=hair)
    eye = (8 + 8 * young) * s
    for ex in (cx - w * 0.4, cx + w * 0.4):
        d.ellipse([ex - eye, cy - 15 * s - eye / 2, ex + eye, cy - 15 * s + eye / 2], fill=(250, 250, 250))
        d.ellipse([ex - eye / 3, cy - 15 * s - eye / 3, ex + eye / 3, cy - 15 * s + eye / 3], fill=(30, 30, 30))
    d.line([cx - 20 * s, cy + 45 * s, cx + 20 * s, cy + 45 * s], fill=(150, 50, 50), width=max(1, int(4 * s)))
    for k in range(int(round(old * 4))):  # wrinkles on the forehead
        y = cy - h * 0.45 + k * 7 * s
        d.line([cx - w * 0.5, y, cx + w * 0.5, y], fill=tuple(int(c * 0.7) for c in skin), width=max(1, int(2 * s)))
    if gender == 0 and age > 16:  # beard shadow
        d.chord([cx - w * 0.8, cy + 20 * s, cx + w * 0.8, cy + h], 0, 180, fill=tuple(int(c * 0.75) for c in skin))
    return img
