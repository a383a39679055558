"""A run's full evaluation, read from its validation predictions: per-task scores, age in years,
breakdowns by race and gender with the worst-group gap, and bootstrap intervals.

Everything here works on a *predictions table* (``predictions.csv`` in a run folder, written by
:func:`helpers.experiments.write_predictions`), one row per validation image:

- ``path``, ``source``; the true labels ``age`` (years, NaN when unknown), ``gender`` and
  ``race`` (-1 when unknown);
- ``trained_age``, ``trained_gender``, ``trained_race``: whether that label of the row's source
  fed the training loss (a multi-source mix masks some; a single source masks none);
- the model's answers: ``pred_years`` (from a per-year head, else the expected group centre),
  ``pred_age_3``, ``pred_age_5``, ``pred_age_10`` for the schemes the age head serves, and
  ``pred_gender``, ``pred_race`` for the tasks it has.

The arithmetic itself is :mod:`helpers.metrics`; this module decides what to score on which rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .age_groups import age_groups
from .age_heads import REPORTED_SCHEMES
from .datasets import CLASS_NAMES
from .metrics import (accuracy, balanced_accuracy, bootstrap_interval, by_group, confusion_matrix,
                      cumulative_score, macro_f1, mae)

AGE_KEYS = tuple(f"age_{s}" for s in REPORTED_SCHEMES)  # age_3, age_5, age_10
#: The class names of every key scored: each scheme's age groups, then gender and race
#: (those two are :data:`helpers.datasets.CLASS_NAMES` itself).
KEY_CLASSES = {**{f"age_{s}": age_groups(s).labels for s in REPORTED_SCHEMES}, **CLASS_NAMES}
#: Attributes the age metrics are broken down by.
GROUP_ATTRIBUTES = ("race", "gender")
#: CS@k is reported for this k (years).
CS_YEARS = 5


def served_keys(pred: pd.DataFrame) -> list[str]:
    """The classification keys a predictions table can be scored on: age_3/5/10 served, gender, race."""
    return [k for k in (*AGE_KEYS, "gender", "race") if f"pred_{k}" in pred]


def truth(pred: pd.DataFrame, key: str) -> np.ndarray:
    """True class indices for ``key`` (age groups from the years; -1 where unknown)."""
    if key in AGE_KEYS:
        return age_groups(key.split("_")[1]).assign(pred["age"].to_numpy(dtype=float))
    return pred[key].to_numpy(dtype=np.int64)


def trained_view(pred: pd.DataFrame) -> pd.DataFrame:
    """``pred`` with every label the run did not train on hidden: what the run's own validation scores."""
    out = pred.copy()
    for task in ("age", "gender", "race"):
        column = f"trained_{task}"
        if column in out:
            keep = out[column].to_numpy(dtype=bool)
            out[task] = out[task].where(keep, np.nan if task == "age" else -1)
    return out


