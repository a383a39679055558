"""Classification and age metrics on plain arrays, each checked in the tests against values
computed by hand: accuracy, balanced accuracy, macro-F1, confusion matrix, MAE, CS@k, bootstrap
intervals, and breakdowns by a group (race, gender) with the worst-group gap.

Labels of -1 mean "missing" and are ignored everywhere.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts (n_classes x n_classes): rows are true classes, columns predicted ones."""
    t, p = _valid(y_true, y_pred)
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def accuracy(y_true, y_pred) -> float:
    """Share of correct predictions (NaN when no label is present)."""
    t, p = _valid(y_true, y_pred)
    return float(np.mean(t == p)) if len(t) else float("nan")


def balanced_accuracy(y_true, y_pred, n_classes: int | None = None) -> float:
    """Mean recall over the classes present in ``y_true``."""
    t, p = _valid(y_true, y_pred)
    if not len(t):
        return float("nan")
    n = n_classes or int(max(t.max(), p.max()) + 1)
    m = confusion_matrix(t, p, n)
    present = m.sum(axis=1) > 0
    return float(np.mean(np.diag(m)[present] / m.sum(axis=1)[present]))


def macro_f1(y_true, y_pred, n_classes: int | None = None) -> float:
    """Unweighted mean F1 over the classes present in the labels or the predictions."""
    t, p = _valid(y_true, y_pred)
    if not len(t):
        return float("nan")
    n = n_classes or int(max(t.max(), p.max()) + 1)
    m = confusion_matrix(t, p, n)
    tp = np.diag(m).astype(float)
    support, predicted = m.sum(axis=1), m.sum(axis=0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=(support + predicted) > 0)
    return float(np.mean(f1[present]))


def mae(true_years, pred_years) -> float:
    """Mean absolute error in years over finite pairs."""
    t, p = _finite(true_years, pred_years)
    return float(np.mean(np.abs(t - p))) if len(t) else float("nan")


def cumulative_score(true_years, pred_years, k: float = 5) -> float:
    """CS@k: share of predictions within ``k`` years of the truth."""
    t, p = _finite(true_years, pred_years)
    return float(np.mean(np.abs(t - p) <= k)) if len(t) else float("nan")


def bootstrap_interval(metric: Callable, *arrays, n: int = 1000, level: float = 0.95, seed: int = 0):
    """Percentile bootstrap interval (low, high) of ``metric(*arrays)`` resampling rows."""
    arrays = [np.asarray(a) for a in arrays]
    size = len(arrays[0])
    if size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array([metric(*(a[idx] for a in arrays)) for idx in rng.integers(0, size, (n, size))])
    values = values[np.isfinite(values)]
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def by_group(metric: Callable, groups, *arrays, names=None, min_count: int = 1) -> pd.DataFrame:
    """``metric`` per value of ``groups`` (e.g. race) with counts, plus a row for all and the
    worst-group gap (best minus worst) in ``df.attrs['gap']``."""
    groups = np.asarray(groups)
    arrays = [np.asarray(a) for a in arrays]
    rows = []
    for g in sorted(set(groups.tolist()) - {-1}):
        mask = groups == g
        if mask.sum() >= min_count:
            name = names[g] if names is not None and 0 <= g < len(names) else g
            rows.append({"group": name, "n": int(mask.sum()), "value": metric(*(a[mask] for a in arrays))})
    table = pd.DataFrame(rows, columns=["group", "n", "value"]).set_index("group")
    finite = table["value"][np.isfinite(table["value"].astype(float))]
    table.attrs["gap"] = float(finite.max() - finite.min()) if len(finite) else float("nan")
    table.loc["all"] = [len(groups), metric(*arrays)]
    table["n"] = table["n"].astype(int)
    return table


# --- private details -------------------------------------------------------------------------


def _valid(y_true, y_pred):
    t = np.asarray(y_true).astype(np.int64).reshape(-1)
    p = np.asarray(y_pred).astype(np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length: {t.shape} vs {p.shape}")
    keep = t >= 0
    return t[keep], p[keep]


def _finite(a, b):
    a = np.asarray(a, dtype=float).reshape(-1)
    b = np.asarray(b, dtype=float).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"true and predicted ages differ in length: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b) & (a >= 0)
    return a[keep], b[keep]
