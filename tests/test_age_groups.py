import numpy as np
import pytest

from helpers.age_groups import age_groups


@pytest.mark.parametrize(
    "scheme,young,old,young_group",
    [
        ("3", 26, 27, 0), ("3", 52, 53, 1),
        ("5", 11, 12, 0), ("5", 23, 24, 1), ("5", 39, 40, 2), ("5", 55, 56, 3),
        ("10", 8, 9, 0), ("10", 16, 17, 1), ("10", 24, 25, 2), ("10", 32, 33, 3), ("10", 40, 41, 4),
        ("10", 48, 49, 5), ("10", 56, 57, 6), ("10", 64, 65, 7), ("10", 72, 73, 8),
    ],
)
def test_seed_boundaries(scheme, young, old, young_group):
    g = age_groups(scheme).assign([young, old])
    assert g.tolist() == [young_group, young_group + 1]


def test_labels_centres_and_range():
    g3 = age_groups("3")
    assert g3.labels == ["1-26", "27-52", "53-80"]
    assert g3.centres.tolist() == [13.5, 39.5, 66.5]
    g10 = age_groups("10")
    assert g10.n == 10 and g10.labels[0] == "1-8" and g10.labels[-1] == "73-80"
    assert age_groups("5").labels == ["1-11", "12-23", "24-39", "40-55", "56-80"]


def test_outside_range_and_missing_are_minus_one():
    g = age_groups("3").assign([0, 1, 80, 81, np.nan, 116])
    assert g.tolist() == [-1, 0, 2, -1, -1, -1]


def test_per_year_and_custom():
    year = age_groups("year")
    assert year.n == 80 and year.labels[:2] == ["1", "2"]
    assert year.assign([1, 27, 80]).tolist() == [0, 26, 79]
    assert year.centres[26] == 27
    custom = age_groups("decades", edges=[0, 10, 20, 101])
    assert custom.labels == ["0-9", "10-19", "20-100"]
    assert custom.assign([9, 10, 100, 101]).tolist() == [0, 1, 2, -1]
    assert custom.counts([1, 2, 15, 50]) == [2, 1, 1]


def test_bad_edges_and_scheme():
    with pytest.raises(ValueError):
        age_groups(edges=[5, 5, 10])
    with pytest.raises(ValueError):
        age_groups("7")
