"""The paper's figures, regenerated from a results table (``results.csv`` of :mod:`helpers.replication`).

- Figure 4 and 6 kind, :func:`backbone_figure`: age accuracy against the backbone, one line per
  age-group scheme and task set, for IMDB-WIKI (Fig. 4) or UTKFace (Fig. 6);
- :func:`tasks_figure`: single- against multi-task on one dataset, per scheme;
- Figure 7 kind, :func:`datasets_figure`: the two datasets side by side on the same tasks;
- Figure 9 kind, :func:`multi_source_figure`: every experiment at one scheme, the mixes scored
  on each source's validation images;
- :func:`group_figure`: an age metric per race or gender group, with the worst-group gap.

Each returns a matplotlib figure (None when the table holds nothing to draw), one panel per
recipe; accuracies are in %, and the seed's reported UTKFace values are drawn as stars on the
figures they belong to. A cell trained with several train seeds is drawn once (:func:`seed_means`):
its mean, with whiskers from the lowest to the highest bound of its seeds' 95% intervals.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
import numpy as np
import pandas as pd

from .run_plots import SEED_UTKFACE_3TASK, accuracy_bars

#: The backbone the paper names for each reported value (its B5-B7 were B4s: docs/seed.md).
SEED_REPORTED_BACKBONE = {"age_3": "b6", "age_5": "b4", "age_10": "b4"}
SCHEME_KEYS = ("age_3", "age_5", "age_10")
SOURCES = ("wiki", "utkface")
RECIPE_ORDER = ("seed", "kit")


def accuracy_cells(results: pd.DataFrame) -> pd.DataFrame:
    """Age accuracies in long form: one row per run, age-group scheme and validation source
    (``on``), with the bootstrap interval and whether the run trained age on that source."""
    rows = []
    for _, r in results.iterrows():
        for source in SOURCES:
            for key in SCHEME_KEYS:
                value = r.get(f"{source}_{key}")
                if value is None or pd.isna(value):
                    continue
                trained = r.get(f"{source}_trains_age")
                rows.append({"run": r["run"], "kind": r["kind"], "dataset": r["dataset"], "tasks": r["tasks"],
                             "recipe": r["recipe"], "backbone": r["backbone"], "scheme": key.split("_")[1],
                             "on": source, "trained": True if trained is None or pd.isna(trained) else bool(trained),
                             "accuracy": value, "low": r.get(f"{source}_{key}_low"),
                             "high": r.get(f"{source}_{key}_high")})
    columns = ["run", "kind", "dataset", "tasks", "recipe", "backbone", "scheme", "on", "trained", "accuracy",
               "low", "high"]
    return pd.DataFrame(rows, columns=columns)


def seed_means(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per cell of :func:`accuracy_cells` however many train seeds ran it: ``accuracy`` the
    mean over the seeds, ``low``/``high`` the lowest and highest bound of any seed's bootstrap
    interval, ``seeds`` how many there were. What the figures draw: a repeated cell is one bar."""
    keys = ["kind", "dataset", "tasks", "recipe", "backbone", "scheme", "on", "trained"]
    if not len(cells):
        return cells.assign(seeds=pd.Series(dtype="int64"))
    grouped = cells.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(run=("run", "first"), accuracy=("accuracy", "mean"), low=("low", "min"),
                      high=("high", "max"), seeds=("run", "size")).reset_index()
    return out[["run", *keys, "accuracy", "low", "high", "seeds"]]


def backbone_figure(results: pd.DataFrame, dataset: str = "utkface", *, recipes=None):
    """Age accuracy (%) against the backbone on ``dataset``: colour = age groups, line style = tasks.
    On UTKFace the seed's reported values are stars at the backbone the paper named."""
    cells = _single(results, dataset)
    if not len(cells):
        return None
    recipes = _recipes(cells, recipes)
    seed_backbones = set(SEED_REPORTED_BACKBONE.values()) if dataset == "utkface" else set()
    backbones = _backbone_order(set(cells["backbone"]) | seed_backbones)
    x = {b: i for i, b in enumerate(backbones)}
    fig, axes = plt.subplots(1, len(recipes), figsize=(5.5 * len(recipes), 3.8), squeeze=False, sharey=True)
    task_sets = _task_order(cells["tasks"])
    styles = dict(zip(task_sets, [("-", "o"), ("--", "s"), (":", "^")]))
    for ax, rec in zip(axes[0], recipes):
        part = cells[cells["recipe"] == rec]
        for j, tasks in enumerate(task_sets):
            shift = 0.08 * (j - (len(task_sets) - 1) / 2)  # side by side, not on top of each other
            for i, scheme in enumerate(("3", "5", "10")):
                line = part[(part["tasks"] == tasks) & (part["scheme"] == scheme)]
                line = line.assign(x=line["backbone"].map(x) + shift).sort_values("x")
                if len(line):
                    linestyle, marker = styles[tasks]
                    ax.errorbar(line["x"], 100 * line["accuracy"], yerr=_errors(line), marker=marker,
                                linestyle=linestyle, color=f"C{i}", capsize=3)
        if dataset == "utkface":
            _seed_stars(ax, x)
        handles = [Line2D([], [], color=f"C{i}", marker="o", label=f"{s} groups")
                   for i, s in enumerate(("3", "5", "10"))]
        handles += [Line2D([], [], color="grey", linestyle=styles[t][0], marker=styles[t][1], label=t)
                    for t in task_sets]
        handles += [h for h, label in zip(*ax.get_legend_handles_labels()) if label.startswith("seed")]
        ax.legend(handles=handles, fontsize=7)
        ax.set_xticks(range(len(backbones)), [b.upper() for b in backbones])
        ax.set_xlim(-0.5, len(backbones) - 0.5)
        ax.set_xlabel("backbone (EfficientNet)")
        ax.set_title(f"{dataset}: {rec} recipe", fontsize=10)
    axes[0][0].set_ylabel("validation age accuracy (%)")
    axes[0][0].set_ylim(0, 100)
    fig.tight_layout()
    return fig


