"""Train a model into a run folder that survives interruption and is never overwritten once finished.

A run folder holds:

- ``config.json``: everything that defines the run (data, tasks, recipe, profile, model spec),
  the label names needed to read predictions, and the environment it ran in;
- ``split.csv``: the images drawn and whether each one trained or validated;
- ``history.csv``: one row per finished epoch (learning rate, losses, metrics, seconds);
- ``state.json``: the progress: last finished epoch, best value so far, finished or not;
- ``last.keras`` and ``best.keras``: the model after the last epoch and at the best epoch
  (by validation age accuracy of the chosen scheme, or MAE for 'year'); while the run is
  unfinished they hold the optimizer state too, so that it can resume;
- ``metrics.json``: once finished, the best model evaluated on the validation images.

Calling :func:`train` on a folder that holds an unfinished run of the same configuration
continues from its last finished epoch; on a finished run it raises ``RunFinishedError``.
Each epoch's files are written beside the run's and moved into place only once all are whole
(:func:`commit_epoch`), so a run killed at any moment resumes from a model that has trained exactly
the epochs its ``state.json`` names.
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .datasets import GENDERS, RACES, default_source, face_names, index_dataset, label_arrays, located_source
from .devices import device_summary, distribution, dtype_policy, precision_policy
from .images import load_images
from .models import AUGMENTATIONS, MultiTaskModel, build_model, load_model, model_spec
from .paths import runs_dir
from .profiles import profile as get_profile
from .recipes import Recipe, recipe as get_recipe
from .splits import SEED, seed_split

DATASETS = ("utkface", "wiki", "imdb", "synthetic")
#: Keys of config.json that define a run; a folder resumes only a run whose keys all match.
DEFINING_KEYS = ("dataset", "source", "tasks", "age_groups", "recipe", "profile", "backbone", "image_size",
                 "weights", "epochs", "batch_size", "n_images", "val_fraction", "seed", "distribute",
                 "precision", "model", "init_from", "train_seed")


class RunFinishedError(FileExistsError):
    """The run folder already holds a finished run; it is never overwritten."""


@dataclass
class Arrays:
    """Images (N, S, S, 3) uint8 with labels per task (age in years, -1 where missing) and their files."""

    images: np.ndarray
    labels: dict[str, np.ndarray]
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class TrainData:
    """The training and validation arrays of a run, the split table and how they were made."""

    train: Arrays
    val: Arrays
    split: pd.DataFrame | None = None
    report: dict = field(default_factory=dict)


@dataclass
class Run:
    """A run folder read back: its config, history, state and (when finished) metrics."""

    path: Path
    config: dict
    history: pd.DataFrame
    state: dict
    metrics: dict | None

    @property
    def finished(self) -> bool:
        return bool(self.state.get("finished"))

    def model(self, which: str = "best") -> MultiTaskModel:
        """The ``best`` or ``last`` model of this run, ready to predict."""
        return load_model(self.path / f"{which}.keras", compile=False)


def run_config(
    *,
    dataset: str = "utkface",
    source=None,
    tasks=("age",),
    age_groups: str = "10",
    recipe: str | Recipe = "kit",
    profile: str | None = None,
    backbone: str | None = None,
    image_size: int | None = None,
    weights: str | None = "imagenet",
    epochs: int | None = None,
    batch_size: int | None = None,
    n_images: int | None = None,
    val_fraction: float = 0.2,
    seed: int = SEED,
    distribute: str = "none",
    precision: str = "auto",
    init_from=None,
    learning_rate: float | None = None,
    train_seed: int | None = None,
) -> dict:
    """The complete, JSON-ready configuration of a run; anything left None comes from the profile or recipe.

    ``source`` None means the kit's default data for ``dataset`` (a loud warning if that is
    the offline sample). Epochs come from the profile (smoke: 2) or else the recipe (full).
    ``init_from`` (a run or model folder, or a ``.keras`` file) starts from that model's weights
    instead of ``weights``: fine-tuning, e.g. at a larger input size. ``learning_rate`` replaces
    the recipe's (a fine-tune wants a smaller one). ``train_seed`` seeds the initial weights, the
    shuffling and the augmentation (default: ``seed``, which also draws the split): repeats of one run
    with other train seeds see the same faces and measure the noise of training itself.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    prof = get_profile(profile)
    rec = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if learning_rate is not None:
        if not learning_rate > 0:
            raise ValueError(f"learning rate must be positive, got {learning_rate}")
        rec = replace(rec, learning_rate=float(learning_rate))
    if init_from is not None:
        init_from = str(model_file(init_from))
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if weights in ("none", "None", ""):
        weights = None
    is_sample = False
    if dataset != "synthetic":
        if source is None:
            source, is_sample = default_source(dataset)
        source = str(Path(source).expanduser().resolve())
    backbone = (backbone or prof.backbone).lower()
    image_size = int(image_size or prof.image_size)
    spec = model_spec(tasks=tasks, age_groups=str(age_groups), backbone=backbone, image_size=image_size,
                      **rec.model_args())
    return {
        "dataset": dataset,
        "source": source,
        "is_sample": is_sample,
        "tasks": spec["tasks"],
        "age_groups": str(age_groups),
        "recipe": rec.as_dict(),
        "profile": prof.name,
        "backbone": backbone,
        "image_size": image_size,
        "weights": weights,
        "epochs": int(epochs or prof.epochs or rec.epochs),
        "batch_size": int(batch_size or prof.batch_size),
        "n_images": n_images if n_images is not None else prof.n_images,
        "val_fraction": float(val_fraction),
        "seed": int(seed),
        "distribute": distribute,
        "precision": precision,
        "model": spec,
        **({"init_from": init_from} if init_from is not None else {}),
        **({"train_seed": int(train_seed)} if train_seed is not None else {}),
    }


