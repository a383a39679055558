"""Ship a run's model: a self-contained folder under ``models/`` with the model, its record and a model card.

A run folder is a lab notebook (optimizer state, last and best checkpoints, the split with this
machine's paths). A shipped model is what others load: ``best.keras`` without optimizer state,
``config.json`` (how it was trained, the ``crop`` its faces need, plus a ``shipped`` section), ``history.csv``,
``metrics.json`` (its validation figures, measured again on the shipped file), ``predictions.csv``
(its answer for each of those faces, so that two models can be compared on the same faces) and ``README.md``,
the model card written from those measurements: data, recipe, the exact commands that retrain
and ship it, metrics overall and by race and gender, and the licence that follows from the data.

``test_flip`` ships the model so that it averages each face with its mirror image; the shipped
spec carries the choice, so ``evaluate``, ``predict`` and the demo all use it.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .experiments import PREDICTIONS, is_mix
from .faces import crop_settings
from .scorecard import AGE_KEYS, CS_YEARS, age_year_scores, confusion_table, fairness_table, task_scores

#: The kit's accuracy targets for a model trained from scratch, on the validation faces of UTKFace's
#: seed split: accuracies at or above, the MAE (years) at or below.
TARGETS = {"age_3": 0.80, "age_5": 0.74, "age_10": 0.53, "mae": 5.0, "gender": 0.92, "race": 0.83}


def meets_targets(figures, targets: dict | None = None) -> dict:
    """For each figure of ``targets`` (default :data:`TARGETS`), whether ``figures`` (a metrics dict or
    a table row) meets it: True/False, or None where the figure is missing."""
    out = {}
    for key, goal in (targets or TARGETS).items():
        value = figures.get(key) if hasattr(figures, "get") else None
        if value is None or value != value:  # missing or NaN
            out[key] = None
        else:
            out[key] = bool(value <= goal) if key == "mae" else bool(value >= goal)
    return out


#: The files a shipped model folder holds.
SHIPPED_FILES = ("best.keras", "config.json", "history.csv", "metrics.json", "predictions.csv", "README.md")
#: The largest model file the kit ships, in MB.
MAX_MB = 25.0
#: Each dataset's name on a card and the research use its licence allows, for the card.
LICENCES = {"utkface": ("UTKFace", "non-commercial"), "wiki": ("IMDB-WIKI (wiki)", "academic"),
            "imdb": ("IMDB-WIKI (imdb)", "academic")}
_LICENCE_TAIL = ("The weights carry no images, but what they learned comes from faces whose copyright "
                 "stays with their owners.")
_HEADLINE = ("age_3", "age_5", "age_10", "mae", f"cs{CS_YEARS}", "gender", "race")
_TITLES = {"age_3": "age, 3 groups", "age_5": "age, 5 groups", "age_10": "age, 10 groups",
           "mae": "age MAE (years)", f"cs{CS_YEARS}": f"CS@{CS_YEARS}", "gender": "gender", "race": "race"}


#: The source a multi-source model's card is scored on: the one with every label, like the single-source
#: cards (its other sources' faces are in the run's own scorecard).
CARD_SOURCE = "utkface"


def ship_model(run_dir, dest, *, test_flip: bool = False, note: str = "", replace: bool = False,
               max_mb: float = MAX_MB, progress: bool = True) -> Path:
    """Ship the best model of the run in ``run_dir`` into the folder ``dest``; returns ``dest``.

    The folder is written beside ``dest`` and moved into place only when complete, so a failure
    leaves nothing half-written. An existing ``dest`` is kept unless ``replace``. ``note`` is
    added to the card (e.g. why a run stopped early).
    """
    from .models import load_model
    from .training import load_run, started_from

    run = load_run(run_dir)
    best = run.path / "best.keras"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: the run has no best model yet; train at least one epoch")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()) and not replace:
        raise FileExistsError(f"{dest} already holds files; choose another folder or pass replace=True (--replace)")
    work = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        model = load_model(best, compile=False)
        if test_flip:
            model.spec["test_flip"] = True
        model.save(work / "best.keras")
        size_mb = (work / "best.keras").stat().st_size / 1e6
        if size_mb > max_mb:
            raise ValueError(f"{best}: the model file is {size_mb:.1f} MB, above the {max_mb:g} MB a shipped "
                             "model may take; ship a smaller backbone")
        shipped = load_model(work / "best.keras", compile=False)  # measure exactly what ships
        pred, metrics = _validation(run, shipped, progress)
        config = dict(run.config)
        donor = started_from(run.path, config)
        if donor is not None:  # a fine-tune: keep how its starting point was trained
            config["init_config"] = {k: v for k, v in json.loads((donor / "config.json").read_text()).items()
                                     if k not in ("labels", "environment", "shipped")}
        config["crop"] = crop_settings(config).as_dict()  # how predict cuts faces for it: as in training
        config["shipped"] = {"from_run": str(run.path), "test_flip": bool(test_flip), "note": note,
                             "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                             "epochs_done": run.state.get("epochs_done"), "best_epoch": run.state.get("best_epoch"),
                             "finished": run.finished, "size_mb": round(size_mb, 1)}
        _write_json(work / "config.json", config)
        if (run.path / "history.csv").is_file():
            shutil.copy2(run.path / "history.csv", work / "history.csv")
        _write_json(work / "metrics.json", metrics)
        pred.to_csv(work / PREDICTIONS, index=False)  # the answers behind the card: for paired comparisons
        (work / "README.md").write_text(model_card(dest.name, config, metrics))
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            work.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def shipped_metrics(pred: pd.DataFrame, *, n_boot: int = 1000, min_count: int = 5) -> dict:
    """The validation figures a model card shows, from a predictions table (see :mod:`helpers.scorecard`):
    headline numbers with 95% intervals, and every age metric by race and by gender (groups with at
    least ``min_count`` faces)."""
    scores = task_scores(pred, n_boot=n_boot)
    years = age_year_scores(pred)
    out = {"n": int(len(pred))}
    out.update({key: float(row["accuracy"]) for key, row in scores.iterrows()})
    out["mae"], out[f"cs{CS_YEARS}"] = float(years["mae"]), float(years[f"cs{CS_YEARS}"])
    out["n_labelled"] = {**{key: int(row["n"]) for key, row in scores.iterrows()}, "mae": int(years["n"])}
    out["interval"] = {key: [float(row["low"]), float(row["high"])] for key, row in scores.iterrows()}
    out["balanced_accuracy"] = {key: float(row["balanced_accuracy"]) for key, row in scores.iterrows()}
    out["confusion"] = {key: confusion_table(pred, key).to_numpy().tolist() for key in scores.index}
    out["labels"] = {key: [str(c) for c in confusion_table(pred, key).columns] for key in scores.index}
    for by in ("race", "gender"):
        if (pred[by].to_numpy(dtype=np.int64) >= 0).any():
            # with the other attribute's accuracy per group: is gender as good for every race?
            table = fairness_table(pred, by, min_count=min_count, other_attribute=True)
            out[f"by_{by}"] = _records(table)
            out[f"worst_{by}"] = table.attrs["worst"]
    return out


def shipped_models(root=None) -> pd.DataFrame:
    """One row per shipped model under ``root`` (default: the kit's ``models/``): what it is and its
    validation figures as measured when it was shipped (or trained, for a folder that predates ``ship``)."""
    from .paths import models_dir

    rows = []
    for cfg in sorted(Path(root or models_dir()).glob("*/config.json")):
        folder = cfg.parent
        if not (folder / "best.keras").is_file():
            continue
        config = json.loads(cfg.read_text())
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
        shipped = config.get("shipped", {})
        state = json.loads((folder / "state.json").read_text()) if (folder / "state.json").is_file() else {}
        epochs = shipped.get("epochs_done") or state.get("epochs_done") or config.get("epochs")
        rows.append({"model": folder.name, "dataset": config.get("dataset"), "backbone": config.get("backbone"),
                     "image_size": config.get("image_size"), "epochs": epochs,
                     "test_flip": bool(shipped.get("test_flip", config.get("model", {}).get("test_flip", False))),
                     **{k: metrics.get(k) for k in ("age_3", "age_5", "age_10", "mae", "gender", "race", "n")}})
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def model_card(name: str, config: dict, metrics: dict) -> str:
    """The model card (Markdown) of a shipped model from its config and measured validation metrics."""
    spec, shipped = config["model"], config.get("shipped", {})
    head = spec["age_head"]
    years = head["groups"] == "year"
    outputs = (f"age as a distribution over the years {head['age_range'][0]}–{head['age_range'][1]} "
               "(serves 3, 5 and 10 groups and years)" if years else f"age in {head['groups']} groups ({head['kind']})")
    outputs += "".join(f", {t} ({n})" for t, n in (("gender", 2), ("race", 5)) if t in spec["tasks"])
    weights = "ImageNet weights" if config.get("weights") else "random init, no ImageNet weights"
    flip = shipped.get("test_flip")
    crop = crop_settings(config)
    env = config.get("environment", {})
    stopped = ("all epochs" if shipped.get("finished") else
               f"**stopped after epoch {shipped.get('epochs_done')} of {config['epochs']}**")
    rows = [
        ("architecture", f"EfficientNet{spec['backbone'].upper()} ({weights}), {spec['image_size']} × "
                         f"{spec['image_size']} RGB input, the {spec['head']} head"),
        ("outputs", outputs),
        ("prediction", "the mean of each face and its mirror image (test-time flip)" if flip else "the face as given"),
        ("face crop", f"margin {crop.margin:g} of the face box on each side"
                      f"{', eyes levelled' if crop.align else ''}, as the training faces were framed"),
        ("data", f"{_data_text(config)}, the seed split: "
                 f"{config.get('n_images') or 'all'} faces drawn{' from each source' if is_mix(config) else ''} "
                 f"with seed {config['seed']}, "
                 f"{1 - config['val_fraction']:.0%} train / {config['val_fraction']:.0%} validation"),
        ("recipe", f"`{config['recipe']['name']}`: {config['recipe'].get('notes', '')}"),
        ("training", f"{stopped}, batch {config['batch_size']}; best epoch {shipped.get('best_epoch')}; "
                     f"{env.get('accelerator', '?')}, Keras {env.get('keras', '?')} on {env.get('backend', '?')}"),
        ("size", f"{shipped.get('size_mb')} MB (`best.keras`, no optimizer state)"),
    ]
    steps = []
    if config.get("init_config"):  # a fine-tune: first train its starting point
        start, first = f"runs/{Path(config['init_from']).parent.name}", config["init_config"]
        steps = [retrain_command(first, start)]
        rows.insert(5, ("fine-tuned from", f"`{start}`: EfficientNet{first['backbone'].upper()} at "
                                           f"{first['image_size']} px, {first['epochs']} epochs"))
    members = config.get("members") or []
    if members:  # an average of trained models: train each, then average them
        steps = [retrain_command(m["config"], f"runs/{name}-{i + 1}") for i, m in enumerate(members)]
        steps.append(f"python -m helpers ensemble {' '.join(f'runs/{name}-{i + 1}' for i in range(len(members)))} "
                     f"--out runs/{name}")
        nets = " + ".join(f"EfficientNet{m['config']['backbone'].upper()}" for m in members)
        rows[0] = ("architecture", f"the mean of {len(members)} networks' answers: {nets} ({weights}), "
                                   f"{spec['image_size']} × {spec['image_size']} RGB input")
        rows[5] = ("members", "; ".join(
            f"`{Path(m['from']).name}` (recipe `{m['config']['recipe']['name']}`, {m['config']['epochs']} epochs)"
            for m in members))
        rows[6] = ("training", f"each member trained on its own, then averaged (`ensemble`); "
                               f"{env.get('accelerator', '?')}, Keras {env.get('keras', '?')} on {env.get('backend', '?')}")
    lines = [f"# Model card: `{name}`", ""]
    if shipped.get("note"):
        lines += [shipped["note"], ""]
    lines += ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], ""]
    lines += ["## Retrain and ship it", "", "```bash", *steps,
              *([] if members else [retrain_command(config, f"runs/{name}")]),
              f"python -m helpers ship runs/{name} models/{name}" + (" --test-flip" if flip else ""), "```", "",
              _source_text(config), ""]
    scored = f" {metrics['scored_source']}" if metrics.get("scored_source") else ""
    lines += [f"## Validation metrics ({metrics['n']:,}{scored} faces of the seed split, best epoch"
              + (", test-time flip)" if flip else ")"), ""]
    keys = [k for k in _HEADLINE if metrics.get(k) is not None]
    lines += ["| " + " | ".join(_TITLES[k] for k in keys) + " |", "|" + "---|" * len(keys),
              "| " + " | ".join(_fmt(metrics[k], k) for k in keys) + " |"]
    if metrics.get("interval"):
        lines += ["| " + " | ".join(_interval(metrics["interval"].get(k)) for k in keys) + " |"]
    lines += ["", "Second row: 95% bootstrap intervals of the accuracies.", ""]
    if config["dataset"] == "utkface" and years:
        lines += ["For comparison, the seed paper's ImageNet-pretrained models reached 0.7165 / 0.6790 / 0.4787 "
                  "(3 / 5 / 10 groups, UTKFace, age + gender + race).", ""]
    for by in ("race", "gender"):
        records = metrics.get(f"by_{by}")
        if not records:
            continue
        cols = [c for c in (*AGE_KEYS, "mae", f"cs{CS_YEARS}", "gender", "race") if c in records[0] and c != by]
        lines += [f"### By {by}", "", f"| {by} | n | " + " | ".join(_TITLES[c] for c in cols) + " |",
                  "|---|---|" + "---|" * len(cols)]
        for r in records:
            n = "" if r["n"] is None else f"{int(r['n']):,}"
            lines.append(f"| {r[by]} | {n} | " + " | ".join(_fmt(r.get(c), c) for c in cols) + " |")
        worst = metrics.get(f"worst_{by}", {})
        if worst:
            lines += ["", "Worst group per metric: " + "; ".join(f"{_TITLES[k]}: {v}" for k, v in worst.items()
                                                              if k in _TITLES)
                      + ". The `gap` row is best minus worst group."]
        lines.append("")
    lines += ["## Use it", "", "```bash", f"python -m helpers predict models/{name} photo.jpg --detect",
              f"python -m helpers evaluate models/{name} --dataset {config['dataset']} --source FOLDER --json",
              "```", "", "## Licence", "",
              licence(config) + " " + _LICENCE_TAIL,
              ""]
    return "\n".join(lines)


def trained_on(config: dict) -> list[str]:
    """The datasets a run's model learned from, each once: the run's own (every source of a mix), then
    those of the runs it was made from: the run a fine-tune started from (``init_config``, which
    :func:`ship_model` keeps) and the members of an average (``members``), at any depth."""
    from .multisource import MIXES

    if is_mix(config):
        own = list(config["mix"])
    elif str(config["dataset"]).startswith("mix-") and config["dataset"][4:] in MIXES:
        own = list(MIXES[config["dataset"][4:]])
    else:
        own = [config["dataset"]]
    return list(dict.fromkeys(own + [name for part in _made_from(config) for name in trained_on(part)]))


def licence(config: dict) -> str:
    """What the training data's licences allow the model to be used for: the terms of every dataset it
    learned from, its starting models' included (one whose data is not recorded is named as such)."""
    names = trained_on(config)
    unrecorded = _unrecorded_starts(config)
    tail = (f" It was made from {' and '.join(f'`{name}`' for name in unrecorded)}, whose training data is not "
            "recorded here: that data's terms apply too." if unrecorded else "")
    if len(names) == 1 and names[0] in LICENCES:
        title, use = LICENCES[names[0]]
        return f"Trained on {title}: **{use} research use only**, like the dataset." + tail
    known = [name for name in names if name in LICENCES]
    unknown = [name for name in names if name not in LICENCES]
    if not known:
        return f"Trained on {' and '.join(names)}: use it only as each dataset's licence allows." + tail
    uses = [use for use in ("academic", "non-commercial") if any(LICENCES[name][1] == use for name in known)]
    text = ("Trained on " + " and ".join(f"{LICENCES[name][0]} ({LICENCES[name][1]} research use)" for name in known)
            + (f" and {' and '.join(unknown)} (its own licence)" if unknown else ""))
    return text + f": **every one of these terms applies, so {', '.join(uses)} research use only**." + tail


def retrain_command(config: dict, out: str, init_from: str | None = None) -> str:
    """The command that trains ``config`` again into ``out``: ``python -m helpers train`` for one
    dataset (its folder written SOURCE), ``train-mix`` for a mix (UTKFACE and WIKI); a fine-tune
    starts from ``init_from``, by default ``runs/<the donor's folder name>``."""
    from .experiments import MIXES
    from .recipes import RECIPES, base_name, recipe_changes, recipe as get_recipe
    from .splits import SEED

    if is_mix(config):
        name = config["dataset"].removeprefix("mix-")
        wanted = {s: [t for t in config["tasks"] if t in labels] for s, labels in MIXES.get(name, {}).items()}
        if name not in MIXES or wanted != config["mix"]:
            raise ValueError(f"a run on the mix {config['mix']} has no train-mix command: only the named mixes "
                             f"({', '.join(MIXES)}) can be retrained from the command line")
        parts = ["python -m helpers train-mix", f"--mix {name}"]
        parts += [f"--{source} {source.upper()}" for source in config["source"]]
    else:
        parts = ["python -m helpers train", f"--dataset {config['dataset']}", "--source SOURCE",
                 f"--tasks {','.join(config['tasks'])}"]
    parts += [f"--age-groups {config['age_groups']}",
              f"--backbone {config['backbone']}", f"--image-size {config['image_size']}",
              f"--recipe {base_name(config['recipe'])}", f"--profile {config['profile']}",
              f"--weights {'imagenet' if config.get('weights') else 'none'}", f"--epochs {config['epochs']}",
              f"--batch-size {config['batch_size']}"]
    if config.get("n_images") is not None:
        parts.append(f"--{'n-per-source' if is_mix(config) else 'n-images'} {config['n_images']}")
    if config.get("seed", SEED) != SEED:
        parts.append(f"--seed {config['seed']}")
    if config.get("train_seed") is not None:
        parts.append(f"--train-seed {config['train_seed']}")
    if config.get("init_from"):
        if is_mix(config):
            raise ValueError("a fine-tuned mix has no train-mix command (train-mix starts from random weights)")
        parts.append(f"--init-from {init_from or 'runs/' + Path(config['init_from']).parent.name}")
    base = base_name(config["recipe"])
    default_lr = get_recipe(base).learning_rate if base in RECIPES else None
    if config["recipe"].get("learning_rate") not in (None, default_lr):
        parts.append(f"--learning-rate {config['recipe']['learning_rate']:g}")
    parts += [f"--set '{word}'" for word in recipe_changes(config["recipe"])]
    parts.append(f"--out {out}")
    return " \\\n    ".join(parts)


# --- private details -------------------------------------------------------------------------


def _made_from(config: dict) -> list[dict]:
    """The configurations a model was made from: the run a fine-tune started from, an average's members."""
    parts = [config.get("init_config")] + [m.get("config") for m in config.get("members") or [] if isinstance(m, dict)]
    return [part for part in parts if isinstance(part, dict)]


def _unrecorded_starts(config: dict) -> list[str]:
    """The folders of the starting models, anywhere in a model's making, whose configuration was not kept."""
    found = []
    if config.get("init_from") and not isinstance(config.get("init_config"), dict):
        found.append(Path(str(config["init_from"])).parent.name)
    return found + [name for part in _made_from(config) for name in _unrecorded_starts(part)]


def _data_text(config: dict) -> str:
    """What the model trained on: the dataset and its folder, or each source of a mix with its labels."""
    if is_mix(config):
        parts = [f"{source} (`{Path(str(config['source'][source])).name}`: {', '.join(labels)})"
                 for source, labels in config["mix"].items()]
        return f"{config['dataset']}: " + " + ".join(parts)
    return f"{config['dataset']} (`{Path(str(config.get('source'))).name}`)"


def _source_text(config: dict) -> str:
    """The card's line that says what the retrain command's placeholders stand for."""
    if is_mix(config):
        return " and ".join(f"`{source.upper()}` is the {source} folder or archive ({_where(source, path)})"
                            for source, path in config["source"].items()) + "."
    return f"`SOURCE` is the {config['dataset']} folder or archive ({_where(config['dataset'], config.get('source'))})."


def _where(dataset: str, path) -> str:
    """Where a run's data was, in words a reader of its card can act on."""
    where = Path(str(path))
    if where.name == dataset and where.parent.name == "data":  # the kit's own copy, as `fetch` extracts it
        return (f"here the kit's copy, `data/{dataset}`, which `python -m helpers fetch {dataset}` makes from "
                "the public archive, or from `AGEKIT_MIRROR`")
    return f"here `{where.name}`"


def _validation(run, model, progress: bool) -> tuple[pd.DataFrame, dict]:
    """The shipped model's predictions table on the run's validation faces, and its figures."""
    from .experiments import prepare, validation_predictions
    from .training import data_from_split

    split_path = run.path / "split.csv"
    data = None
    if split_path.is_file():
        split = pd.read_csv(split_path)
        val = split[split["split"] == "val"].reset_index(drop=True)
        if len(val) and all(Path(p).is_file() for p in val["path"]):
            data = data_from_split(val, model.spec["image_size"], progress=progress)
    if data is None:  # the split's files moved: draw the split again from the config's source
        data = prepare(run.config, progress=progress)
    pred = validation_predictions(run, data, model=model)
    scored = pred
    if "source" in pred and pred["source"].nunique() > 1:  # a mix: the card speaks of UTKFace's faces
        scored = pred[pred["source"] == CARD_SOURCE].reset_index(drop=True)
        if scored.empty:
            raise ValueError(f"{run.path}: the mix's validation split holds no {CARD_SOURCE} faces to score")
    metrics = shipped_metrics(scored)
    if scored is not pred:
        metrics["scored_source"] = CARD_SOURCE
    return pred, metrics


def _records(table: pd.DataFrame) -> list[dict]:
    out = []
    for name, row in table.iterrows():
        entry = {table.index.name: str(name)}
        for col, value in row.items():
            entry[col] = None if pd.isna(value) else float(value)
        out.append(entry)
    return out


def _fmt(value, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.2f}" if key == "mae" else f"{value:.3f}"


def _interval(pair) -> str:
    return "" if not pair or any(np.isnan(pair)) else f"{pair[0]:.3f}–{pair[1]:.3f}"


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