def tasks_figure(results: pd.DataFrame, dataset: str = "utkface", *, backbone: str | None = None, recipes=None):
    """Single- against multi-task on ``dataset`` at one backbone: bars per task set for each age-group
    scheme (the seed's reported values as stars on UTKFace)."""
    cells = _single(results, dataset)
    if not len(cells):
        return None
    backbone = backbone or _main_backbone(cells)
    cells = cells[cells["backbone"] == backbone]
    recipes = _recipes(cells, recipes)
    fig, axes = plt.subplots(1, len(recipes), figsize=(6 * len(recipes), 3.8), squeeze=False)
    for ax, rec in zip(axes[0], recipes):
        part = cells[cells["recipe"] == rec]
        table = _wide(part, "tasks", _task_order(part["tasks"]))
        accuracy_bars(table, seed_values=SEED_UTKFACE_3TASK if dataset == "utkface" else None,
                      seed_label="seed's paper, age+gender+race", ax=ax)
        ax.set_title(f"{dataset}, {backbone.upper()}: {rec} recipe", fontsize=10)
    fig.tight_layout()
    return fig


def datasets_figure(results: pd.DataFrame, *, backbone: str | None = None, recipes=None,
                    tasks=("age", "age+gender")):
    """The two datasets on the same tasks at one backbone: bars per dataset and task set for each scheme."""
    cells = pd.concat([_single(results, d) for d in SOURCES])
    cells = cells[cells["tasks"].isin(tasks)]
    if not len(cells):
        return None
    backbone = backbone or _main_backbone(cells)
    cells = cells[cells["backbone"] == backbone].assign(experiment=lambda c: c["dataset"] + " · " + c["tasks"])
    recipes = _recipes(cells, recipes)
    fig, axes = plt.subplots(1, len(recipes), figsize=(6 * len(recipes), 3.8), squeeze=False)
    for ax, rec in zip(axes[0], recipes):
        part = cells[cells["recipe"] == rec]
        order = [f"{d} · {t}" for t in tasks for d in SOURCES if f"{d} · {t}" in set(part["experiment"])]
        accuracy_bars(_wide(part, "experiment", order), ax=ax)
        ax.set_title(f"IMDB-WIKI against UTKFace, {backbone.upper()}: {rec} recipe", fontsize=10)
    fig.tight_layout()
    return fig