def prepare_data(config: dict, *, progress: bool = True) -> TrainData:
    """Index the config's dataset, draw the seed split and decode its images (cached) into arrays."""
    if config["dataset"] == "synthetic":
        return synthetic_data(config["n_images"] or 64, config["image_size"], val_fraction=config["val_fraction"],
                              seed=config["seed"])
    df = index_dataset(config["dataset"], located_source(config["dataset"], config["source"],
                                                         is_sample=config.get("is_sample")))
    split = seed_split(df, n=config["n_images"], val_fraction=config["val_fraction"], seed=config["seed"])
    for task in config["tasks"]:
        if split[task].notna().sum() == 0:
            raise ValueError(f"{config['dataset']} has no {task} labels; train {task} on a dataset that has them "
                             "(UTKFace has age, gender and race; IMDB-WIKI has age and gender)")
    return data_from_split(split, config["image_size"], progress=progress)


def data_from_split(split: pd.DataFrame, image_size: int, *, progress: bool = True) -> TrainData:
    """Decode the images of a split table (path, age, gender, race, split; e.g. a multi-source mix) into arrays."""
    batch = load_images(split["path"], image_size, progress=progress)
    kept = split.iloc[batch.index].reset_index(drop=True)
    labels = label_arrays(kept)
    labels = {"age": labels["age"].astype("float32"), "gender": labels["gender"], "race": labels["race"]}
    is_train = (kept["split"] == "train").to_numpy()

    def part(mask):
        return Arrays(batch.images[mask], {k: v[mask] for k, v in labels.items()}, kept["path"][mask].tolist())

    report = {"n_drawn": len(split), "n_decoded": len(kept), "n_unreadable": len(batch.errors),
              "n_train": int(is_train.sum()), "n_val": int((~is_train).sum())}
    return TrainData(part(is_train), part(~is_train), kept, report)


