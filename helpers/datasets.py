"""Index UTKFace and IMDB-WIKI into one table: path, age, gender, race, source.

Labels follow one convention across sources: gender 0 male / 1 female, race 0 White,
1 Black, 2 Asian, 3 Indian, 4 Others. A label a source does not have is missing
(``<NA>``), never guessed. Each index carries a report of what was found and dropped
in ``df.attrs["report"]``.
"""
from __future__ import annotations

import os
import re
import warnings
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from .fetch import FetchError, extracted_copy

GENDERS = ("male", "female")
RACES = ("White", "Black", "Asian", "Indian", "Others")
#: The class names of the gender and race labels, in label (and model output) order: the one
#: table every module that prints, scores or draws those labels reads.
CLASS_NAMES = MappingProxyType({"gender": GENDERS, "race": RACES})
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
COLUMNS = ["path", "age", "gender", "race", "source"]


def index_dataset(dataset: str, source: str | os.PathLike, **filters) -> pd.DataFrame:
    """Index ``dataset`` ('utkface', 'wiki' or 'imdb') from a folder, archive or .mat file."""
    if dataset == "utkface":
        return index_utkface(source)
    if dataset in ("wiki", "imdb"):
        return index_imdb_wiki(source, **filters)
    raise ValueError(f"unknown dataset {dataset!r}; choose utkface, wiki or imdb")


def index_utkface(source: str | os.PathLike) -> pd.DataFrame:
    """Index a UTKFace folder (searched recursively) or the official ``UTKFace.tar.gz``.

    Labels come from ``age_gender_race_datetime.jpg.chip.jpg``; a field that is absent or
    malformed is missing, and the row is counted in the report. Rows without an age are
    excluded (a face without its target is no use to an age model).
    """
    folder = _as_folder(source)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _is_image_name(p.name))
    rows, excluded, missing = [], {}, {"age": 0, "gender": 0, "race": 0}
    for path in files:
        age, gender, race = parse_utkface_name(path.name)
        for key, value in (("age", age), ("gender", gender), ("race", race)):
            missing[key] += value is None
        if age is None:
            excluded["age missing from name"] = excluded.get("age missing from name", 0) + 1
            continue
        rows.append((str(path), age, gender, race, "utkface"))
    df = _table(rows)
    df.attrs["report"] = {
        "dataset": "utkface",
        "source": str(source),
        "n_images": len(files),
        "n_kept": len(df),
        "excluded": excluded,
        "missing_labels": missing,
    }
    return df


def parse_utkface_name(name: str) -> tuple[int | None, int | None, int | None]:
    """(age, gender, race) from a UTKFace file name; a missing or malformed field is None."""
    stem = name.split(".")[0]
    fields = stem.split("_")
    age = _int_field(fields, 0, 0, 130)
    gender = _int_field(fields, 1, 0, 1)
    race = _int_field(fields, 2, 0, 4) if len(fields) >= 4 else None  # 3 fields: race is absent
    return age, gender, race


def index_imdb_wiki(
    source: str | os.PathLike,
    *,
    min_face_score: float | None = 1.0,
    single_face: bool = True,
    age_range: tuple[int, int] | None = (0, 100),
    require_gender: bool = True,
    require_image: bool = True,
) -> pd.DataFrame:
    """Index IMDB-WIKI from ``wiki.mat``/``imdb.mat``, their crop folder, or the archive.

    Age = year the photo was taken - birth year, minus one when born in July or later.
    Filters (each one a parameter, ``None``/``False`` switches it off) are applied in order
    and the report counts how many rows each one removed: image file missing, face score
    not finite or below ``min_face_score``, a second face, age outside ``age_range``,
    gender unknown.
    """
    mat_path = find_mat(source)
    meta = read_imdb_wiki_mat(mat_path)
    root = mat_path.parent
    n_meta = len(meta)
    files_on_disk = {
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and _is_image_name(p.name)
    }
    excluded: dict[str, int] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        nonlocal meta
        excluded[reason] = int(mask.sum())
        meta = meta[~mask]

    if require_image:
        drop(~meta["full_path"].isin(files_on_disk).to_numpy(), "image file missing")
    if min_face_score is not None:
        score = meta["face_score"].to_numpy(dtype=float)
        drop(~(np.isfinite(score) & (score >= min_face_score)), f"face_score not finite or < {min_face_score}")
    if single_face:
        drop(~np.isnan(meta["second_face_score"].to_numpy(dtype=float)), "second face found")
    ages = meta["age"].to_numpy(dtype=float)
    if age_range is not None:
        lo, hi = age_range
        drop(~(np.isfinite(ages) & (ages >= lo) & (ages <= hi)), f"age outside {lo}-{hi} or unknown")
    else:
        drop(~np.isfinite(ages), "age unknown")
    if require_gender:
        drop(meta["gender"].isna().to_numpy(), "gender unknown")

    dataset = "imdb" if mat_path.stem == "imdb" else "wiki"
    df = pd.DataFrame(
        {
            "path": [str(root / p) for p in meta["full_path"]],
            "age": meta["age"].to_numpy(),
            "gender": meta["gender"].to_numpy(),
            "race": pd.NA,
            "source": dataset,
        }
    )
    df = _typed(df)
    df.attrs["report"] = {
        "dataset": dataset,
        "source": str(source),
        "n_metadata": n_meta,
        "n_images": len(files_on_disk),
        "n_kept": len(df),
        "excluded": excluded,
        "missing_labels": {"race": len(df)},
    }
    return df