def multi_source_figure(results: pd.DataFrame, scheme: str = "3", *, backbone: str | None = None, recipes=None):
    """Every experiment at ``scheme`` groups: the single-source runs on their own validation images
    and each mix on each source's (hatched: a source whose ages the mix never trained on)."""
    cells = seed_means(accuracy_cells(results))
    cells = cells[cells["scheme"] == str(scheme)]
    if not len(cells) or not (cells["kind"] == "multi").any():
        return None
    backbone = backbone or _main_backbone(cells[cells["kind"] == "multi"])
    cells = cells[cells["backbone"] == backbone]
    recipes = _recipes(cells, recipes)
    experiments = [f"{d} · {t}" for d in SOURCES for t in _task_order(cells.loc[cells["dataset"] == d, "tasks"])]
    experiments += sorted(cells.loc[cells["kind"] == "multi", "dataset"].unique())
    fig, axes = plt.subplots(1, len(recipes), figsize=(max(7, 1.1 * len(experiments)) * len(recipes) / 1.4, 4.2),
                             squeeze=False, sharey=True)
    width = 0.38
    for ax, rec in zip(axes[0], recipes):
        part = cells[cells["recipe"] == rec]
        name = np.where(part["kind"] == "multi", part["dataset"], part["dataset"] + " · " + part["tasks"])
        part = part.assign(experiment=name)
        for j, source in enumerate(SOURCES):
            for i, experiment in enumerate(experiments):
                bar = part[(part["experiment"] == experiment) & (part["on"] == source)]
                if not len(bar):
                    continue
                b = bar.iloc[0]
                ax.bar(i + (j - 0.5) * width, 100 * b["accuracy"], width, color=f"C{j}",
                       hatch=None if b["trained"] else "//", edgecolor="white" if b["trained"] else "black",
                       yerr=_errors(bar), capsize=2)
        for j, source in enumerate(SOURCES):
            ax.bar(np.nan, np.nan, color=f"C{j}", label=f"on {source} validation")
        ax.bar(np.nan, np.nan, color="white", edgecolor="black", hatch="//", label="age never trained on this source")
        ax.set_xticks(range(len(experiments)), experiments, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{scheme} age groups, {backbone.upper()}: {rec} recipe", fontsize=10)
        ax.set_ylim(0, 100)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("validation age accuracy (%)")
    fig.tight_layout()
    return fig


def group_figure(table: pd.DataFrame, metric: str = "mae", *, title: str | None = None, ax=None):
    """One bar per group of a :func:`helpers.scorecard.fairness_table` for ``metric``, the
    overall value as a line, and the worst-group gap in the title."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    fig = ax.figure
    groups = table.drop(index=["all", "gap"], errors="ignore")
    scale, unit = (1, "years") if metric == "mae" else (100, "%")
    ax.bar(range(len(groups)), scale * groups[metric].astype(float), color="C0")
    for i, n in enumerate(groups["n"]):
        ax.text(i, 0, f"n={int(n)}", ha="center", va="bottom", fontsize=7, color="white")
    ax.axhline(scale * float(table.loc["all", metric]), color="black", linestyle=":", label="all images")
    ax.set_xticks(range(len(groups)), groups.index, rotation=20)
    ax.set_xlabel(table.index.name or "group")
    ax.set_ylabel(f"{_metric_name(metric)} ({unit})")
    gap = table.loc["gap", metric] if "gap" in table.index else np.nan
    ax.set_title(title or f"{_metric_name(metric)} by {table.index.name}: worst-group gap {scale * gap:.1f} {unit}",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- private details -------------------------------------------------------------------------


def _single(results: pd.DataFrame, dataset: str) -> pd.DataFrame:
    cells = seed_means(accuracy_cells(results))
    return cells[(cells["kind"] == "single") & (cells["dataset"] == dataset) & (cells["on"] == dataset)]


def _recipes(cells: pd.DataFrame, recipes) -> list[str]:
    present = list(dict.fromkeys(cells["recipe"]))
    order = [r for r in RECIPE_ORDER if r in present] + [r for r in present if r not in RECIPE_ORDER]
    return [r for r in order if recipes is None or r in recipes]


def _backbone_order(backbones) -> list[str]:
    return sorted(backbones, key=lambda b: (not b[1:].isdigit(), int(b[1:]) if b[1:].isdigit() else 0, b))


def _main_backbone(cells: pd.DataFrame) -> str:
    counts = cells["backbone"].value_counts()
    return _backbone_order(counts[counts == counts.max()].index)[0]


def _task_order(tasks) -> list[str]:
    return sorted(set(tasks), key=lambda t: (t.count("+"), t))


def _wide(cells: pd.DataFrame, index: str, order) -> pd.DataFrame:
    table = cells.pivot_table(index=index, columns="scheme", values="accuracy", aggfunc="mean")
    table.columns = [f"age_{c}" for c in table.columns]
    return table.reindex(index=list(order), columns=[k for k in SCHEME_KEYS if k in table.columns])


def _errors(cells: pd.DataFrame):
    low, high = cells["low"].astype(float).to_numpy(), cells["high"].astype(float).to_numpy()
    acc = cells["accuracy"].astype(float).to_numpy()
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        return None
    return 100 * np.vstack([np.maximum(acc - low, 0), np.maximum(high - acc, 0)])


def _seed_stars(ax, x: dict) -> None:
    for i, (key, value) in enumerate(SEED_UTKFACE_3TASK.items()):
        xi = x[SEED_REPORTED_BACKBONE[key]]
        ax.plot(xi, 100 * value, "*", color=f"C{i}", markeredgecolor="black", markersize=14,
                label="seed's paper, age+gender+race (its B5-B7 were B4)" if i == 0 else None)
        ax.annotate(key.split("_")[1], (xi, 100 * value), textcoords="offset points", xytext=(8, -3), fontsize=7)


def _metric_name(metric: str) -> str:
    if metric == "mae":
        return "age MAE"
    if metric.startswith("cs"):
        return f"CS@{metric[2:]}"
    scheme, _, kind = metric.partition("_")[2].partition("_")
    kind = {"balanced": "balanced accuracy", "f1": "macro-F1"}.get(kind, "accuracy")
    return f"age {kind}, {scheme} groups"