def synthetic_data(n: int, image_size: int, *, val_fraction: float = 0.2, seed: int = 0,
                   missing: float = 0.25) -> TrainData:
    """Random images and labels (a share ``missing`` of gender and race labels set to -1): for tests and benchmarks."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, image_size, image_size, 3), dtype=np.uint8)
    labels = {
        "age": rng.integers(1, 81, n).astype("float32"),
        "gender": np.where(rng.random(n) < missing, -1, rng.integers(0, 2, n)),
        "race": np.where(rng.random(n) < missing, -1, rng.integers(0, 5, n)),
    }
    n_val = max(1, int(round(n * val_fraction)))
    cut = n - n_val

    def part(sl):
        return Arrays(images[sl], {k: v[sl] for k, v in labels.items()}, [])

    return TrainData(part(slice(0, cut)), part(slice(cut, n)), None,
                     {"n_drawn": n, "n_decoded": n, "n_unreadable": 0, "n_train": cut, "n_val": n_val})


class Batches(keras.utils.PyDataset):
    """Batches of (pixels as float32 0-255, {task: labels}) from in-memory arrays; shuffled each epoch if asked.

    ``mixing`` ({'mixup': alpha} and/or {'cutmix': alpha}; see :func:`mix_batch`) blends each batch
    with itself in another order; the labels then also hold ``<task>_mix`` (the partners' labels)
    and ``mix_lambda`` (the share of the first face), which the model's loss weighs.
    """

    def __init__(self, arrays: Arrays, tasks, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 drop_remainder: bool = False, mixing: dict | None = None, first_epoch: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.arrays, self.tasks, self.batch_size = arrays, list(tasks), int(batch_size)
        self.shuffle, self.seed, self.drop_remainder = shuffle, seed, drop_remainder
        self.mixing = {k: float(v) for k, v in (mixing or {}).items() if v}
        unknown = set(self.mixing) - set(MIXINGS)
        if unknown:
            raise ValueError(f"unknown batch mixing {sorted(unknown)}; choose from {', '.join(MIXINGS)}")
        self._epoch = int(first_epoch)  # a resumed run (or a later stage) goes on with its own epochs' orders
        self._order = self._make_order()

    def __len__(self) -> int:
        n = len(self.arrays)
        if self.drop_remainder and n >= self.batch_size:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __getitem__(self, i):
        rows = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        x = self.arrays.images[rows].astype("float32")
        y = {t: self.arrays.labels[t][rows].astype("float32") for t in self.tasks}
        if self.mixing:
            rng = np.random.default_rng([self.seed, self._epoch, i])
            x, y = mix_batch(x, y, rng, **self.mixing)
        return x, y

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._make_order()

    def _make_order(self):
        n = len(self.arrays)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng(self.seed + self._epoch).permutation(n)


#: Ways of blending a batch with itself: mixup (whole faces averaged) and CutMix (a box pasted).
MIXINGS = ("mixup", "cutmix")


def mix_batch(x: np.ndarray, y: dict, rng: np.random.Generator, *, mixup: float = 0.0,
              cutmix: float = 0.0) -> tuple[np.ndarray, dict]:
    """Blend a batch (images ``x``, labels ``y``) with the same batch in a random order.

    A weight ``lam`` is drawn from Beta(alpha, alpha) for the whole batch. Mixup gives
    ``lam * x + (1 - lam) * partner``; CutMix pastes a box of the partner covering ``1 - lam`` of
    the face, and ``lam`` becomes the share actually kept. When both are set, each batch uses one
    of them, drawn at even odds. The labels gain ``<task>_mix`` (the partners') and
    ``mix_lambda``; the loss is ``lam`` times the loss on the own labels plus ``1 - lam`` times
    the loss on the partners' (for cross-entropy the same as training on the mixed labels).
    """
    kinds = [k for k, a in (("mixup", mixup), ("cutmix", cutmix)) if a > 0]
    if not kinds or len(x) < 2:
        return x, y
    kind = kinds[int(rng.integers(len(kinds)))] if len(kinds) > 1 else kinds[0]
    alpha = mixup if kind == "mixup" else cutmix
    lam = float(rng.beta(alpha, alpha))
    partner = rng.permutation(len(x))
    if kind == "mixup":
        x = lam * x + (1.0 - lam) * x[partner]
    else:
        height, width = x.shape[1:3]
        cut_h, cut_w = int(round(height * math.sqrt(1 - lam))), int(round(width * math.sqrt(1 - lam)))
        cy, cx = int(rng.integers(height)), int(rng.integers(width))
        y0, y1 = max(cy - cut_h // 2, 0), min(cy + (cut_h + 1) // 2, height)
        x0, x1 = max(cx - cut_w // 2, 0), min(cx + (cut_w + 1) // 2, width)
        x = x.copy()
        x[:, y0:y1, x0:x1] = x[partner, y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / float(height * width)
    y = {**y, **{f"{t}_mix": v[partner] for t, v in y.items()},
         "mix_lambda": np.full(len(x), lam, dtype="float32")}
    return x.astype("float32"), y


def uses_ema(model) -> bool:
    """Whether ``model``'s optimizer keeps a moving average of the weights (a recipe's ``ema``)."""
    return bool(getattr(getattr(model, "optimizer", None), "use_ema", False))


def weight_snapshot(variables) -> list:
    """Copies of ``variables``' values, for :func:`restore_weights` to put back."""
    return [np.array(v.numpy()) for v in variables]


def restore_weights(variables, values) -> None:
    """Assign each of ``values`` (a :func:`weight_snapshot`) back to its variable."""
    for v, value in zip(variables, values):
        v.assign(value)


@contextmanager
def ema_weights(model):
    """Within the block, ``model`` holds the optimizer's moving average of its trainable weights
    (the raw weights are put back after); with no moving average, nothing changes."""
    if not uses_ema(model):
        yield model
        return
    variables = model.trainable_variables
    averages = model.optimizer._model_variables_moving_average  # Keras keeps them in this order
    if len(variables) != len(averages) or any(tuple(v.shape) != tuple(a.shape) for v, a in zip(variables, averages)):
        raise ValueError("the optimizer's moving averages do not match the model's trainable weights "
                         "(was a layer frozen or unfrozen after compiling?)")
    raw = weight_snapshot(variables)
    restore_weights(variables, averages)
    try:
        yield model
    finally:
        restore_weights(variables, raw)


class EmaValidation(keras.callbacks.Callback):
    """Validates with the moving average of the weights (a recipe's ``ema``), trains with the raw ones."""

    def on_test_begin(self, logs=None):
        self._context = ema_weights(self.model)
        self._context.__enter__()

    def on_test_end(self, logs=None):
        context, self._context = getattr(self, "_context", None), None
        if context is not None:
            context.__exit__(None, None, None)


class RawWeights(keras.callbacks.Callback):
    """Keeps the trainable weights of the last finished epoch, to put back after ``fit`` replaced them
    with their moving average (Keras does at the end of every ``fit`` with ``use_ema``)."""

    def __init__(self):
        super().__init__()
        self.values = None

    def on_epoch_end(self, epoch, logs=None):
        if uses_ema(self.model):
            self.values = weight_snapshot(self.model.trainable_variables)

    def restore(self):
        if self.values is not None:
            restore_weights(self.model.trainable_variables, self.values)


def compile_model(model: MultiTaskModel, rec: Recipe, steps_per_epoch: int, epochs: int) -> MultiTaskModel:
    """Compile ``model`` with the recipe's optimizer and learning-rate schedule."""
    model.compile(optimizer=build_optimizer(rec, steps_per_epoch, epochs))
    # Create the optimizer's variables now: left to the first step, they would make
    # TensorFlow trace the whole training step twice (once to create them, once to run).
    model.optimizer.build(model.trainable_variables)
    return model


def build_optimizer(rec: Recipe, steps_per_epoch: int, epochs: int):
    """The recipe's optimizer: Adam or AdamW, at a fixed rate (plateau) or with warm-up + cosine decay."""
    lr = rec.learning_rate
    if rec.schedule == "cosine":
        total = max(1, steps_per_epoch * epochs)
        warm = int(round(total * rec.warmup_fraction))
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warm else rec.learning_rate, decay_steps=max(1, total - warm),
            warmup_target=rec.learning_rate if warm else None, warmup_steps=warm)
    elif rec.schedule != "plateau":
        raise ValueError(f"unknown schedule {rec.schedule!r}; choose plateau or cosine")
    ema = {"use_ema": True, "ema_momentum": float(rec.ema)} if rec.ema else {}
    if rec.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=rec.weight_decay, **ema)
    if rec.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr, **ema)
    raise ValueError(f"unknown optimizer {rec.optimizer!r}; choose adam or adamw")


