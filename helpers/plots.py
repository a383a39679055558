"""Figures the chapters share: image grids, age histograms and age-group bar charts."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .age_groups import AgeGroups


def image_grid(images, titles=None, ncols: int = 6, size: float = 1.8):
    """Show images (uint8 arrays) in a grid with optional titles; returns the figure."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.3)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.ravel()[i]
        ax.imshow(img)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def age_histogram(tables: dict[str, pd.DataFrame], max_age: int = 100):
    """One-year age histograms of several indexed datasets on shared axes; returns the figure."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    bins = np.arange(0, max_age + 2) - 0.5
    for name, df in tables.items():
        ages = df["age"].astype("Float64").to_numpy(na_value=np.nan)
        ax.hist(ages[np.isfinite(ages)], bins=bins, histtype="step", linewidth=1.5, label=f"{name} (n={len(df):,})")
    ax.axvspan(0.5, 80.5, color="grey", alpha=0.08, label="ages the seed keeps (1-80)")
    ax.set_xlabel("age (years)")
    ax.set_ylabel("images")
    ax.legend()
    fig.tight_layout()
    return fig


def group_counts_table(tables: dict[str, pd.DataFrame], groups: AgeGroups) -> pd.DataFrame:
    """Images per age group (rows) for each dataset (columns), with the share in % beside it."""
    out = {}
    for name, df in tables.items():
        counts = groups.counts(df["age"].astype("Float64").to_numpy(na_value=np.nan))
        out[name] = counts
        total = sum(counts) or 1
        out[f"{name} %"] = [round(100 * c / total, 1) for c in counts]
    table = pd.DataFrame(out, index=pd.Index(groups.labels, name=f"age group ({groups.n})"))
    return table


def group_counts_figure(tables: dict[str, pd.DataFrame], schemes: list[AgeGroups]):
    """Bar charts of the share of images per age group, one panel per scheme; returns the figure."""
    fig, axes = plt.subplots(1, len(schemes), figsize=(5 * len(schemes), 3.6), squeeze=False)
    width = 0.8 / max(1, len(tables))
    for ax, groups in zip(axes[0], schemes):
        x = np.arange(groups.n)
        for k, (name, df) in enumerate(tables.items()):
            counts = np.asarray(groups.counts(df["age"].astype("Float64").to_numpy(na_value=np.nan)), float)
            ax.bar(x + k * width, 100 * counts / max(1, counts.sum()), width, label=name)
        ax.axhline(100 / groups.n, color="black", linestyle=":", linewidth=1, label="balanced")
        ax.set_xticks(x + width * (len(tables) - 1) / 2, groups.labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{groups.n} age groups")
        ax.set_xlabel("age group (years)")
        ax.set_ylabel("share of images (%)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def majority_baseline(df: pd.DataFrame, groups: AgeGroups) -> float:
    """Accuracy of always guessing the largest age group (over ages the scheme covers)."""
    counts = np.asarray(groups.counts(df["age"].astype("Float64").to_numpy(na_value=np.nan)))
    return float(counts.max() / counts.sum()) if counts.sum() else float("nan")
