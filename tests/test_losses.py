"""Masked losses and loss weighting, against values computed by hand."""
import math

import numpy as np
import pytest

from helpers.age_groups import age_groups
from helpers.losses import (
    FixedWeighting,
    UncertaintyWeighting,
    loss_weighting,
    masked_age_group_crossentropy,
    masked_crossentropy,
    masked_distribution_loss,
    masked_huber,
    masked_ordinal_loss,
)

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], dtype="float32")


def value(x) -> float:
    from keras import ops

    return float(ops.convert_to_numpy(x))


def test_crossentropy_skips_missing_labels():
    # the middle sample has no label: only samples 0 and 2 count, and the mean is over 2
    expected = (-math.log(0.7) - math.log(0.4)) / 2
    assert value(masked_crossentropy(np.array([0, -1, 2]), PROBS)) == pytest.approx(expected, rel=1e-5)


def test_crossentropy_of_no_label_is_zero():
    assert value(masked_crossentropy(np.array([-1, -1, -1]), PROBS)) == 0.0


def test_crossentropy_label_smoothing():
    # targets (1 - 0.3) * one-hot + 0.3 / 3 on each class
    t = np.array([0.8, 0.1, 0.1])
    expected = -(t * np.log(PROBS[0])).sum()
    assert value(masked_crossentropy(np.array([0, -1, -1]), PROBS, label_smoothing=0.3)) == pytest.approx(expected, rel=1e-5)


def test_age_group_crossentropy_maps_years_to_groups():
    groups = age_groups("3")  # 1-26, 27-52, 53-80
    years = np.array([30.0, -1.0, 90.0])  # group 1; missing; outside 1-80: skipped
    assert value(masked_age_group_crossentropy(years, PROBS, groups)) == pytest.approx(-math.log(0.2), rel=1e-5)
    years = np.array([26.0, 27.0, 80.0])  # the edges: groups 0, 1, 2
    expected = -(math.log(0.7) + math.log(0.8) + math.log(0.4)) / 3
    assert value(masked_age_group_crossentropy(years, PROBS, groups)) == pytest.approx(expected, rel=1e-5)


def test_ordinal_loss_by_hand():
    # thresholds 1, 2, 3 (first age 1): age 3 exceeds 1 and 2, not 3
    cumulative = np.array([[0.9, 0.6, 0.2], [0.5, 0.5, 0.5]], dtype="float32")
    years = np.array([3.0, -1.0])
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.8)) / 3
    assert value(masked_ordinal_loss(years, cumulative, first_age=1)) == pytest.approx(expected, rel=1e-5)


def test_distribution_loss_by_hand():
    # one probability per year for ages 1-3; a Gaussian (sigma 1) around age 2
    w = np.exp(-0.5 * np.array([1.0, 0.0, 1.0]))
    target = w / w.sum()
    probs = np.array([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3]], dtype="float32")
    expected = float((target * (np.log(target) - np.log(probs[0]))).sum())
    got = value(masked_distribution_loss(np.array([2.0, -1.0]), probs, first_age=1, sigma=1.0))
    assert got == pytest.approx(expected, rel=1e-4)
    # a perfect prediction has zero divergence
    assert value(masked_distribution_loss(np.array([2.0]), target[None].astype("float32"), 1, 1.0)) == pytest.approx(0, abs=1e-5)


def test_huber_by_hand():
    # errors of 5 and 30 years at scale 10: 0.5 * 0.5^2 (quadratic) and 3 - 0.5 (linear)
    got = value(masked_huber(np.array([20.0, 40.0, -1.0]), np.array([25.0, 10.0, 50.0]), delta=1.0, scale=10.0))
    assert got == pytest.approx((0.125 + 2.5) / 2, rel=1e-5)


def test_fixed_and_equal_weighting():
    losses = {"age": 2.0, "gender": 0.5, "race": 1.0}
    assert value(loss_weighting("equal", losses).combine(losses)) == pytest.approx(3.5)
    fixed = loss_weighting("fixed", losses, {"age": 1.0, "gender": 0.2, "race": 0.5})
    assert isinstance(fixed, FixedWeighting)
    assert value(fixed.combine(losses)) == pytest.approx(2.0 + 0.1 + 0.5)


def test_uncertainty_weighting_by_hand():
    weighting = UncertaintyWeighting(["age", "gender"], regression=["age"])
    assert [w.name for w in weighting.trainable_weights] == ["log_vars"]
    weighting.log_vars.assign(np.array([0.5, -0.2], dtype="float32"))
    losses = {"age": 2.0, "gender": 0.7}
    # regression: 0.5 * exp(-s) * L + s / 2; classification: exp(-s) * L + s / 2
    expected = 0.5 * math.exp(-0.5) * 2.0 + 0.25 + math.exp(0.2) * 0.7 - 0.1
    assert value(weighting.combine(losses)) == pytest.approx(expected, rel=1e-5)
    assert weighting.current_weights() == pytest.approx({"age": 0.5 * math.exp(-0.5), "gender": math.exp(0.2)})


def test_unknown_weighting_is_refused():
    with pytest.raises(ValueError, match="equal, fixed or uncertainty"):
        loss_weighting("magic", ["age"])
    with pytest.raises(ValueError, match="needs weights"):
        loss_weighting("fixed", ["age"])