def train(config: dict, out_dir, *, data: TrainData | None = None, callbacks=(), verbose: int = 1) -> Run:
    """Train as ``config`` says into ``out_dir``; resume an interrupted run there; return the finished Run.

    ``data`` skips loading (pass what :func:`prepare_data` returned). ``callbacks`` run after
    the run's own recorder. ``verbose``: 0 silent, 1 one line per epoch with a progress bar.
    """
    out = Path(out_dir)
    if (out / "config.json").is_file():
        commit_epoch(out)  # finish (or drop) an epoch whose files a kill left half moved (half written)
    state = _read_json(out / "state.json")
    if state.get("finished"):
        raise RunFinishedError(f"{out} holds a finished run; it is never overwritten: choose another folder")
    if (out / "config.json").is_file():
        before = _read_json(out / "config.json")
        changed = config_changes(before, config)
        if changed:
            raise ValueError(f"{out} holds a run with another configuration (differs in {', '.join(changed)}); "
                             "choose another folder")
    elif out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not a run folder; choose another folder")
    if config.get("is_sample"):
        from .sample import SAMPLE_WARNING

        warnings.warn(SAMPLE_WARNING, stacklevel=2)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "config.json").is_file():
        _write_json(out / "config.json", {**config, "labels": _label_names(config), "environment": _environment()})

    data = data or prepare_data(config, progress=verbose > 0)
    if data.split is not None and (out / "split.csv").is_file():
        _check_same_split(out, data.split)
    if data.split is not None and not (out / "split.csv").is_file():
        data.split.drop(columns=[c for c in data.split.columns if c not in
                                 ("path", "age", "gender", "race", "source", "split")]).to_csv(out / "split.csv",
                                                                                                index=False)
    rec = Recipe(**config["recipe"])
    tasks = config["tasks"]
    seed = train_seed(config)
    epochs, done = config["epochs"], int(state.get("epochs_done", 0))
    if done and not (out / "last.keras").is_file():
        state, done = {}, restart_without_checkpoint(out, done)
    stages = rec.stages(config["image_size"], epochs)
    train_batches = Batches(data.train, tasks, config["batch_size"], shuffle=True, seed=seed, drop_remainder=True,
                            mixing=rec.mixing(), first_epoch=done)
    val_batches = Batches(data.val, tasks, config["batch_size"])
    keras.utils.set_random_seed(seed + done)

    with distribution(config["distribute"]), dtype_policy(precision_policy(config["precision"])):
        if done:
            model = load_model(out / "last.keras")
            _trim_history(out / "history.csv", done)
            if verbose:
                print(f"resuming {out.name} after epoch {done} of {epochs}")
        else:
            state = {}
            _trim_history(out / "history.csv", 0)
            model = build_model(weights=None if config.get("init_from") else config["weights"],
                                **_build_args(config["model"]))
            if config.get("init_from"):
                init_weights(model, config["init_from"])
            compile_model(model, rec, len(train_batches), epochs)
        recorder = RunRecorder(out, model.monitor, rec, epochs, state, verbose=verbose)
        own = [EmaValidation(), recorder] if uses_ema(model) else [recorder]
        try:
            for first, end, size in stages:  # one stage unless the recipe trains smaller sizes first
                if end <= done:
                    continue
                start, batches = max(first, done), train_batches
                if len(stages) > 1:
                    images = data.train if size == config["image_size"] else resized(data.train, size)
                    batches = Batches(images, tasks, config["batch_size"], shuffle=True, seed=seed,
                                      drop_remainder=True, mixing=rec.mixing(), first_epoch=start)
                    if verbose:
                        print(f"epochs {start + 1}-{end}: {size} px (validated at {config['image_size']} px)")
                raw = RawWeights()
                model.fit(batches, validation_data=val_batches, epochs=end, initial_epoch=start,
                          callbacks=[*own, raw, *callbacks], verbose=0)
                if end < epochs:  # fit ends by writing the moving average into the weights: not between stages
                    raw.restore()
                done = end
        except KeyboardInterrupt:
            if verbose:
                print(f"interrupted: {out} keeps the finished epochs; train() on it again resumes")
            raise
    return _finish(out, data, recorder.state, verbose)


