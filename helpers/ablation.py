"""The accuracy ablation: each idea for a better model from scratch against one baseline.

Every *arm* is the kit recipe with one change (a regulariser of :mod:`helpers.recipes`, or more
faces through the full multi-source mix, trained together or first), trained on the same UTKFace split with the same
backbone, input size, batch and epochs as the baseline. Two CPU cores make CPU hours the scarce
resource, so the screen is short (64 px, 12 epochs by default) and the winners are confirmed at a
larger size afterwards. Each arm is an ordinary run folder in ``<out>/runs/<arm>``: repeating the
call skips finished arms and resumes an interrupted one. All arms are scored on the UTKFace
validation faces (a mix validates on wiki faces too; those are left out here), with 95%
bootstrap intervals, into ``ablation.csv`` and ``report.md``. Averages of finished models
(``python -m helpers ensemble ... --out <out>/ensembles/<name>``, no training of their own) join
the table, and the report also sets each against its members.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .ensemble import members as average_members
from .recipes import recipe_with

#: arm -> what it changes in the kit recipe (``--set`` words) or, for ``mix``, the training faces.
ARMS: dict[str, dict] = {
    "baseline": {},
    "baseline-seed2": {"train_seed": 3021},
    "mixup": {"mixup": 0.2},
    "cutmix": {"cutmix": 1.0},
    "ema": {"ema": 0.995},
    "stochastic-depth": {"drop_connect": 0.4},
    "erasing": {"augmentation.erasing": 0.25},
    "progressive": {"progressive": [48, 56]},
    "more-faces": {"mix": "full"},
    "more-faces-first": {"pretrain": "full"},
    "age-l1": {"age_l1": 1.0},
}
#: What an arm's text says it changes.
ARM_NOTES = {
    "baseline": "the kit recipe as it is",
    "baseline-seed2": "the baseline again with other initial weights and batch order: the noise of training itself",
    "mixup": "mixup, weights from Beta(0.2, 0.2)",
    "cutmix": "CutMix, box share from Beta(1, 1)",
    "ema": "validated and kept: a moving average of the weights (momentum 0.995; BatchNorm statistics not averaged)",
    "stochastic-depth": "EfficientNet's stochastic depth 0.4 instead of 0.2",
    "erasing": "random erasing of a box in a quarter of the faces",
    "progressive": "a third of the epochs at 48 px, a third at 56, the last third at the run's size",
    "more-faces": "the full mix: UTKFace with every label plus wiki faces with age and gender; twice the faces "
                  "for half the epochs, so the same steps and CPU time as the baseline (best epoch picked on both "
                  "sources' validation faces)",
    "more-faces-first": "starts from a model trained first on the full mix (more-faces' run, kept in pretraining/full), "
                        "then trains as the baseline on UTKFace alone; its minutes include that first run's",
    "age-l1": "an L1 loss on the expected age (in tens of years, weight 1) beside the distribution's KL "
              "divergence: the answer MAE scores is trained directly (DLDL-v2)",
}
#: The screen's scale: short, small, the same for every arm.
SCREEN = {"image_size": 64, "epochs": 12, "batch_size": 128}
TASKS = ("age", "gender", "race")
KEYS = ("age_3", "age_5", "age_10", "mae", "gender", "race")
ABLATION, REPORT = "ablation.csv", "report.md"
#: The sub-folder of an ablation whose run folders are the first runs of the arms that start from
#: another model (``pretrain``), one per mix, shared by every such arm.
PRETRAINING = "pretraining"
#: The sub-folder of an ablation whose run folders are averages of trained models (``ensemble``).
ENSEMBLES = "ensembles"


def arm_changes(arm: str) -> dict:
    """What ``arm`` changes: a key of :data:`ARMS`, or several joined by ``+`` (``mixup+ema``: both
    changes at once, e.g. to confirm two winners together)."""
    parts = arm.split("+")
    unknown = [part for part in parts if part not in ARMS or (len(parts) > 1 and part == "baseline")]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r} in {arm!r}; choose from {', '.join(ARMS)}, or join "
                         "changes with + (e.g. mixup+ema)")
    changes: dict = {}
    for part in parts:
        for key, value in ARMS[part].items():
            if key in changes and changes[key] != value:
                raise ValueError(f"arm {arm!r}: {part} and another part both change {key}")
            changes[key] = value
    if "mix" in changes and "pretrain" in changes:
        raise ValueError(f"arm {arm!r}: an arm trains on a mix or starts from a model trained on one, not both")
    return changes


def pretraining(arm: str) -> str | None:
    """The mix whose run ``arm`` starts from (``more-faces-first``: 'full'), or None."""
    return arm_changes(arm).get("pretrain")


def arm_note(arm: str) -> str:
    """What an arm's text says it changes (a joined arm: its parts' notes)."""
    return "; ".join(ARM_NOTES.get(part, "") for part in arm.split("+"))


def arm_config(arm: str, *, profile: str = "cpu", sources: dict | None = None, image_size: int | None = None,
               epochs: int | None = None, batch_size: int | None = None, n_images: int | None = None,
               init_from=None) -> dict:
    """The run configuration of ``arm`` (see :func:`arm_changes`) at the screen's scale unless given.
    An arm that starts from another model (``pretrain``) needs that model: ``init_from``, a finished
    run folder (:func:`ablate` passes its pretraining run)."""
    from .experiments import mix_config
    from .training import run_config

    changes = arm_changes(arm)
    mix, train_seed = changes.pop("mix", None), changes.pop("train_seed", None)
    if changes.pop("pretrain", None) and init_from is None:
        raise ValueError(f"arm {arm!r} starts from a model trained on a mix first: pass init_from, that run's folder")
    epochs = epochs or SCREEN["epochs"]
    rec = recipe_with("kit", [f"{k}={json.dumps(v)}" for k, v in changes.items()])
    args = dict(tasks=list(TASKS), age_groups="year", recipe=rec, profile=profile, backbone="b0", weights=None,
                image_size=image_size or SCREEN["image_size"], epochs=epochs,
                batch_size=batch_size or SCREEN["batch_size"], train_seed=train_seed)
    sources = sources or {}
    if mix:  # each source gives as many faces as the baseline's one: fewer epochs keep the steps equal
        args["epochs"] = _run_epochs(arm, epochs)
        return mix_config(mix, sources=sources, n_per_source=n_images, **args)
    config = run_config(dataset="utkface", source=sources.get("utkface"), n_images=n_images, **args)
    if init_from is not None:  # checked when a run starts from it; a run resuming from its own epochs needs it not
        config["init_from"] = str(Path(init_from).expanduser().resolve())
    return config


def ablate(arms=None, *, out, profile: str = "cpu", sources: dict | None = None, image_size: int | None = None,
           epochs: int | None = None, batch_size: int | None = None, n_images: int | None = None,
           train: bool = True, baseline: bool = True, verbose: int = 1) -> pd.DataFrame:
    """Train every arm not finished yet (in the order given; default: all of :data:`ARMS`), then
    write ``ablation.csv`` and ``report.md`` in ``out`` and return the table (:func:`ablation_table`).
    ``train=False`` only writes the table of the arms finished so far. The baseline is trained too unless
    ``baseline=False`` (confirming a winner at a scale whose baseline is already known, e.g. a shipped
    model's card). Either way the table holds the arms asked for and every other finished arm of ``out``
    at the same image size and batch, whatever its epochs (each row names them), in the screen's order:
    a folder's table never loses an arm, and a finished baseline among them gives the paired changes.
    ``table.attrs["failed"]`` names the arms that failed here, with why."""
    from .replication import _finished, _train_all, results_table

    arms = list(arms or ARMS)
    if baseline and "baseline" not in arms:
        arms.insert(0, "baseline")
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    start = time.time()
    scale = dict(profile=profile, sources=sources, image_size=image_size, epochs=epochs, batch_size=batch_size,
                 n_images=n_images)
    jobs, skipped, later = [], [], []
    for arm in arms:
        if pretraining(arm):  # its configuration names its first run's model: built once that run is there
            later.append(arm)
            continue
        config = arm_config(arm, **scale)
        folder = out / "runs" / arm
        done = _finished(folder, config)
        if train and not done:
            _real_faces(config, arm)
        (skipped if done else jobs).append((arm, str(folder), config))
    later_done = [arm for arm in later if _finished_after(out, arm, scale)]
    # an interrupted arm goes on from its own last epoch: only an arm yet to start needs its first run
    resuming = [arm for arm in later if arm not in later_done and _resumable(out / "runs" / arm)]
    if verbose:
        print(f"{len(arms)} arms: {len(skipped) + len(later_done)} already finished, "
              f"{len(jobs) + len(later) - len(later_done)} {'to train' if train else 'not trained yet'} -> {out}",
              flush=True)
    # the first runs the arms yet to start need: trained after the arms, as one of them may be that run
    needed = {mix: arm_config(MIX_ARMS[mix], **scale)
              for mix in dict.fromkeys(pretraining(arm) for arm in later if arm not in later_done + resuming)}
    if train:  # their faces too are checked before anything trains
        for mix, config in needed.items():
            _real_faces(config, f"{PRETRAINING}/{mix}")
    failed = _train_all(jobs, 1, verbose)[1] if train else {}
    firsts = []
    for mix, config in needed.items():
        folder = out / PRETRAINING / mix
        if train:
            _reuse_arm(out / "runs" / MIX_ARMS[mix], folder, config)
        if not _finished(folder, config):
            firsts.append((f"{PRETRAINING}/{mix}", str(folder), config))
    if train and firsts:
        failed.update(_train_all(firsts, 1, verbose)[1])
    pending, started = [job[0] for job in jobs], []  # the arms that start from a first run, trained together
    for arm in later:
        if arm in later_done:
            continue
        folder, first = out / "runs" / arm, out / PRETRAINING / pretraining(arm)
        if f"{PRETRAINING}/{pretraining(arm)}" in failed:
            failed[arm] = f"its first run ({first}) failed"
            continue
        try:
            init_from = _first_model(first)
        except FileNotFoundError as err:
            init_from = _saved_init_from(folder) if arm in resuming else None
            if init_from is None:
                if train:
                    failed[arm] = str(err)
                else:
                    pending.append(arm)
                continue
        if train:
            config = arm_config(arm, init_from=init_from, **scale)
            _real_faces(config, arm)
            started.append((arm, str(folder), config))
        else:
            pending.append(arm)
    if started:
        failed.update(_train_all(started, 1, verbose)[1])
    names = list(arms)  # the folder's other finished arms at this size come along: its table never loses one
    names += [name for name in _folder_arms(out)
              if name not in arms and _finished_here(out, name, scale)]
    results = results_table([out / "runs" / name for name in _screen_order(names)] + _averages(out))
    table = ablation_table(results)
    table.attrs["failed"] = dict(failed)
    table.to_csv(out / ABLATION)
    write_report(table, out / REPORT, failed=failed, pending=[] if train else pending,
                 members=members_table(results))
    if verbose:
        print(f"{len(table)} arms in {out / ABLATION} and {out / REPORT} ({(time.time() - start) / 60:.1f} min)",
              flush=True)
    return table


def read_ablation(out, *, n_boot: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables of an ablation folder as :func:`ablate` writes them, without training or writing
    anything: every finished arm in ``out/runs`` (the screen's arms in their order, then any other)
    and every average in ``out/ensembles`` (:func:`ablation_table`), and the averages against their
    members (:func:`members_table`)."""
    from .replication import results_table

    out = Path(out)
    if not (out / "runs").is_dir():
        raise FileNotFoundError(f"{out}: not an ablation folder (no runs/); python -m helpers ablate --out {out} "
                                "makes one")
    results = results_table([out / "runs" / name for name in _folder_arms(out)] + _averages(out), create=False)
    return ablation_table(results, n_boot=n_boot), members_table(results, n_boot=n_boot)


def change_figure(table: pd.DataFrame, key: str = "age_10", ax=None):
    """Each arm's change in ``key`` against the baseline with its paired 95% interval (a dot and a
    bar), and the band of training noise (as far as ``baseline-seed2`` moved, either way): only a bar
    wholly outside both zero and the band is a measured effect. Returns the figure (None without
    paired changes)."""
    import matplotlib.pyplot as plt

    if f"{key}_change" not in table:
        return None
    rows = table.drop(index=["baseline", "baseline-seed2"], errors="ignore")[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.4))
    if "baseline-seed2" in table.index:
        noise = abs(float(table.loc["baseline-seed2", f"{key}_change"]))
        ax.axvspan(-noise, noise, color="0.85", label="training noise (baseline-seed2)")
    ax.axvline(0, color="0.3", linewidth=0.8)
    y = np.arange(len(rows))
    change = rows[f"{key}_change"].to_numpy(dtype=float)
    errors = [change - rows[f"{key}_change_low"].to_numpy(dtype=float),
              rows[f"{key}_change_high"].to_numpy(dtype=float) - change]
    ax.errorbar(change, y, xerr=errors, fmt="o", color="C0", capsize=3, label="change, paired 95% interval")
    ax.set_yticks(y, list(rows.index))
    better = "lower is better" if key == "mae" else "higher is better"
    ax.set_xlabel(f"{'MAE (years)' if key == 'mae' else key} minus the baseline's ({better})")
    ax.legend(loc="best", fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def ablation_table(results: pd.DataFrame, *, n_boot: int = 1000) -> pd.DataFrame:
    """One row per finished arm: its UTKFace validation scores with 95% bootstrap intervals, its change
    against the baseline with a *paired* 95% bootstrap interval (the same faces resampled for both),
    the verdict of each change, its training time and what it changes."""
    from .experiments import read_predictions

    rows, faces = [], {}
    for _, r in results.iterrows():
        arm = Path(str(r["path"])).name
        if arm in faces:
            raise ValueError(f"{r['path']}: another arm or average of this ablation is also named {arm!r}; "
                             "rename one of the folders")
        faces[arm] = {key: face_scores(read_predictions(r["path"], create=False), key) for key in KEYS}
        members = average_members(r["path"])
        if members:  # an average: it costs its members' training, and says whose answers it averages
            change = f"the mean of the answers of {' and '.join(m['name'] for m in members)} (no training of its own)"
            seconds = sum(float("nan") if m["train_seconds"] is None else m["train_seconds"] for m in members)
        else:
            change, seconds = arm_note(arm), float(r["train_seconds"]) + _first_run_seconds(Path(str(r["path"])))
        try:  # the schedule the arm was asked for (a mix runs fewer epochs of more faces); none for an average
            asked = float("nan") if members else _asked_epochs(arm, int(r["epochs"]))
        except (ValueError, TypeError):
            asked = r["epochs"]
        row = {"arm": arm, "change": change, "recipe": r["recipe"], "backbone": r["backbone"],
               "image_size": r["image_size"], "epochs": r["epochs"], "arm_epochs": asked,
               "best_epoch": r["best_epoch"],
               "n_train": r["n_train"], "n_val": int(faces[arm]["age_10"].notna().sum()),
               "train_minutes": round(seconds / 60, 1)}
        for key in KEYS:
            row[key] = r.get(f"utkface_{key}", r.get(key))
            if key != "mae":
                row[f"{key}_low"] = r.get(f"utkface_{key}_low", r.get(f"{key}_low"))
                row[f"{key}_high"] = r.get(f"utkface_{key}_high", r.get(f"{key}_high"))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.set_index("arm")
    if "baseline" in faces:
        base = table.loc["baseline", "arm_epochs"]
        for arm in table.index[table["arm_epochs"].notna()]:  # each trained arm: on the baseline's schedule?
            try:
                same = _run_epochs(arm, int(base)) == int(table.loc[arm, "epochs"])
            except ValueError:
                same = table.loc[arm, "arm_epochs"] == base
            if same:
                table.loc[arm, "arm_epochs"] = base
            else:
                table.loc[arm, "change"] += f"; {table.loc[arm, 'arm_epochs']:.0f} epochs, the baseline's {base:.0f}"
        columns: dict[str, dict] = {}
        for arm in table.index:
            for key in KEYS:
                change, low, high = paired_change(faces["baseline"][key], faces[arm][key], n_boot=n_boot)
                for name, value in (("change", change), ("change_low", low), ("change_high", high),
                                    ("verdict", change_verdict(low, high, lower_is_better=key == "mae"))):
                    columns.setdefault(f"{key}_{name}", {})[arm] = value
        for name, values in columns.items():
            table[name] = pd.Series(values)
        table = beyond_training_noise(table)
    return table


def beyond_training_noise(table: pd.DataFrame, noise_arm: str = "baseline-seed2") -> pd.DataFrame:
    """Where ``noise_arm`` (the baseline retrained with another seed) has finished, a change is kept as
    *better* or *worse* only when it also moves further than that arm moved from the baseline: a paired
    interval resamples the faces, not the training, so it cannot see training noise by itself. A
    smaller change reads *within training noise*."""
    if noise_arm not in table.index:
        return table
    table = table.copy()
    for key in KEYS:
        verdicts, changes = table[f"{key}_verdict"], table[f"{key}_change"]
        noise = abs(float(changes[noise_arm]))
        small = verdicts.isin(["better", "worse"]) & (changes.abs() <= noise) & (table.index != noise_arm)
        table.loc[small, f"{key}_verdict"] = "within training noise"
        if verdicts[noise_arm] in ("better", "worse"):  # the reseeded baseline is not a change: say what it shows
            table.loc[noise_arm, f"{key}_verdict"] = f"training noise (the faces alone would say {verdicts[noise_arm]})"
    return table


def face_scores(pred: pd.DataFrame, key: str) -> pd.Series:
    """Per UTKFace validation face (indexed by file name): 1/0 for a right/wrong ``key`` answer, or
    the absolute error in years for ``mae``; NaN where the face has no such label."""
    from .datasets import face_names
    from .scorecard import truth

    if "source" in pred:
        pred = pred[pred["source"] == "utkface"]
    names = face_names(pred["path"]).to_numpy()
    if key == "mae":
        values = (pred["pred_years"] - pred["age"]).abs().to_numpy(dtype=float)
    else:
        true = truth(pred, key)
        values = np.where(true >= 0, (pred[f"pred_{key}"].to_numpy() == true).astype(float), np.nan)
    return pd.Series(values, index=names)


def paired_change(base: pd.Series, arm: pd.Series, *, n_boot: int = 1000, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float, float]:
    """The mean of ``arm`` minus that of ``base`` over the faces both score, with a bootstrap
    interval that resamples faces (each face's two scores together)."""
    both = pd.concat([base.rename("base"), arm.rename("arm")], axis=1, join="inner").dropna()
    if both.empty:
        return float("nan"), float("nan"), float("nan")
    diff = (both["arm"] - both["base"]).to_numpy()
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
    tail = (1 - level) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def compare_predictions(base: pd.DataFrame, other: pd.DataFrame, *, n_boot: int = 1000) -> pd.DataFrame:
    """Two models' answers (predictions tables) on the same UTKFace validation faces, one row per figure
    of :data:`KEYS`: each model's score over the faces both answered (``base``, ``other``; MAE in years),
    the change from ``base`` to ``other`` with its paired 95% bootstrap interval (``low``, ``high``),
    its verdict and the number of faces (a figure one of them has no answers for: NaN, no verdict, 0
    faces). For two runs of different folders, sizes or schedules, e.g. one model at 96 px and another
    at 128 px trained on the same split."""
    rows = []
    for key in KEYS:
        column = "pred_years" if key == "mae" else f"pred_{key}"
        if column not in base or column not in other:  # a model without that task: nothing to compare
            rows.append({"figure": key, "base": np.nan, "other": np.nan, "change": np.nan, "low": np.nan,
                         "high": np.nan, "verdict": "", "faces": 0})
            continue
        a, b = face_scores(base, key), face_scores(other, key)
        both = pd.concat([a.rename("base"), b.rename("other")], axis=1, join="inner").dropna()
        change, low, high = paired_change(a, b, n_boot=n_boot)
        rows.append({"figure": key, "base": both["base"].mean(), "other": both["other"].mean(), "change": change,
                     "low": low, "high": high, "verdict": change_verdict(low, high, lower_is_better=key == "mae"),
                     "faces": len(both)})
    return pd.DataFrame(rows).set_index("figure")


def change_verdict(low: float, high: float, *, lower_is_better: bool = False) -> str:
    """'better' or 'worse' when the paired interval of a change excludes zero, else 'within noise'."""
    if not (low == low and high == high):  # NaN: nothing to compare
        return ""
    if low > 0 or high < 0:
        up = low > 0
        return "worse" if up == lower_is_better else "better"
    return "within noise"


def members_table(results: pd.DataFrame, *, n_boot: int = 1000) -> pd.DataFrame:
    """For each average among ``results`` (a run folder made by ``ensemble``) and each of its members:
    every metric's change from the member to the average on the same faces, with its paired 95%
    bootstrap interval (columns ``<key>_change``, ``_low``, ``_high``); empty when there is no average."""
    from .experiments import read_predictions

    rows = []
    for path in results["path"] if len(results) else []:
        members = average_members(path)
        if not members:
            continue
        average = read_predictions(path, create=False)
        for member in members:
            compared = compare_predictions(member["predictions"], average, n_boot=n_boot)
            row = {"average": Path(str(path)).name, "member": member["name"]}
            for key in KEYS:
                row.update({f"{key}_{column}": compared.loc[key, column] for column in ("change", "low", "high")})
            rows.append(row)
    return pd.DataFrame(rows)


def write_report(table: pd.DataFrame, path, *, failed: dict | None = None, pending=(),
                 members: pd.DataFrame | None = None) -> Path:
    """``report.md``: the ablation table (value and interval per metric), each change against the
    baseline with its paired interval and verdict, and which arms failed or wait to be trained."""
    from .replication import markdown_table

    lines = ["# Accuracy ablation", "",
             f"Written {datetime.now().isoformat(timespec='seconds')}. Each arm is the kit recipe with one change, "
             "trained from random weights (or, where its change says so, from a first run of its own) on the "
             "UTKFace seed split and scored on its validation faces (a mix's "
             "wiki validation faces left out); intervals are 95% bootstrap intervals.", ""]
    if table.empty:
        lines.append("No arm has finished yet.")
    else:
        if "baseline" not in table.index:
            lines += ["No baseline among these arms, so no paired changes: compare their figures with the "
                      "baseline's own record at this scale (e.g. the card of a shipped model trained with the kit "
                      "recipe).", ""]
        first = table.iloc[0]
        epochs = sorted({int(e) for e in table["arm_epochs"].dropna()})
        span = ("averages only" if not epochs else f"{epochs[0]} epochs" if len(epochs) == 1 else
                f"{epochs[0]}–{epochs[-1]} epochs (an arm on another schedule than the baseline's says so)")
        lines += [f"Backbone {str(first['backbone']).upper()}, {first['image_size']:.0f} px, {span}; "
                  f"{int(first['n_val']):,} validation faces.", ""]
        shown = pd.DataFrame(index=table.index)
        shown["change"] = table["change"]
        for key in KEYS:
            if key == "mae":
                shown["MAE (years)"] = table[key].map(lambda v: f"{v:.2f}")
                continue
            shown[key] = [f"{v:.3f} ({lo:.3f}–{hi:.3f})" for v, lo, hi in
                          zip(table[key], table[f"{key}_low"], table[f"{key}_high"])]
        shown["minutes"] = table["train_minutes"].map(lambda v: f"{v:.1f}")
        shown["best epoch"] = [f"{b:.0f} of {e:.0f}" if b == b and e == e else "its members'" for b, e in
                               zip(table["best_epoch"].astype(float), table["epochs"].astype(float))]
        lines += [markdown_table(shown), ""]
        if "age_10_change" in table:
            changes = pd.DataFrame(index=table.index)
            for key in KEYS:
                digits = 2 if key == "mae" else 3
                changes[key] = [f"{c:+.{digits}f} ({lo:+.{digits}f} to {hi:+.{digits}f}) {v}" for c, lo, hi, v in
                                zip(table[f"{key}_change"], table[f"{key}_change_low"], table[f"{key}_change_high"],
                                    table[f"{key}_verdict"])]
            lines += ["## Against the baseline", "",
                      "Each metric minus the baseline's on the same faces (MAE in years: lower is better), with a "
                      "paired 95% bootstrap interval; *better* or *worse* where the interval excludes zero and the "
                      "change is larger than `baseline-seed2`'s. That interval resamples the faces, not the "
                      "training, and each arm is trained once: `baseline-seed2` (the baseline with other initial "
                      "weights and batch order) shows how far training noise alone moves each figure, and a change "
                      "no larger than its reads *within training noise*.", "", markdown_table(changes.drop(index="baseline", errors="ignore")), ""]
    if members is not None and len(members):
        rows = pd.DataFrame(index=pd.MultiIndex.from_frame(members[["average", "member"]]))
        for key in KEYS:
            digits = 2 if key == "mae" else 3
            rows[key] = [f"{c:+.{digits}f} ({lo:+.{digits}f} to {hi:+.{digits}f})" for c, lo, hi in
                         zip(members[f"{key}_change"], members[f"{key}_low"], members[f"{key}_high"])]
        lines += ["## Averages against their members", "",
                  "Each average's metric minus each member's on the same faces, with a paired 95% bootstrap "
                  "interval (MAE in years: lower is better). An average is better than its best member only where "
                  "every such interval excludes zero.", "", markdown_table(rows), ""]
    for arm, why in (failed or {}).items():
        lines.append(f"- `{arm}` failed: {why}")
    if pending:
        lines.append(f"Not trained yet: {', '.join(pending)}.")
    path = Path(path)
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


# --- private details -------------------------------------------------------------------------


#: The arm whose run is the first run of the arms that start from a model trained on a mix.
MIX_ARMS = {"full": "more-faces"}


def _first_model(folder: Path) -> str:
    """The model a ``pretrain`` arm starts from: its finished first run's ``best.keras``."""
    from .training import run_state

    if not run_state(folder).get("finished"):
        raise FileNotFoundError(f"{folder}: its first run has not finished (train it with ablate)")
    if not (folder / "best.keras").is_file():
        raise FileNotFoundError(f"{folder / 'best.keras'} is missing: the first run finished, but its model is gone, "
                                "so the arms that start from it cannot; move that folder away to train it again")
    return str(folder / "best.keras")


def _resumable(folder: Path) -> bool:
    """Whether a run folder holds an interrupted run that goes on from its own last epoch."""
    from .training import run_state

    return (folder / "last.keras").is_file() and int(run_state(folder).get("epochs_done", 0)) > 0


def _reuse_arm(arm_folder: Path, first: Path, config: dict) -> None:
    """Copy the finished arm whose run is ``first``'s (same configuration, model still there) into
    ``first`` instead of training it again; nothing happens when ``first`` exists or it cannot be."""
    import shutil

    from .replication import _finished

    if first.exists() or not (arm_folder / "best.keras").is_file():
        return
    try:
        if not _finished(arm_folder, config):
            return
    except ValueError:  # another run there
        return
    work = first.with_name(f".{first.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(arm_folder, work)
    work.rename(first)


def _saved_init_from(folder: Path) -> str | None:
    """The model a run folder's run started from, as its config.json names it (None: none, or no run)."""
    config = folder / "config.json"
    return json.loads(config.read_text()).get("init_from") if config.is_file() else None


def _finished_after(out: Path, arm: str, scale: dict) -> bool:
    """Whether a ``pretrain`` arm has finished (read from its folder; its first run's model may be gone)."""
    from .replication import _finished

    folder = out / "runs" / arm
    init_from = _saved_init_from(folder)
    return bool(init_from) and _finished(folder, arm_config(arm, init_from=init_from, **scale))


def _first_run_seconds(run: Path) -> float:
    """The training time of the run that ``run`` started from (0 for a run from random weights)."""
    from .training import started_from, train_seconds

    config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    if not config.get("init_from"):
        return 0.0
    started = started_from(run, config)  # found also where the ablation folder has moved since
    seconds = None if started is None else train_seconds(started)
    return float("nan") if seconds is None else seconds


def _finished_here(out: Path, name: str, scale: dict) -> bool:
    """Whether the arm folder ``out/runs/name`` holds a finished run at ``scale``, whatever its epochs, with
    its predictions (a folder of another size, batch or profile, or of no arm the screen knows, is left
    out of the table)."""
    from .experiments import PREDICTIONS
    from .replication import _finished

    try:
        scale = dict(scale, epochs=_arm_epochs(out / "runs" / name, name))
        done = (_finished_after(out, name, scale) if pretraining(name)
                else _finished(out / "runs" / name, arm_config(name, **scale)))
    except (ValueError, KeyError, OSError):
        return False
    return done and (out / "runs" / name / PREDICTIONS).is_file()


def _real_faces(config: dict, arm: str) -> None:
    """Refuse to train an arm of a measuring profile (``cpu``, ``full``) on the offline sample: hours of
    training on drawn faces would say nothing about real ones. Only the ``smoke`` profile may."""
    if config.get("is_sample") and config["profile"] != "smoke":
        found = ", ".join(_sample_sources(config)) or config.get("dataset", "the data")
        raise ValueError(f"arm {arm}: the real data of {found} could not be found, only the kit's offline sample "
                         f"(drawn faces, not photographs) is there, and the {config['profile']} profile measures "
                         "real faces. Set AGEKIT_MIRROR to a folder of the datasets' archives, or pass --utkface "
                         "(and --wiki); --profile smoke runs the ablation on the sample as a pipeline check")


def _sample_sources(config: dict) -> list[str]:
    """The datasets of a run configuration whose faces are the kit's offline sample (for a mix, each source
    that fell back to it)."""
    from .paths import sample_dir

    sample = sample_dir().resolve()
    sources = config.get("source")
    sources = sources if isinstance(sources, dict) else {config.get("dataset", "data"): sources}
    return [name for name, path in sources.items()
            if path is not None and Path(path).expanduser().resolve().is_relative_to(sample)]


def _arm_epochs(folder: Path, arm: str) -> int:
    """The epochs ``arm`` was asked for, read from its run folder (:func:`_asked_epochs`)."""
    return _asked_epochs(arm, int(json.loads((folder / "config.json").read_text())["epochs"]))


def _run_epochs(arm: str, asked: int) -> int:
    """The epochs an arm's run trains when ``asked`` are asked for: a mix arm's faces come from several
    sources, each as many as the baseline's, so it runs that many times fewer epochs (the same steps)."""
    from .experiments import MIXES

    mix = arm_changes(arm).get("mix")
    return max(1, round(asked / len(MIXES[mix]))) if mix else asked


def _asked_epochs(arm: str, run_epochs: int) -> int:
    """Epochs that, asked for, give an arm's run ``run_epochs`` (:func:`_run_epochs` undone)."""
    from .experiments import MIXES

    mix = arm_changes(arm).get("mix")
    return run_epochs * len(MIXES[mix]) if mix else run_epochs


def _screen_order(names) -> list[str]:
    """``names`` with the screen's arms first, in its order, then any other by name."""
    return [arm for arm in ARMS if arm in names] + sorted(name for name in set(names) if name not in ARMS)


def _folder_arms(out: Path) -> list[str]:
    """The arms with a run folder in ``out/runs``, in :func:`_screen_order`."""
    return _screen_order([p.parent.name for p in (Path(out) / "runs").glob("*/config.json")])


def _averages(out: Path) -> list[Path]:
    return sorted(p.parent for p in (Path(out) / ENSEMBLES).glob("*/config.json"))
