import numpy as np
import pytest

from helpers.metrics import (accuracy, balanced_accuracy, bootstrap_interval, by_group, confusion_matrix,
                             cumulative_score, macro_f1, mae)

# a 3-class example worked by hand:
#   true: 0 0 0 0 1 1 2 2 2 2      pred: 0 0 1 2 1 1 2 2 0 -- (last label missing)
T = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, -1])
P = np.array([0, 0, 1, 2, 1, 1, 2, 2, 0, 1])


def test_confusion_matrix_by_hand():
    expected = [[2, 1, 1],
                [0, 2, 0],
                [1, 0, 2]]
    assert confusion_matrix(T, P, 3).tolist() == expected


def test_accuracy_and_balanced_by_hand():
    assert accuracy(T, P) == pytest.approx(6 / 9)
    # recalls: 2/4, 2/2, 2/3
    assert balanced_accuracy(T, P, 3) == pytest.approx((0.5 + 1 + 2 / 3) / 3)


def test_macro_f1_by_hand():
    # class 0: tp 2, support 4, predicted 3 -> F1 = 4/7
    # class 1: tp 2, support 2, predicted 3 -> F1 = 4/5
    # class 2: tp 2, support 3, predicted 3 -> F1 = 4/6
    assert macro_f1(T, P, 3) == pytest.approx((4 / 7 + 4 / 5 + 4 / 6) / 3)


def test_mae_and_cs5_by_hand():
    t = [10, 20, 30, 40, np.nan]
    p = [12, 26, 30, 35, 50]
    assert mae(t, p) == pytest.approx((2 + 6 + 0 + 5) / 4)
    assert cumulative_score(t, p, 5) == pytest.approx(3 / 4)


def test_empty_and_mismatched():
    assert np.isnan(accuracy([-1, -1], [0, 1]))
    with pytest.raises(ValueError, match="length"):
        accuracy([0, 1], [0])


def test_bootstrap_interval_brackets_the_value():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, 400)
    p = np.where(rng.random(400) < 0.8, t, 1 - t)
    lo, hi = bootstrap_interval(accuracy, t, p, n=300)
    value = accuracy(t, p)
    assert lo < value < hi and hi - lo < 0.12
    # a perfect classifier has a degenerate interval
    assert bootstrap_interval(accuracy, t, t, n=50) == (1.0, 1.0)


def test_by_group_and_gap_by_hand():
    race = np.array([0, 0, 1, 1, 1, -1])
    t = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([1, 0, 0, 0, 0, 0])
    table = by_group(accuracy, race, t, p, names=["White", "Black"])
    assert table.loc["White", "value"] == 0.5 and table.loc["Black", "value"] == pytest.approx(2 / 3)
    assert table.loc["all", "n"] == 6 and table.loc["all", "value"] == pytest.approx(4 / 6)
    assert table.attrs["gap"] == pytest.approx(2 / 3 - 0.5)