def read_imdb_wiki_mat(path: str | os.PathLike) -> pd.DataFrame:
    """The metadata table of ``wiki.mat`` or ``imdb.mat``: one row per entry, age computed.

    Gender is converted to the kit's convention (0 male, 1 female); unknown stays ``<NA>``.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except Exception as err:  # scipy raises several types for a bad file
        raise FetchError(f"{path}: not a readable MATLAB file ({err})") from err
    key = next((k for k in ("wiki", "imdb") if k in mat), None)
    if key is None:
        raise FetchError(f"{path}: holds no 'wiki' or 'imdb' struct (found {sorted(k for k in mat if not k.startswith('__'))})")
    struct = mat[key][0, 0]
    needed = ("dob", "photo_taken", "full_path", "gender", "face_score", "second_face_score")
    absent = [f for f in needed if f not in struct.dtype.names]
    if absent:
        raise FetchError(f"{path}: struct '{key}' lacks the fields {absent}")

    def field(name):
        return np.asarray(struct[name]).reshape(-1)

    dob = field("dob").astype(float)
    taken = field("photo_taken").astype(float)
    full_path = [_matlab_str(x) for x in field("full_path")]
    gender_raw = field("gender").astype(float)
    gender = pd.array(np.where(np.isnan(gender_raw), -1, 1 - gender_raw).astype(int), dtype="Int64")
    gender[np.isnan(gender_raw)] = pd.NA
    return pd.DataFrame(
        {
            "full_path": full_path,
            "dob": dob,
            "photo_taken": taken,
            "age": ages_from_datenum(dob, taken),
            "gender": gender,
            "face_score": field("face_score").astype(float),
            "second_face_score": field("second_face_score").astype(float),
            "name": [_matlab_str(x) for x in field("name")] if "name" in struct.dtype.names else "",
        }
    )


def ages_from_datenum(dob: np.ndarray, photo_taken: np.ndarray) -> np.ndarray:
    """Age in years (float, NaN when the date is unusable): taken - birth year, -1 if born July+."""
    out = np.full(len(dob), np.nan)
    for i, (d, year) in enumerate(zip(np.asarray(dob, float), np.asarray(photo_taken, float))):
        if not (np.isfinite(d) and np.isfinite(year)) or d < 367:
            continue
        try:
            born = datetime.fromordinal(int(d) - 366)
        except (ValueError, OverflowError):
            continue
        out[i] = year - born.year - (1 if born.month >= 7 else 0)
    return out


def find_mat(source: str | os.PathLike) -> Path:
    """The ``wiki.mat`` or ``imdb.mat`` in ``source`` (a .mat file, a folder or an archive)."""
    source = Path(source)
    if source.is_file() and source.suffix == ".mat":
        return source
    folder = _as_folder(source)
    mats = sorted(folder.rglob("wiki.mat")) + sorted(folder.rglob("imdb.mat"))
    if not mats:
        raise FetchError(f"{source}: holds no wiki.mat or imdb.mat")
    return mats[0]


def label_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Integer label arrays with -1 where a label is missing: keys age, gender, race."""
    return {col: df[col].fillna(-1).to_numpy(dtype=np.int64) for col in ("age", "gender", "race")}


# --- private details -------------------------------------------------------------------------

_DIGITS = re.compile(r"^\d+$")


def _int_field(fields: list[str], i: int, lo: int, hi: int) -> int | None:
    if i >= len(fields) or not _DIGITS.match(fields[i]):
        return None
    value = int(fields[i])
    return value if lo <= value <= hi else None


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def _as_folder(source: str | os.PathLike) -> Path:
    source = Path(source)
    if source.is_dir():
        return source
    if source.is_file():
        return extracted_copy(source)
    raise FetchError(f"{source}: no such folder or archive")


def _matlab_str(value) -> str:
    arr = np.asarray(value).reshape(-1)
    return str(arr[0]) if arr.size else ""


