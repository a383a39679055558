import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from helpers.age_groups import age_groups
from helpers.plots import age_histogram, group_counts_figure, group_counts_table, image_grid, majority_baseline


def _df(ages):
    return pd.DataFrame({"age": pd.array(ages, dtype="Int64")})


def test_group_counts_table_and_baseline():
    df = _df([5, 30, 31, 60, 90])
    table = group_counts_table({"a": df}, age_groups("3"))
    assert table["a"].tolist() == [1, 2, 1]
    assert table["a %"].tolist() == [25.0, 50.0, 25.0]
    assert majority_baseline(df, age_groups("3")) == 0.5


def test_figures_build():
    df = _df([5, 30, 31, 60, 90])
    assert len(group_counts_figure({"a": df, "b": df}, [age_groups("3"), age_groups("5")]).axes) == 2
    assert age_histogram({"a": df}).axes[0].get_xlabel() == "age (years)"
    grid = image_grid(np.zeros((7, 4, 4, 3), np.uint8), titles=list("abcdefg"), ncols=3)
    assert len(grid.axes) == 9
