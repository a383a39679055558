"""Labelled face images to try a model on: the slider of chapter 08 (``validation_examples``).

The run's own validation images when they are on this machine, else the same images found
in the kit's copy of the data, else labelled UTKFace images (or the offline sample of drawn
faces). :func:`helpers.drawing.example_html` shows one beside the model's answer.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .predict import Predictor, _read_json, default_model_dir


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


# --- private details -------------------------------------------------------------------------


def _kit_data(dataset: str):
    """(folder, is_sample) of the kit's copy of ``dataset``, never downloading."""
    import warnings

    from .datasets import default_source

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the offline sample is named as such in the origin
        return default_source(dataset, allow_download=False)


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