def resized(arrays: Arrays, size: int) -> Arrays:
    """The same faces and labels with the images resized to ``size`` x ``size`` (a progressive stage)."""
    from .images import resize_square

    images = np.stack([resize_square(image, size) for image in arrays.images]) if len(arrays) else \
        np.zeros((0, size, size, 3), np.uint8)
    return Arrays(images, arrays.labels, arrays.paths)


def train_seed(config: dict) -> int:
    """The seed of a run's initial weights, shuffling and augmentation (its split's seed unless set)."""
    value = config.get("train_seed")
    return int(config["seed"] if value is None else value)


def config_changes(before: dict, now: dict, keys=DEFINING_KEYS) -> list[str]:
    """The ``keys`` in which two run configurations differ. A data source compares by the name of its
    folder or archive, not its full path, so a run folder copied to another checkout or machine is
    still the same run there."""
    return [k for k in keys if _comparable(k, before.get(k)) != _comparable(k, now.get(k))]


def model_file(path) -> Path:
    """The ``.keras`` file a path names: the file itself, or ``best.keras`` in a run or model folder."""
    path = Path(path).expanduser().resolve()
    found = path / "best.keras" if path.is_dir() else path
    if not found.is_file() or found.suffix != ".keras":
        raise FileNotFoundError(f"{path}: no model there (expected a .keras file or a folder with best.keras)")
    return found


def started_from(run_dir, config: dict | None = None) -> Path | None:
    """The folder of the model a fine-tune started from (its ``init_from``), or None for a run from
    random or ImageNet weights, or when that folder is found nowhere. The recorded path is absolute;
    where the folders have moved since (another clone or machine), the folder is looked for by its
    last two names (e.g. ``pretraining/arm``) beside each folder above the run."""
    run_dir = Path(run_dir)
    config = _read_json(run_dir / "config.json") if config is None else config
    if not config.get("init_from"):
        return None
    recorded = Path(config["init_from"])
    recorded = recorded.parent if recorded.suffix == ".keras" else recorded
    if (recorded / "config.json").is_file():
        return recorded
    tail = Path(*recorded.parts[-2:])
    for above in run_dir.resolve().parents:
        if (above / tail / "config.json").is_file():
            return above / tail
    return None


def init_weights(model: MultiTaskModel, source) -> MultiTaskModel:
    """Copy into ``model`` the weights of the model at ``source`` (a ``.keras`` file or a folder).

    Both must have the same tasks, backbone, head and age output; the input size may differ
    (EfficientNet's weights do not depend on it). Layers are matched by name.
    """
    path = model_file(source)
    donor = load_model(path, compile=False)
    if donor.spec.get("members"):
        raise ValueError(f"{path}: an average of {len(donor.spec['members'])} models has no single set of weights "
                         "to start from; start from one of its members")
    keys = ("tasks", "backbone", "head", "age_head")
    changed = [k for k in keys if _jsonable(donor.spec.get(k)) != _jsonable(model.spec.get(k))]
    if changed:
        raise ValueError(f"{path}: cannot start from this model, it differs in {', '.join(changed)} "
                         f"({', '.join(f'{k}={donor.spec.get(k)!r}' for k in changed)})")
    donors = {layer.name: layer for layer in donor.network.layers}
    for layer in model.network.layers:
        if not layer.weights or layer.name in AUGMENTATIONS:  # random layers: only seed state
            continue
        other = donors.get(layer.name)
        values = other.get_weights() if other is not None else None
        if values is None or [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(f"{path}: its layer {layer.name!r} does not match this model's")
        layer.set_weights(values)
    return model


class RunRecorder(keras.callbacks.Callback):
    """Writes history.csv, last/best .keras and state.json after every epoch; applies the seed's plateau rule."""

    def __init__(self, out: Path, monitor: tuple[str, str], rec: Recipe, epochs: int, state: dict, verbose: int = 1):
        super().__init__()
        self.out, (self.monitor, self.mode), self.rec, self.epochs, self.verbose = out, monitor, rec, epochs, verbose
        self.state = {"epochs_done": 0, "epochs": epochs, "monitor": self.monitor, "mode": self.mode,
                      "best": None, "best_epoch": None, "plateau_wait": 0, "finished": False, **state}
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()
        if self.verbose:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch",
                             leave=False)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            if logs and "loss" in logs:
                self._bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
        logs = {k: float(v) for k, v in (logs or {}).items()}
        value = logs.get(self.monitor)
        improved = value is not None and (self.state["best"] is None or (
            value > self.state["best"] if self.mode == "max" else value < self.state["best"]))
        row = {"epoch": epoch + 1, "lr": _current_lr(self.model.optimizer), **logs, "seconds": round(time.time() - self._start, 2)}
        if self.model.spec["loss_weighting"] == "uncertainty":
            row.update({f"weight_{t}": w for t, w in self.model.weighting.current_weights().items()})
        self._plateau(value)
        # The epoch's files are written beside the run's, then moved into place once state.pending.json
        # says all of them are whole (see commit_epoch): a run killed at any moment resumes after
        # exactly the epochs its state names, with that epoch's model.
        self.model.save(self.out / "last.tmp.keras")
        _append_csv(self.out / "history.csv", row)
        if improved:
            if uses_ema(self.model):  # the best epoch is kept as it validated: its moving average
                with ema_weights(self.model):
                    self.model.save(self.out / "best.tmp.keras")
            else:
                shutil.copyfile(self.out / "last.tmp.keras", self.out / "best.tmp.keras")
            self.state.update(best=value, best_epoch=epoch + 1)
        self.state.update(epochs_done=epoch + 1, updated=datetime.now().isoformat(timespec="seconds"))
        _write_json(self.out / PENDING_STATE, self.state)
        commit_epoch(self.out)
        if self.verbose:
            print(f"epoch {epoch + 1}/{self.epochs}  {epoch_summary(logs, self.monitor)}  ({row['seconds']:.0f} s)",
                  flush=True)

    def _plateau(self, value):
        """Keras' ReduceLROnPlateau rule (min_delta 1e-4, no cooldown), with its state kept in state.json."""
        if self.rec.schedule != "plateau" or value is None:
            return
        best = self.state.get("plateau_best")
        better = best is None or (value > best + 1e-4 if self.mode == "max" else value < best - 1e-4)
        if better:
            self.state.update(plateau_best=value, plateau_wait=0)
            return
        self.state["plateau_wait"] += 1
        if self.state["plateau_wait"] >= self.rec.plateau_patience:
            self.model.optimizer.learning_rate = _current_lr(self.model.optimizer) * self.rec.plateau_factor
            self.state["plateau_wait"] = 0