def task_scores(pred: pd.DataFrame, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per key (age_3/5/10, gender, race): images scored, accuracy with its bootstrap
    interval (``low``, ``high``; NaN with ``n_boot=0``), balanced accuracy and macro-F1."""
    rows = []
    for key in served_keys(pred):
        t, p = truth(pred, key), pred[f"pred_{key}"].to_numpy(dtype=np.int64)
        t, p = t[t >= 0], p[t >= 0]
        n_classes = len(KEY_CLASSES[key])
        low, high = (bootstrap_interval(accuracy, t, p, n=n_boot, level=level, seed=seed) if len(t) and n_boot
                     else (np.nan, np.nan))
        rows.append({"key": key, "n": len(t), "accuracy": accuracy(t, p), "low": low, "high": high,
                     "balanced_accuracy": balanced_accuracy(t, p, n_classes), "macro_f1": macro_f1(t, p, n_classes)})
    columns = ["n", "accuracy", "low", "high", "balanced_accuracy", "macro_f1"]
    return pd.DataFrame(rows).set_index("key")[columns] if rows else pd.DataFrame(columns=columns)


def age_year_scores(pred: pd.DataFrame, k: float = CS_YEARS) -> dict:
    """Age in years: MAE, CS@k and the number of images with a known age."""
    t, p = pred["age"].to_numpy(dtype=float), pred["pred_years"].to_numpy(dtype=float)
    return {"n": int(np.isfinite(t).sum()), "mae": mae(t, p), f"cs{k:g}": cumulative_score(t, p, k)}


def confusion_table(pred: pd.DataFrame, key: str) -> pd.DataFrame:
    """The confusion matrix of ``key`` with class names: rows true, columns predicted."""
    labels = KEY_CLASSES[key]
    counts = confusion_matrix(truth(pred, key), pred[f"pred_{key}"].to_numpy(dtype=np.int64), len(labels))
    table = pd.DataFrame(counts, index=labels, columns=labels)
    table.index.name, table.columns.name = "true", "predicted"
    return table


def age_metrics(pred: pd.DataFrame) -> dict:
    """Every age metric as (function, arrays) ready for :func:`helpers.metrics.by_group`: per served
    scheme accuracy, balanced accuracy and macro-F1; MAE and CS@5 in years."""
    out = {}
    for key in [k for k in AGE_KEYS if f"pred_{k}" in pred]:
        t, p = truth(pred, key), pred[f"pred_{key}"].to_numpy(dtype=np.int64)
        n = len(KEY_CLASSES[key])
        out[key] = (accuracy, (t, p))
        out[f"{key}_balanced"] = (lambda a, b, n=n: balanced_accuracy(a, b, n), (t, p))
        out[f"{key}_f1"] = (lambda a, b, n=n: macro_f1(a, b, n), (t, p))
    years = (pred["age"].to_numpy(dtype=float), pred["pred_years"].to_numpy(dtype=float))
    out["mae"] = (mae, years)
    out[f"cs{CS_YEARS}"] = (lambda a, b: cumulative_score(a, b, CS_YEARS), years)
    return out


def fairness_table(pred: pd.DataFrame, by: str = "race", *, min_count: int = 5,
                   other_attribute: bool = False) -> pd.DataFrame:
    """Every age metric per value of ``by`` ('race' or 'gender'), the row 'all', and the row
    'gap' (best minus worst group; groups with fewer than ``min_count`` images are left out).
    With ``other_attribute``, also the accuracy of the other attribute per group (gender per
    race, race per gender) where the table holds its predictions and labels.

    ``attrs['worst']`` names the worst group per metric (lowest score, highest MAE).
    """
    names = KEY_CLASSES[by]
    groups = pred[by].to_numpy(dtype=np.int64)
    metrics = age_metrics(pred)
    other = "gender" if by == "race" else "race"
    if other_attribute and f"pred_{other}" in pred and (truth(pred, other) >= 0).any():
        metrics[other] = (accuracy, (truth(pred, other), pred[f"pred_{other}"].to_numpy(dtype=np.int64)))
    columns, gaps, worst = {}, {}, {}
    n = None
    for name, (metric, arrays) in metrics.items():
        table = by_group(metric, groups, *arrays, names=names, min_count=min_count)
        columns[name], gaps[name] = table["value"], table.attrs["gap"]
        per_group = table["value"].drop("all").astype(float).dropna()
        if len(per_group):
            worst[name] = per_group.idxmax() if name == "mae" else per_group.idxmin()
        n = table["n"] if n is None else n
    frame = pd.DataFrame({"n": n, **columns})
    frame.loc["gap"] = {"n": np.nan, **gaps}
    frame.index.name = by
    frame.attrs["worst"] = worst
    return frame


def scorecard(pred: pd.DataFrame, *, n_boot: int = 1000, min_count: int = 5) -> dict:
    """The flat numbers of a predictions table, for one row of ``results.csv``.

    ``<key>``, ``<key>_low``, ``<key>_high``, ``<key>_balanced``, ``<key>_f1`` for each key of
    :func:`task_scores`; ``mae``, ``cs5``; ``<metric>_gap_<race|gender>`` for the accuracy of
    every served scheme, MAE and CS@5; ``n`` images.
    """
    out = {"n": int(len(pred))}
    for key, row in task_scores(pred, n_boot=n_boot).iterrows():
        out.update({key: row["accuracy"], f"{key}_low": row["low"], f"{key}_high": row["high"],
                    f"{key}_balanced": row["balanced_accuracy"], f"{key}_f1": row["macro_f1"]})
    years = age_year_scores(pred)
    out.update(mae=years["mae"], **{f"cs{CS_YEARS}": years[f"cs{CS_YEARS}"]})
    for by in GROUP_ATTRIBUTES:
        if (pred[by].to_numpy(dtype=np.int64) >= 0).any():
            gaps = fairness_table(pred, by, min_count=min_count).loc["gap"]
            for metric in [k for k in AGE_KEYS if k in gaps] + ["mae", f"cs{CS_YEARS}"]:
                out[f"{metric}_gap_{by}"] = gaps[metric]
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def source_scores(pred: pd.DataFrame, *, n_boot: int = 1000) -> pd.DataFrame:
    """Scores on each validation source's images with every true label, one row per source and key
    (``value`` is the accuracy, or the MAE in years for the key 'mae'), and whether the run trained
    that label on that source (``trained``): a mix shows what transfers to a source it never labelled."""
    rows = []
    for source, part in pred.groupby("source", sort=True):
        for key, row in task_scores(part, n_boot=n_boot).iterrows():
            rows.append({"source": source, "key": key, "trained": _trained(part, key), "n": row["n"],
                         "value": row["accuracy"], "low": row["low"], "high": row["high"]})
        years = age_year_scores(part)
        rows.append({"source": source, "key": "mae", "trained": _trained(part, "age"), "n": years["n"],
                     "value": years["mae"], "low": np.nan, "high": np.nan})
    columns = ["source", "key", "trained", "n", "value", "low", "high"]
    return pd.DataFrame(rows, columns=columns).set_index(["source", "key"])


#: The scales :func:`error_scaling` tries: every age error as it is, then 10% ... 50% smaller.
ERROR_SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def error_scaling(pred: pd.DataFrame, scales=ERROR_SCALES) -> pd.DataFrame:
    """What the age groups would score if every age error were ``scale`` times as large: each
    predicted age is moved toward the true one (``age + scale * (pred_years - age)``) and binned
    into the 3, 5 and 10 groups. One row per scale (its index): ``mae`` and the accuracy of each
    scheme, from those years. Faces without a known and a predicted age are left out.

    It answers "how much better must the age in years get before a group target is met?" from a
    model's own errors: their shape (which faces, how far, in which direction) is kept, only their
    size changes. Groups taken from the years score a little below a per-year head's own group
    answers (the most probable group), so read the accuracy *change* along the rows, not the
    first row against the model's card."""
    t = pred["age"].to_numpy(dtype=float)
    p = pred["pred_years"].to_numpy(dtype=float)
    keep = np.isfinite(t) & np.isfinite(p)
    if not keep.any():
        raise ValueError("error_scaling: no face has both a known and a predicted age")
    t, p = t[keep], p[keep]
    schemes = {key: age_groups(key.split("_")[1]) for key in AGE_KEYS}
    true = {key: groups.assign(t) for key, groups in schemes.items()}  # the same at every scale
    rows = []
    for scale in scales:
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"error_scaling: scale {scale!r} is not a number >= 0")
        years = t + float(scale) * (p - t)
        row = {"scale": float(scale), "mae": mae(t, years)}
        for key, groups in schemes.items():
            guess = groups.assign(np.clip(years, groups.edges[0], groups.edges[-1] - 1))
            known = true[key] >= 0
            row[key] = accuracy(true[key][known], guess[known])
        rows.append(row)
    return pd.DataFrame(rows).set_index("scale")


