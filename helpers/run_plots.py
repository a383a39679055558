"""Figures of training runs: learning curves, confusion matrices, and accuracies beside the seed's.

Every function returns the matplotlib figure; axes are labelled with units, and the seed's
reported value is drawn as a marker wherever it exists.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: The seed's reported validation accuracy (UTKFace, age + gender + race), per age scheme.
SEED_UTKFACE_3TASK = {"age_3": 0.7165, "age_5": 0.6790, "age_10": 0.4787}


def learning_curves(histories: dict[str, pd.DataFrame], metric: str = "age_acc_10", *, seed_value: float | None = None,
                    seed_label: str = "seed's reported value", ax=None):
    """Training (dashed) and validation (solid) ``metric`` per epoch for each named run history."""
    fig, ax = _axes(ax, (6.5, 3.6))
    for i, (name, history) in enumerate(histories.items()):
        colour = f"C{i}"
        if metric in history:
            ax.plot(history["epoch"], history[metric], "--", color=colour, alpha=0.7, label=f"{name} (train)")
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], "o-", color=colour, label=f"{name} (validation)")
    if seed_value is not None:
        ax.axhline(seed_value, color="black", linestyle=":", linewidth=1.2, label=f"{seed_label} ({seed_value:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(_metric_label(metric))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(metrics: dict, key: str = "age_10", *, title: str | None = None, ax=None):
    """The confusion matrix ``key`` of a metrics dict as a heatmap of row shares (%) with the counts written in."""
    counts = np.asarray(metrics["confusion"][key], dtype=float)
    labels = metrics["labels"][key]
    shares = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = _axes(ax, (1.6 + 0.45 * len(labels), 1.2 + 0.42 * len(labels)))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if shares[i, j] > 60 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel(f"predicted {_key_name(key)}")
    ax.set_ylabel(f"true {_key_name(key)}")
    ax.set_title(title or f"{_key_name(key)}: accuracy {metrics.get(key) or 0:.3f}", fontsize=10)
    fig.colorbar(image, ax=ax, label="share of the true class (%)", fraction=0.046)
    fig.tight_layout()
    return fig


def accuracy_bars(table: pd.DataFrame, keys=("age_3", "age_5", "age_10"), *, seed_values: dict | None = None,
                  seed_label: str = "seed's reported value", ax=None):
    """Grouped bars of accuracy per age scheme, one bar per row of ``table`` (its index names the runs)."""
    fig, ax = _axes(ax, (6.5, 3.6))
    keys = [k for k in keys if k in table and table[k].notna().any()]
    width = 0.8 / max(1, len(table))
    x = np.arange(len(keys))
    for i, (name, row) in enumerate(table.iterrows()):
        values = [100 * row[k] if pd.notna(row[k]) else np.nan for k in keys]
        ax.bar(x + i * width, values, width, label=str(name))
    if seed_values:
        centre = x + width * (len(table) - 1) / 2
        seeds = [100 * seed_values[k] if k in seed_values else np.nan for k in keys]
        ax.plot(centre, seeds, "k*", markersize=12, linestyle="none", label=seed_label)
    ax.set_xticks(x + width * (len(table) - 1) / 2, [k.replace("age_", "") + " groups" for k in keys])
    ax.set_xlabel("age groups")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- private details -------------------------------------------------------------------------


def _axes(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def _key_name(key: str) -> str:
    return f"age group ({key.split('_')[1]})" if key.startswith("age_") else key


def _metric_label(metric: str) -> str:
    if metric == "age_mae":
        return "age MAE (years)"
    if metric.endswith("_loss") or metric == "loss":
        return metric.replace("_", " ")
    if metric.startswith("age_acc_"):
        return f"age accuracy, {metric.split('_')[-1]} groups"
    return metric.replace("_acc", " accuracy").replace("_", " ")
