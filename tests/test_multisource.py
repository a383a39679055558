import numpy as np
import pandas as pd
import pytest

from helpers.multisource import label_coverage, mix_sources


def _table(source, n, race=True, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "path": [f"{source}/{i}.jpg" for i in range(n)],
        "age": pd.array(rng.integers(1, 81, n), dtype="Int64"),
        "gender": pd.array(rng.integers(0, 2, n), dtype="Int64"),
        "race": pd.array(rng.integers(0, 5, n) if race else [pd.NA] * n, dtype="Int64"),
        "source": source,
    })


def test_paper_mix_masks_labels_per_source():
    tables = {"utkface": _table("utkface", 300), "wiki": _table("wiki", 200, race=False)}
    mixed = mix_sources(tables, "paper", n_per_source=150)
    utk = mixed[mixed["source"] == "utkface"]
    wiki = mixed[mixed["source"] == "wiki"]
    assert len(utk) == 150 and len(wiki) == 150
    assert utk["age"].isna().all() and utk["gender"].isna().all() and utk["race"].notna().all()
    assert wiki["age"].notna().all() and wiki["gender"].notna().all() and wiki["race"].isna().all()
    assert utk["age_years"].notna().all()  # the true age stays for evaluation
    cov = label_coverage(mixed)
    assert cov.loc[("utkface", "val"), "race"] == 30 and cov.loc[("utkface", "val"), "age"] == 0
    assert cov.loc[("wiki", "train"), "age"] == 120


def test_full_mix_keeps_utkface_labels():
    tables = {"utkface": _table("utkface", 100), "wiki": _table("wiki", 100, race=False)}
    mixed = mix_sources(tables, "full", n_per_source=None)
    utk = mixed[mixed["source"] == "utkface"]
    assert utk[["age", "gender", "race"]].notna().all().all()


def test_bad_mix_is_clear():
    with pytest.raises(ValueError, match="without a table"):
        mix_sources({"utkface": _table("u", 10)}, "paper")
    with pytest.raises(ValueError, match="unknown tasks"):
        mix_sources({"utkface": _table("u", 10)}, {"utkface": ("height",)})