#: Written (whole, by a rename) once an epoch's new last/best models are whole beside the run's own.
PENDING_STATE = "state.pending.json"
_EPOCH_FILES = (("last.tmp.keras", "last.keras"), ("best.tmp.keras", "best.keras"))


def restart_without_checkpoint(out: Path, done: int) -> int:
    """A run folder whose ``state.json`` names ``done`` finished epochs but whose ``last.keras`` is gone
    (deleted, or never copied with the folder: it is the one large file) cannot resume. Say so, keep
    what those epochs left (``history.csv`` and ``best.keras``) under names marked ``lost-N``, and return
    0: the run starts again from its first epoch, exactly as a new run in that folder would."""
    kept = []
    for name in ("history.csv", "best.keras"):
        path = out / name
        if path.is_file():
            stem, suffix = name.split(".")
            target, n = out / f"{stem}.lost-{done}.{suffix}", 1
            while target.exists():
                n += 1
                target = out / f"{stem}.lost-{done}-{n}.{suffix}"
            os.replace(path, target)
            kept.append(target.name)
    (out / "state.json").unlink(missing_ok=True)  # the folder now holds a run of no finished epochs
    note = f"; what they left is kept as {' and '.join(kept)}" if kept else ""
    warnings.warn(f"{out / 'state.json'} says {done} epoch(s) were trained, but {out / 'last.keras'}, the model "
                  f"to resume from, is missing: training starts again from epoch 1{note}. Keep last.keras with "
                  "the run folder to resume the run elsewhere", stacklevel=3)
    return 0


def commit_epoch(out: Path) -> bool:
    """Put a finished epoch's files in place: its models, then its state. Only once ``state.pending.json``
    exists, i.e. once they are all whole; a run killed before that keeps its previous epoch, whose
    half-written files are removed. Called after every epoch and again when a run resumes (a kill in
    the middle of the moves is finished then). Returns whether an epoch was committed."""
    out = Path(out)
    if not (out / PENDING_STATE).is_file():
        for tmp, _ in _EPOCH_FILES:
            (out / tmp).unlink(missing_ok=True)
        return False
    for tmp, final in _EPOCH_FILES:
        if (out / tmp).is_file():
            os.replace(out / tmp, out / final)
    os.replace(out / PENDING_STATE, out / "state.json")
    return True


def epoch_summary(logs: dict, monitor: str) -> str:
    """An epoch's losses and validation figures in one line (the monitored one among them)."""
    shown = [k for k in ("loss", "val_loss", monitor, "val_age_mae", "val_gender_acc", "val_race_acc") if k in logs]
    return "  ".join(f"{k} {float(logs[k]):.4f}" for k in dict.fromkeys(shown))


class EpochLine(keras.callbacks.Callback):
    """One line per finished epoch, named after its run, for a log of runs trained without progress bars
    (a grid or an ablation): so a long run shows it is alive and how it goes, epoch by epoch."""

    def __init__(self, name: str, epochs: int, stream=None):
        super().__init__()
        self.name, self.epochs, self.stream, self._start = name, epochs, stream, None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self._start if self._start is not None else float("nan")
        text = epoch_summary(logs or {}, self.model.monitor[0])
        print(f"    {self.name}: epoch {epoch + 1}/{self.epochs}  {text}  ({seconds:.0f} s)", file=self.stream,
              flush=True)


def new_run_dir(name: str, root=None) -> Path:
    """A new, unused folder under ``root`` (default: the runs folder) named ``name-YYYYmmdd-HHMMSS``."""
    root = Path(root) if root is not None else runs_dir()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = root / f"{name}-{stamp}", 1
    while path.exists():
        i += 1
        path = root / f"{name}-{stamp}-{i}"
    return path