def mae_for(scaling: pd.DataFrame, key: str, target: float) -> float:
    """The MAE (years) at which ``key``'s accuracy reaches ``target`` in an :func:`error_scaling`
    table, read off by straight lines between its rows: the table's largest MAE where the target
    is met already, NaN where no row reaches it."""
    rows = scaling.sort_values("mae", ascending=False)
    maes, scores = rows["mae"].to_numpy(dtype=float), rows[key].to_numpy(dtype=float)
    if scores[0] >= target:
        return float(maes[0])
    for i in range(1, len(rows)):
        if scores[i] >= target:
            share = (target - scores[i - 1]) / (scores[i] - scores[i - 1])
            return float(maes[i - 1] + share * (maes[i] - maes[i - 1]))
    return float("nan")


def error_scaling_figure(scaling: pd.DataFrame, key: str = "age_3", *, runs: pd.DataFrame | None = None,
                         target: float | None = None, ax=None):
    """``key``'s accuracy against the MAE: the :func:`error_scaling` curve (one model's errors made
    smaller), the measured runs in ``runs`` (rows with ``mae`` and ``key``, their own group answers;
    named in the legend by their index) and the ``target`` as a line. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(scaling["mae"], scaling[key], "-o", color="C0", label="its errors scaled (groups from the years)")
    if runs is not None and len(runs):
        markers = "osD^vP*Xph"
        for i, (name, row) in enumerate(runs.iterrows()):  # one legend entry each: their dots may nearly touch
            ax.scatter(row["mae"], row[key], color=f"C{(i + 1) % 10}", marker=markers[i % len(markers)], zorder=3,
                       label=f"{name} (measured)")
    if target is not None:
        ax.axhline(target, color="C3", linestyle="--", label=f"target {target:g}")
    ax.invert_xaxis()
    ax.set_xlabel("MAE (years), smaller to the right")
    ax.set_ylabel(f"{key} accuracy")
    ax.legend(loc="upper left", fontsize="x-small")
    ax.figure.tight_layout()
    return ax.figure


# --- private details -------------------------------------------------------------------------


def _trained(part: pd.DataFrame, key: str) -> bool:
    column = f"trained_{'age' if key.startswith('age') else key}"
    return bool(part[column].any()) if column in part else True
