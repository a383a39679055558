"""Multi-source training and the validation predictions every evaluation reads.

A *mix* trains one model on several sources, each contributing only some labels (the paper's:
IMDB-WIKI faces teach age and gender, UTKFace faces teach race; see :mod:`helpers.multisource`).
Its run folder is an ordinary one (``helpers.training``), with ``dataset`` = ``mix-<name>``,
``source`` = the folder of each source, and ``mix`` = the labels each source contributes.
Each source keeps its own seed split, so its validation images are exactly those a model
trained on that source alone validates on, and the two can be compared face for face.

Every finished run of the kit also gets ``predictions.csv``: the best model's answers on the
validation images beside the *true* labels, even those the mix hid from training (see
:mod:`helpers.scorecard`, which scores it).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .age_groups import age_groups
from .age_heads import age_head_from_spec, to_numpy
from .datasets import default_source, index_dataset
from .multisource import MIXES, TASKS, mix_sources

PREDICTIONS = "predictions.csv"


def mix_config(mix="paper", *, tasks=None, sources: dict | None = None, n_per_source: int | None = None,
               **run_args) -> dict:
    """The run configuration of a mix: ``mix`` is 'paper', 'full' or {source: labels it contributes},
    a source being a dataset name ('utkface', 'wiki', 'imdb').

    ``tasks`` defaults to every label some source contributes; ``sources`` maps a source to its
    folder or archive (default: the kit's data); ``n_per_source`` images are drawn from each source
    (default: the profile's); every other argument is that of :func:`helpers.training.run_config`.
    """
    from .training import run_config

    name = mix if isinstance(mix, str) else "custom"
    if isinstance(mix, str):
        if mix not in MIXES:
            raise ValueError(f"unknown mix {mix!r}; choose {' or '.join(MIXES)} or pass {{source: labels}}")
        mix = MIXES[mix]
    contributions = {s: [t for t in TASKS if t in labels] for s, labels in mix.items()}
    given = [t for t in TASKS if any(t in labels for labels in contributions.values())]
    tasks = given if tasks is None else tasks
    config = run_config(dataset="synthetic", tasks=tasks, n_images=n_per_source, **run_args)
    missing = [t for t in config["tasks"] if t not in given]
    if missing:
        raise ValueError(f"no source of the mix contributes {missing}; the mix gives {given}")
    paths, samples = {}, []
    for source in contributions:
        path = (sources or {}).get(source)
        if path is None:
            path, is_sample = default_source(source)
            samples.append(is_sample)
        paths[source] = str(Path(path).expanduser().resolve())
    config.update(dataset=f"mix-{name}", source=paths, is_sample=any(samples), mix=contributions)
    return config


def is_mix(config: dict) -> bool:
    """Whether a run configuration is a multi-source mix."""
    return isinstance(config.get("mix"), dict)


def source_tables(config: dict) -> dict[str, pd.DataFrame]:
    """The index of every source of a mix (each indexed once per process)."""
    from .datasets import located_source

    # a mix records whether any of its sources was the sample, not which: a moved one is told by its path
    sample = None if config.get("is_sample", True) else False
    return {source: _index(source, located_source(source, path, is_sample=sample))
            for source, path in config["source"].items()}


def mixed_split(config: dict) -> pd.DataFrame:
    """The mix's table: each source's seed split with the labels it does not contribute masked."""
    return mix_sources(source_tables(config), config["mix"], n_per_source=config["n_images"],
                       val_fraction=config["val_fraction"], seed=config["seed"])


def prepare_mix(config: dict, *, progress: bool = True):
    """Decode the images of the mix into :class:`helpers.training.TrainData` (``split`` keeps
    ``source`` and the true ``age_years`` for evaluation)."""
    from .training import data_from_split

    return data_from_split(mixed_split(config), config["image_size"], progress=progress)


def prepare(config: dict, *, progress: bool = True):
    """The training data of any run configuration: a mix or a single source."""
    from .training import prepare_data

    return prepare_mix(config, progress=progress) if is_mix(config) else prepare_data(config, progress=progress)


def train_run(config: dict, out_dir, *, data=None, verbose: int = 1, callbacks=()):
    """Train (or resume) a single-source or mixed run into ``out_dir``, then write its
    ``predictions.csv``; returns the finished :class:`helpers.training.Run`. ``callbacks`` go to ``fit``."""
    from .training import train

    out = Path(out_dir)
    before = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
    if is_mix(config) and before and before.get("mix") != config["mix"]:
        raise ValueError(f"{out} holds a run of another mix ({before.get('mix')}); choose another folder")
    data = data or prepare(config, progress=verbose > 0)
    run = train(config, out, data=data, verbose=verbose, callbacks=callbacks)
    write_predictions(run, data)
    if verbose and is_mix(config):
        from .scorecard import source_scores

        scores = source_scores(read_predictions(out), n_boot=0)
        for source, part in scores[scores["n"] > 0].groupby(level="source"):
            text = "  ".join(f"{key} {v:.3f}" + ("" if trained else " (never trained here)")
                             for (_, key), v, trained in zip(part.index, part["value"], part["trained"]))
            print(f"validation on {source} faces: {text}")
    return run


def validation_predictions(run, data=None, *, model=None, outputs=None) -> pd.DataFrame:
    """The predictions table of a finished run (see :mod:`helpers.scorecard`): its best model (or
    ``model``) on its validation images, beside their true labels. ``data`` saves decoding them again;
    ``outputs`` (that model's outputs on them, from :func:`helpers.evaluation.predict_outputs`) saves
    running the model again."""
    from .evaluation import predict_outputs

    config = run.config
    data = data or prepare(config, progress=False)
    val = data.val
    if data.split is not None:
        rows = data.split[data.split["split"] == "val"].reset_index(drop=True)
    else:  # synthetic data: no files
        rows = pd.DataFrame({"path": [""] * len(val), "source": config["dataset"]})
    masked = {t: np.asarray(val.labels[t]) for t in TASKS}
    true = _true_labels(config, rows, masked)
    table = pd.DataFrame({"path": rows["path"].astype(str), "source": rows["source"].astype(str),
                          "age": true["age"], "gender": true["gender"], "race": true["race"]})
    for task in TASKS:
        table[f"trained_{task}"] = (masked[task] >= 0) & (task in config["tasks"])
    if outputs is None:
        model = model or run.model("best")
        outputs = predict_outputs(model, val.images)
    head = age_head_from_spec((model.spec if model is not None else config["model"])["age_head"])
    table["pred_years"] = to_numpy(head.predicted_years(outputs["age"])).astype(float)
    for name in head.served():
        table[f"pred_age_{name}"] = to_numpy(head.predicted_group(outputs["age"], age_groups(name))).astype(int)
    for task in config["tasks"]:
        if task != "age":
            table[f"pred_{task}"] = np.asarray(outputs[task]).argmax(axis=1)
    return table


def write_predictions(run, data=None, *, outputs=None) -> Path:
    """Write ``predictions.csv`` into a finished run folder (replacing an older one); returns its path.
    ``outputs``: the best model's outputs on the validation images, if already computed."""
    table = validation_predictions(run, data, outputs=outputs)
    path = run.path / PREDICTIONS
    tmp = path.with_suffix(".tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_predictions(run_dir, *, create: bool = True) -> pd.DataFrame:
    """The predictions table of a run folder; with ``create``, written first when missing (this loads
    the model and decodes the validation images from the cache)."""
    from .training import load_run

    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        if not create:
            raise FileNotFoundError(f"{path} does not exist; read_predictions(..., create=True) writes it")
        run = load_run(run_dir)
        if not run.finished:
            raise ValueError(f"{run_dir}: the run has not finished")
        write_predictions(run)
    return pd.read_csv(path, keep_default_na=True)


# --- private details -------------------------------------------------------------------------

_INDEXES: dict[tuple[str, str], pd.DataFrame] = {}


def _index(dataset: str, path: str) -> pd.DataFrame:
    key = (dataset, str(path))
    if key not in _INDEXES:
        _INDEXES[key] = index_dataset(dataset, path)
    return _INDEXES[key]


def _true_labels(config: dict, rows: pd.DataFrame, masked: dict) -> dict:
    """Ages in years (NaN unknown) and gender and race (-1 unknown), unmasked for a mix."""
    if not is_mix(config):
        age = masked["age"].astype(float)
        return {"age": np.where(age >= 0, age, np.nan), "gender": masked["gender"], "race": masked["race"]}
    every = pd.concat(source_tables(config).values(), ignore_index=True).drop_duplicates("path").set_index("path")
    found = every.reindex(rows["path"])
    return {"age": found["age"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
            "gender": found["gender"].fillna(-1).to_numpy(dtype=np.int64),
            "race": found["race"].fillna(-1).to_numpy(dtype=np.int64)}

