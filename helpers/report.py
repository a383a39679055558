"""The data report: what an index found, kept and excluded, and its age-group, gender and race counts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .age_groups import SEED_EDGES, age_groups
from .datasets import GENDERS, RACES


def data_report(df: pd.DataFrame) -> dict:
    """The index report of ``df`` (from ``df.attrs['report']``) plus label counts.

    ``groups`` holds the counts of the seed's 3, 5 and 10 groups over ages 1-80, youngest
    first; ``gender`` and ``race`` count every kept row, with ``missing`` for absent labels.
    """
    report = dict(df.attrs.get("report", {}))
    ages = df["age"].astype("Float64").to_numpy(na_value=np.nan)
    report["n_age_1_80"] = int(((ages >= 1) & (ages <= 80)).sum())
    report["groups"] = {k: age_groups(k).counts(ages) for k in SEED_EDGES}
    report["group_labels"] = {k: age_groups(k).labels for k in SEED_EDGES}
    report["gender"] = _label_counts(df["gender"], GENDERS)
    report["race"] = _label_counts(df["race"], RACES)
    return report


def format_report(report: dict) -> str:
    """A readable multi-line text of a data report."""
    lines = [f"dataset: {report.get('dataset')}   source: {report.get('source')}"]
    if "n_metadata" in report:
        lines.append(f"metadata rows: {report['n_metadata']:,}")
    lines.append(f"image files found: {report.get('n_images', 0):,}")
    lines.append(f"kept: {report.get('n_kept', 0):,}   (ages 1-80: {report['n_age_1_80']:,})")
    for reason, count in report.get("excluded", {}).items():
        lines.append(f"  excluded, {reason}: {count:,}")
    for label, count in report.get("missing_labels", {}).items():
        if count:
            lines.append(f"  label missing, {label}: {count:,}")
    for k, counts in report["groups"].items():
        pairs = ", ".join(f"{lab}: {c:,}" for lab, c in zip(report["group_labels"][k], counts))
        lines.append(f"{k} age groups: {pairs}")
    for key in ("gender", "race"):
        lines.append(f"{key}: " + ", ".join(f"{k}: {v:,}" for k, v in report[key].items()))
    return "\n".join(lines)


def _label_counts(col: pd.Series, names: tuple[str, ...]) -> dict[str, int]:
    values = col.astype("Int64")
    out = {name: int((values == i).sum()) for i, name in enumerate(names)}
    out["missing"] = int(values.isna().sum())
    return out
