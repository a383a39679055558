"""The seed's train/validation split, reproducible from one fixed seed.

The seed keeps ages 1-80, draws 20,000 images at random, shuffles them and holds the
last 20 % (4,000) back for validation. ``stratified=True`` instead draws each split with
the same age-group proportions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .age_groups import SEED_AGE_RANGE, AgeGroups, age_groups

SEED = 2021


def seed_split(
    df: pd.DataFrame,
    *,
    n: int | None = 20_000,
    val_fraction: float = 0.2,
    age_range: tuple[int, int] | None = SEED_AGE_RANGE,
    seed: int = SEED,
    stratified: bool = False,
    strata: AgeGroups | None = None,
) -> pd.DataFrame:
    """Rows of ``df`` drawn for the split, with a ``split`` column ('train' or 'val').

    Keeps ages within ``age_range``, draws ``n`` rows (all when fewer are left, or when
    ``n`` is None) with ``seed``, shuffles them and marks the last ``val_fraction`` as
    validation. With ``stratified``, validation takes the same share of every age group
    of ``strata`` (default: the seed's 10 groups).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    pool = df
    if age_range is not None:
        ages = pool["age"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        pool = pool[(ages >= age_range[0]) & (ages <= age_range[1])]
    rng = np.random.default_rng(seed)
    take = len(pool) if n is None else min(n, len(pool))
    drawn = pool.iloc[rng.permutation(len(pool))[:take]].reset_index(drop=True)
    split = np.array(["train"] * len(drawn), dtype=object)
    if stratified:
        groups = (strata or age_groups("10")).assign(drawn["age"].astype("Float64").to_numpy(na_value=np.nan))
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            n_val = int(round(len(members) * val_fraction))
            split[members[len(members) - n_val:]] = "val"
    else:
        n_val = int(round(len(drawn) * val_fraction))
        split[len(drawn) - n_val:] = "val"
    out = drawn.copy()
    out["split"] = split
    return out


def split_table(split_df: pd.DataFrame, groups: AgeGroups) -> pd.DataFrame:
    """Class counts per split: one row per age group, columns train, val and total."""
    g = groups.assign(split_df["age"].astype("Float64").to_numpy(na_value=np.nan))
    table = pd.crosstab(pd.Categorical.from_codes(np.where(g < 0, -1, g), categories=groups.labels),
                        split_df["split"].to_numpy(), dropna=False)
    table = table.reindex(columns=["train", "val"], fill_value=0)
    table.index.name = f"age group ({groups.name})"
    table.columns.name = None
    table["total"] = table.sum(axis=1)
    return table