def _table(rows: list[tuple]) -> pd.DataFrame:
    return _typed(pd.DataFrame(rows, columns=COLUMNS))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for col in ("age", "gender", "race"):
            df[col] = pd.array(df[col], dtype="Int64") if len(df) else pd.array([], dtype="Int64")
    df["path"] = df["path"].astype(str)
    df["source"] = df["source"].astype(str)
    return df[COLUMNS].reset_index(drop=True)


def face_names(paths) -> pd.Series:
    """The file name of each path of a table's ``path`` column: how a face is known across copies of
    its dataset (a run's split, its predictions, the kit's copy of the data)."""
    return pd.Series(paths).map(lambda p: Path(str(p)).name)


def default_source(dataset: str, *, allow_download: bool = True) -> tuple[Path, bool]:
    """Where the default data for ``dataset`` is, and whether it is the offline sample.

    Order: an earlier fetch under the data folder, else the mirror folder (``$AGEKIT_MIRROR``),
    else a download from the public URL; when none works, the offline sample (with a loud warning).
    """
    from .fetch import REGISTRY
    from .paths import sample_dir
    from .sample import SAMPLE_WARNING, make_sample

    if dataset not in REGISTRY:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(REGISTRY)}")
    found, reason = _kit_copy(dataset, allow_download=allow_download)
    if found is not None:
        return found, False
    warnings.warn(f"{dataset}: real data unavailable ({reason}). {SAMPLE_WARNING}", stacklevel=2)
    return make_sample(sample_dir()) / _sample_folder(dataset), True


def located_source(dataset: str, recorded: str | os.PathLike | None, *, is_sample: bool | None = None) -> str:
    """Where the data a run recorded as ``recorded`` (its folder or archive of ``dataset``) is now.

    The recorded path where it still exists; else, for a run moved to another clone or machine
    (a shipped model folder records where its data lay when it trained), the kit's own copy of
    ``dataset``: the offline sample for a run that trained on it (``is_sample``, the run's own
    record; None: told by the recorded path, a ``sample`` folder's ``UTKFace`` or ``wiki_crop``),
    otherwise the mirror folder (``$AGEKIT_MIRROR``) or an earlier fetch. Nothing is downloaded,
    and real data is never replaced by the sample: without a copy, FileNotFoundError names the
    recorded path and the way to provide the data. The faces drawn from a copy are the run's only
    when the copy holds the same files; the callers that can check it do (a run's ``split.csv``, a
    model folder's ``predictions.csv``).
    """
    from .fetch import REGISTRY
    from .paths import sample_dir
    from .sample import make_sample

    if recorded is None:
        raise ValueError(f"this {dataset} run recorded no data folder or archive, so its faces cannot be found again")
    path = Path(recorded).expanduser()
    if path.exists():
        return str(path)
    sample_folder = _sample_folder(dataset)
    if is_sample is None:  # the recorded path tells: the sample's folder, or a file in it
        is_sample = any(part.name == sample_folder and part.parent.name == sample_dir().name
                        for part in (path, *path.parents))
    if is_sample:
        return str(make_sample(sample_dir()) / sample_folder)  # drawn again: the same faces
    if dataset not in REGISTRY:
        raise FileNotFoundError(f"{recorded}: the {dataset} data this run recorded is not there, and the kit keeps "
                                f"no copy of {dataset} data of its own")
    found, reason = _kit_copy(dataset, allow_download=False, progress=False)
    if found is not None:
        return str(found)
    raise FileNotFoundError(
        f"{recorded}: the {dataset} data this run recorded is not there, and the kit has no copy of it here "
        f"({reason}). Fetch it (`python -m helpers fetch {dataset}`) or set AGEKIT_MIRROR to a folder of its archives")


def _sample_folder(dataset: str) -> str:
    """The offline sample's folder that stands in for ``dataset`` (UTKFace's, or wiki's for wiki and imdb)."""
    return "UTKFace" if dataset == "utkface" else "wiki_crop"


def _kit_copy(dataset: str, *, allow_download: bool, progress: bool = True) -> tuple[Path | None, str]:
    """(folder, "") of the kit's real copy of ``dataset``: an earlier fetch, the mirror folder, or a
    download where allowed; (None, why not) when there is none."""
    from .fetch import fetch
    from .paths import data_dir, mirror_dir

    if not ((data_dir() / dataset / ".complete").is_file() or mirror_dir() is not None or allow_download):
        return None, (f"no mirror folder (AGEKIT_MIRROR), no earlier fetch in {data_dir() / dataset}, and "
                      "no download asked for")
    try:
        return fetch(dataset, progress=progress), ""
    except FetchError as err:
        return None, str(err)
