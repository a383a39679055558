import numpy as np
import pandas as pd

from helpers.age_groups import age_groups
from helpers.splits import seed_split, split_table


def _table(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"path": [f"f{i}.jpg" for i in range(n)], "age": pd.array(rng.integers(0, 100, n), dtype="Int64")})


def test_seed_split_sizes_range_and_reproducible():
    df = _table()
    a = seed_split(df, n=2000)
    b = seed_split(df, n=2000)
    assert len(a) == 2000
    assert (a["split"] == "val").sum() == 400
    assert a["age"].between(1, 80).all()
    assert a["path"].tolist() == b["path"].tolist()
    assert seed_split(df, n=2000, seed=7)["path"].tolist() != a["path"].tolist()
    # the validation part is the last 20 % of the shuffled draw
    assert (a["split"].iloc[-400:] == "val").all()


def test_seed_split_takes_all_when_fewer():
    df = _table(100)
    out = seed_split(df, n=20000)
    assert len(out) == df["age"].between(1, 80).sum()


def test_stratified_split_keeps_proportions():
    df = _table(5000)
    out = seed_split(df, n=None, stratified=True)
    g = age_groups("10").assign(out["age"].astype(float))
    for k in range(10):
        members = out[g == k]
        share = (members["split"] == "val").mean()
        assert abs(share - 0.2) < 0.02


def test_split_table_counts():
    df = _table(1000)
    out = seed_split(df, n=None)
    table = split_table(out, age_groups("3"))
    assert list(table.columns) == ["train", "val", "total"]
    assert table["total"].sum() == len(out)
    assert table.loc["1-26", "val"] == ((out["split"] == "val") & out["age"].between(1, 26)).sum()