def load_run(run_dir) -> Run:
    """Read a run folder: config, history, state and metrics (None until finished)."""
    path = Path(run_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a run folder (no config.json)")
    history = pd.read_csv(path / "history.csv") if (path / "history.csv").is_file() else pd.DataFrame()
    metrics = _read_json(path / "metrics.json") or None
    return Run(path, _read_json(path / "config.json"), history, _read_json(path / "state.json"), metrics)


def run_state(run_dir) -> dict:
    """A run folder's progress as its ``state.json`` says ({} where it has none yet or it cannot be read)."""
    return _read_json(Path(run_dir) / "state.json")


def train_seconds(run_dir) -> float | None:
    """A run's training time: its metrics.json's once finished, else the seconds of the epochs in its
    history.csv so far, else None (a model folder that did not keep them)."""
    path = Path(run_dir)
    metrics = _read_json(path / "metrics.json")
    if metrics.get("train_seconds") is not None:
        return float(metrics["train_seconds"])
    if (path / "history.csv").is_file():
        history = pd.read_csv(path / "history.csv")
        if "seconds" in history:
            return float(history["seconds"].sum())
    return None


def find_runs(root=None, *, finished: bool = True, **match) -> pd.DataFrame:
    """One row per run folder under ``root`` whose summary matches ``match`` (e.g. dataset='utkface'), newest first."""
    root = Path(root) if root is not None else runs_dir()
    rows = []
    for cfg in sorted(root.glob("*/config.json")):
        try:
            run = load_run(cfg.parent)
        except (OSError, ValueError):
            continue
        if finished and not run.finished:
            continue
        row = run_summary(run)
        if all(row.get(k) == v for k, v in match.items()):
            rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values("created", ascending=False).reset_index(drop=True) if len(table) else table


def run_summary(run: Run) -> dict:
    """A flat summary of a run: what it was and its validation metrics."""
    c, m = run.config, run.metrics or {}
    return {
        "run": run.path.name, "path": str(run.path), "dataset": c["dataset"], "tasks": "+".join(c["tasks"]),
        "age_groups": c["age_groups"], "recipe": c["recipe"]["name"], "profile": c["profile"],
        "backbone": c["backbone"], "image_size": c["image_size"], "epochs": run.state.get("epochs_done"),
        "best_epoch": run.state.get("best_epoch"), "finished": run.finished, "is_sample": c.get("is_sample", False),
        **{k: m.get(k) for k in ("age_3", "age_5", "age_10", "mae", "gender", "race", "n")},
        "created": c.get("environment", {}).get("created", ""),
    }


def measure_throughput(*, backbone: str = "b0", image_size: int = 56, batch_size: int = 256, steps: int = 10,
                       recipe: str = "kit", dataset: str = "utkface", source=None,
                       tasks=("age", "gender", "race")) -> dict:
    """Training images/s through the real input pipeline and on synthetic in-memory batches, and the pipeline alone.

    Real: ``steps * batch_size`` images of ``dataset`` decoded from their files, then batched
    by :class:`Batches` as in training. Synthetic: one ready float32 batch served again and
    again. Training is input-bound when the real rate falls clearly (>15 %) below the synthetic
    one; the pipeline's own rate says how much room it leaves.
    """
    from .datasets import default_source

    rec = get_recipe(recipe)
    n = batch_size * steps
    if dataset == "synthetic":
        images = synthetic_data(n, image_size, val_fraction=0.01).train
        decode_rate, is_sample = None, False
    else:
        is_sample = False
        if source is None:
            source, is_sample = default_source(dataset)
        df = index_dataset(dataset, source)
        df = df.iloc[np.random.default_rng(0).permutation(len(df))[:n]].reset_index(drop=True)
        start = time.perf_counter()
        batch = load_images(df["path"], image_size, cache=False, progress=False)
        decode_rate = len(batch.index) / (time.perf_counter() - start)
        labels = label_arrays(df.iloc[batch.index])
        labels["age"] = labels["age"].astype("float32")
        images = Arrays(batch.images, labels)
    tasks = list(tasks) if dataset != "wiki" else [t for t in tasks if t != "race"]
    real = Batches(images, tasks, batch_size, shuffle=True, drop_remainder=True)
    start = time.perf_counter()
    for i in range(len(real)):
        real[i]
    pipeline_rate = len(real) * batch_size / (time.perf_counter() - start)
    synthetic = _RepeatedBatch(real[0], len(real))
    policy = precision_policy("auto")
    with dtype_policy(policy):
        model = build_model(tasks, backbone=backbone, image_size=image_size, weights=None, **rec.model_args())
        compile_model(model, rec, len(real), 1)
    model.fit(_RepeatedBatch(real[0], 1), epochs=1, verbose=0)  # compiles the training step
    rates = {}
    for name, data in (("real", real), ("synthetic", synthetic)):
        timer = _StepTimer()
        model.fit(data, epochs=1, verbose=0, callbacks=[timer])
        rates[name] = timer.images_per_second(batch_size)
    return {
        "backbone": backbone, "image_size": image_size, "batch_size": batch_size, "steps": len(real),
        "recipe": recipe, "dataset": dataset, "is_sample": is_sample, **device_summary(), "precision": policy,
        "decode_images_per_s": decode_rate, "pipeline_images_per_s": pipeline_rate,
        "train_real_images_per_s": rates["real"], "train_synthetic_images_per_s": rates["synthetic"],
        "real_vs_synthetic": rates["real"] / rates["synthetic"],
        "input_bound": bool(rates["real"] < 0.85 * rates["synthetic"]),
    }


# --- private details -------------------------------------------------------------------------


class _RepeatedBatch(keras.utils.PyDataset):
    def __init__(self, batch, n, **kwargs):
        super().__init__(**kwargs)
        self.batch, self.n = batch, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.batch


class _StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def images_per_second(self, batch_size):
        if len(self.ends) < 2:
            return float("nan")
        return (len(self.ends) - 1) * batch_size / (self.ends[-1] - self.ends[0])


def _finish(out: Path, data: TrainData, state: dict, verbose: int) -> Run:
    from .evaluation import evaluate_model

    if not (out / "best.keras").is_file():
        shutil.copyfile(out / "last.keras", out / "best.keras")  # no epoch had the monitored value
    model = load_model(out / "best.keras", compile=False)
    metrics = evaluate_model(model, data.val.images, data.val.labels)
    history = pd.read_csv(out / "history.csv")
    metrics.update(split="val", model="best", best_epoch=state.get("best_epoch"), epochs=int(state["epochs_done"]),
                   train_seconds=round(float(history["seconds"].sum()), 1), data=data.report)
    _write_json(out / "metrics.json", metrics)
    # A finished run never resumes, so its models drop the optimizer state (two thirds of the file).
    _save_atomic(model, out / "best.keras")
    if state.get("best_epoch") == state["epochs_done"]:
        shutil.copyfile(out / "best.keras", out / "last.tmp.keras")
        os.replace(out / "last.tmp.keras", out / "last.keras")
    else:
        _save_atomic(_last_weights(out / "last.keras"), out / "last.keras")
    state = {**state, "finished": True, "updated": datetime.now().isoformat(timespec="seconds")}
    _write_json(out / "state.json", state)
    if verbose:
        shown = {k: metrics[k] for k in ("age_3", "age_5", "age_10", "mae", "gender", "race") if
                 metrics.get(k) is not None}
        print(f"finished {out.name}: validation " + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()))
    return load_run(out)


