"""Training sets that mix sources with different labels.

Each source keeps only the labels it is asked to contribute; the others become missing and
drop out of that task's loss. The paper's mix: IMDB-WIKI faces teach age and gender, UTKFace
faces teach race only.
"""
from __future__ import annotations

import pandas as pd

from .splits import SEED, seed_split

#: The paper's multi-source experiment: which labels each source contributes.
PAPER_MIX: dict[str, tuple[str, ...]] = {"wiki": ("age", "gender"), "utkface": ("race",)}
#: A better-designed mix: UTKFace with every label, wiki adds age and gender.
FULL_MIX: dict[str, tuple[str, ...]] = {"utkface": ("age", "gender", "race"), "wiki": ("age", "gender")}
MIXES = {"paper": PAPER_MIX, "full": FULL_MIX}
TASKS = ("age", "gender", "race")


def mix_sources(
    tables: dict[str, pd.DataFrame],
    mix: dict[str, tuple[str, ...]] | str = "paper",
    *,
    n_per_source: int | None = 20_000,
    val_fraction: float = 0.2,
    seed: int = SEED,
) -> pd.DataFrame:
    """One table of every source's seed split, with labels outside ``mix[source]`` masked.

    ``tables`` maps a source name to its index (``index_utkface``, ``index_imdb_wiki``).
    Each source is split on its own (ages 1-80, ``n_per_source`` drawn), so validation can be
    reported per source. The ``age_years`` column keeps the true age for evaluation even where
    the age label is masked for training.
    """
    mix = MIXES[mix] if isinstance(mix, str) else mix
    unknown = set(mix) - set(tables)
    if unknown:
        raise ValueError(f"the mix names sources without a table: {sorted(unknown)}; have {sorted(tables)}")
    parts = []
    for source, tasks in mix.items():
        bad = set(tasks) - set(TASKS)
        if bad:
            raise ValueError(f"{source}: unknown tasks {sorted(bad)}; choose from {TASKS}")
        part = seed_split(tables[source], n=n_per_source, val_fraction=val_fraction, seed=seed)
        part["age_years"] = part["age"]
        for task in TASKS:
            if task not in tasks:
                part[task] = pd.array([pd.NA] * len(part), dtype="Int64")
        part["source"] = source
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def label_coverage(mixed: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows per source, split and task: shows what each loss actually learns from."""
    counts = mixed.groupby(["source", "split"])[list(TASKS)].count()
    counts["rows"] = mixed.groupby(["source", "split"]).size()
    return counts