def _check_same_split(out: Path, split: pd.DataFrame) -> None:
    """Refuse to go on with a run whose faces, drawn again now (e.g. from another copy of its dataset),
    are not the ones its ``split.csv`` records: it would resume on another split."""
    def pairs(table):
        return set(zip(face_names(table["path"]), table["split"]))

    before, now = pairs(pd.read_csv(out / "split.csv")), pairs(split)
    if before != now:
        odd = sorted(before ^ now)
        raise ValueError(f"{out}: the faces drawn for it now differ from its split.csv in {len(odd)} places (e.g. "
                         f"{odd[0][0]} in {odd[0][1]}), so the data found is not the copy it started on; point it "
                         "at that copy, or train into another folder")


def _last_weights(path: Path):
    """The last epoch's model, without its optimizer, as it would be used: for a run that keeps a moving
    average of its weights (a recipe's ``ema``), that average, as best.keras keeps it for its epoch."""
    plain = load_model(path, compile=False)
    if (_read_json(path.parent / "config.json").get("recipe") or {}).get("ema"):
        trained = load_model(path)  # compiled: the optimizer holds the moving averages
        if uses_ema(trained):
            with ema_weights(trained):
                restore_weights(plain.trainable_variables, weight_snapshot(trained.trainable_variables))
    return plain


def _save_atomic(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _build_args(spec: dict) -> dict:
    args = {k: v for k, v in spec.items() if k != "age_head"}
    args["age_head"], args["age_groups"] = spec["age_head"]["kind"], spec["age_head"]["groups"]
    return args


def _label_names(config: dict) -> dict:
    from .age_groups import age_groups

    groups = age_groups(config["age_groups"])
    return {"age": {"scheme": groups.name, "edges": list(groups.edges), "labels": groups.labels},
            "gender": list(GENDERS), "race": list(RACES)}


def _environment() -> dict:
    return {"created": datetime.now().isoformat(timespec="seconds"), "keras": keras.__version__,
            "python": platform.python_version(), **device_summary()}


def _current_lr(optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _append_csv(path: Path, row: dict) -> None:
    new = not path.is_file()
    if not new:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if set(row) - set(header):  # a new column: rewrite with the union of columns
            table = pd.concat([pd.read_csv(path), pd.DataFrame([row])], ignore_index=True)
            table.to_csv(path, index=False)
            return
        row = {k: row.get(k, "") for k in header}
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _trim_history(path: Path, epochs_done: int) -> None:
    if path.is_file():
        table = pd.read_csv(path)
        if len(table) and table["epoch"].max() > epochs_done:
            table[table["epoch"] <= epochs_done].to_csv(path, index=False)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2))
    os.replace(tmp, path)


def _comparable(key: str, value):
    if key == "source" and isinstance(value, dict):
        return {name: Path(path).name for name, path in value.items()}
    if key == "source" and isinstance(value, str):
        return Path(value).name
    if key == "init_from" and isinstance(value, str):  # the model's folder and file, wherever the folders are
        return "/".join(Path(value).parts[-2:])
    return _jsonable(value)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
