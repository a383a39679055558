"""The full evaluation of a predictions table, every number checked against a hand computation."""
import numpy as np
import pandas as pd
import pytest

from helpers.scorecard import (age_year_scores, confusion_table, error_scaling, error_scaling_figure, fairness_table,
                               mae_for, scorecard, served_keys, source_scores, task_scores, trained_view)

# Six validation faces worked by hand (the last one has no known age, the fifth no gender):
#   age     5  30  60  70  20  nan      3 groups (1-26, 27-52, 53-80): 0 1 2 2 0 -
#   years  10  30  50  71  26   40      predicted 3-group:              0 1 1 2 1 0
#   gender  0   1   0   1  -1    0      predicted:                      0 1 1 1 0 0
#   race    0   1   2   2   1   -1      predicted:                      0 1 2 0 1 3
PRED = pd.DataFrame({
    "path": [f"f{i}.jpg" for i in range(6)],
    "source": ["utkface", "utkface", "utkface", "wiki", "wiki", "wiki"],
    "age": [5, 30, 60, 70, 20, np.nan],
    "gender": [0, 1, 0, 1, -1, 0],
    "race": [0, 1, 2, 2, 1, -1],
    "trained_age": [True, True, True, True, True, True],
    "trained_gender": [True] * 6,
    "trained_race": [True] * 6,
    "pred_years": [10, 30, 50, 71, 26, 40],
    "pred_age_3": [0, 1, 1, 2, 1, 0],
    "pred_gender": [0, 1, 1, 1, 0, 0],
    "pred_race": [0, 1, 2, 0, 1, 3],
})


def test_task_scores_by_hand():
    scores = task_scores(PRED, n_boot=200)
    assert served_keys(PRED) == ["age_3", "gender", "race"]
    age = scores.loc["age_3"]
    assert age["n"] == 5
    assert age["accuracy"] == pytest.approx(3 / 5)  # rows 1, 2 and 4 right
    # recalls: group 0: 1 of 2, group 1: 1 of 1, group 2: 1 of 2
    assert age["balanced_accuracy"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    # F1: group 0: tp 1, support 2, predicted 1 -> 2/3; group 1: tp 1, 1, 3 -> 1/2; group 2: tp 1, 2, 1 -> 2/3
    assert age["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert age["low"] <= age["accuracy"] <= age["high"]
    assert scores.loc["gender", "accuracy"] == pytest.approx(4 / 5)
    # race: 5 known, right for rows 0, 1, 2, 4
    assert scores.loc["race", "accuracy"] == pytest.approx(4 / 5)
    # race recalls over the classes present: White 1/1, Black 2/2, Asian 1/2
    assert scores.loc["race", "balanced_accuracy"] == pytest.approx((1 + 1 + 1 / 2) / 3)


def test_age_in_years_by_hand():
    years = age_year_scores(PRED)
    # errors 5, 0, 10, 1, 6 (the sixth age is unknown)
    assert years["n"] == 5
    assert years["mae"] == pytest.approx(22 / 5)
    assert years["cs5"] == pytest.approx(3 / 5)  # 5, 0 and 1 are within 5 years


def test_confusion_table_has_names():
    table = confusion_table(PRED, "age_3")
    assert list(table.index) == ["1-26", "27-52", "53-80"]
    assert table.to_numpy().tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 1]]


def test_fairness_by_gender_by_hand():
    table = fairness_table(PRED, "gender", min_count=1)
    # male rows 0, 2, 5: MAE over 0 and 2 (5 and 10) = 7.5; female rows 1, 3: (0 + 1) / 2 = 0.5
    assert table.loc["male", "mae"] == pytest.approx(7.5)
    assert table.loc["female", "mae"] == pytest.approx(0.5)
    assert table.loc["gap", "mae"] == pytest.approx(7.0)
    assert table.loc["all", "mae"] == pytest.approx(22 / 5)
    # 3-group accuracy: male rows 0 (right) and 2 (wrong) -> 0.5; female rows 1, 3 both right -> 1.0
    assert table.loc["male", "age_3"] == pytest.approx(0.5)
    assert table.loc["female", "age_3"] == pytest.approx(1.0)
    assert table.loc["gap", "age_3"] == pytest.approx(0.5)
    # CS@5: male 5 (yes), 10 (no) -> 0.5; female 0, 1 -> 1.0
    assert table.loc["male", "cs5"] == pytest.approx(0.5)
    assert table.attrs["worst"]["mae"] == "male" and table.attrs["worst"]["age_3"] == "male"
    assert table.loc["male", "n"] == 3 and table.loc["female", "n"] == 2
    assert {"age_3_balanced", "age_3_f1"} <= set(table.columns)


def test_small_groups_are_left_out_of_the_gap():
    table = fairness_table(PRED, "race", min_count=2)
    # White has one face and Others none: only Black (rows 1, 4) and Asian (rows 2, 3) have two
    assert set(table.index) == {"Black", "Asian", "all", "gap"}
    # MAE Black: (0 + 6) / 2 = 3; Asian: (10 + 1) / 2 = 5.5
    assert table.loc["gap", "mae"] == pytest.approx(2.5)


def test_trained_view_hides_what_a_mix_did_not_train():
    pred = PRED.assign(trained_age=[False, False, False, True, True, True],
                       trained_race=[True, True, True, False, False, False])
    view = trained_view(pred)
    assert view["age"].isna().sum() == 4  # three hidden plus the unknown one
    assert (view["race"].iloc[3:] == -1).all() and (view["race"].iloc[:3] >= 0).all()
    assert PRED["age"].isna().sum() == 1  # the input is left alone
    scores = task_scores(view, n_boot=50)
    assert scores.loc["age_3", "n"] == 2 and scores.loc["age_3", "accuracy"] == pytest.approx(1 / 2)


def test_source_scores_split_by_source_and_say_what_was_trained():
    pred = PRED.assign(trained_age=[False, False, False, True, True, True])
    table = source_scores(pred, n_boot=50)
    # utkface rows 0-2: 3-group right for rows 0, 1 -> 2/3; wiki rows 3, 4 known: row 3 right -> 1/2
    assert table.loc[("utkface", "age_3"), "value"] == pytest.approx(2 / 3)
    assert table.loc[("wiki", "age_3"), "value"] == pytest.approx(1 / 2)
    assert not table.loc[("utkface", "age_3"), "trained"] and table.loc[("wiki", "age_3"), "trained"]
    assert table.loc[("utkface", "mae"), "value"] == pytest.approx(15 / 3)


def test_bootstrap_interval_of_a_perfect_model_is_a_point():
    pred = PRED.assign(pred_age_3=[0, 1, 2, 2, 0, 1])
    scores = task_scores(pred, n_boot=100)
    assert (scores.loc["age_3", ["accuracy", "low", "high"]] == 1.0).all()


def test_scorecard_is_flat_and_complete():
    card = scorecard(PRED, n_boot=100, min_count=1)
    assert card["age_3"] == pytest.approx(0.6) and card["cs5"] == pytest.approx(0.6)
    assert card["mae"] == pytest.approx(4.4)
    assert card["mae_gap_gender"] == pytest.approx(7.0)
    for key in ("age_3_low", "age_3_high", "age_3_balanced", "age_3_f1", "gender_f1", "race_balanced",
                "age_3_gap_race", "cs5_gap_race", "n"):
        assert key in card
    assert "age_10" not in card  # the 10 groups are not served by this table


# Two faces whose errors cross the 27-year edge of the 3 groups, and one without a known age:
#   scale 1:   years 30, 20 -> groups 1, 0 against 0, 1: both wrong, MAE 10
#   scale 0.5: years 25, 25 -> groups 0, 0: the first right, MAE 5
#   scale 0:   the true ages: both right, MAE 0
SCALED = pd.DataFrame({"age": [20, 30, np.nan], "pred_years": [30, 20, 40]})


def test_error_scaling_by_hand():
    table = error_scaling(SCALED, scales=(1, 0.5, 0))
    assert list(table.index) == [1.0, 0.5, 0.0]
    assert table["mae"].tolist() == pytest.approx([10, 5, 0])
    assert table["age_3"].tolist() == pytest.approx([0, 0.5, 1])
    # 10 groups (edges ... 17, 25, 33 ...): 20 and 30 sit in groups 2 and 3; at scale 0.5 both are 25 (group 3)
    assert table["age_10"].tolist() == pytest.approx([0, 0.5, 1])


def test_error_scaling_keeps_the_years_in_range_and_refuses_bad_input():
    far = pd.DataFrame({"age": [75.0], "pred_years": [79.0]})
    assert error_scaling(far, scales=(3,))["age_3"].iloc[0] == 1.0  # 75 + 3 * 4 = 87 counts as 80, the oldest group
    with pytest.raises(ValueError, match="scale -1"):
        error_scaling(SCALED, scales=(-1,))
    with pytest.raises(ValueError, match="no face"):
        error_scaling(pd.DataFrame({"age": [np.nan], "pred_years": [30.0]}))


def test_mae_for_reads_between_rows():
    table = error_scaling(SCALED, scales=(1, 0.5, 0))
    assert mae_for(table, "age_3", 0.5) == pytest.approx(5)
    assert mae_for(table, "age_3", 0.75) == pytest.approx(2.5)
    assert mae_for(table, "age_3", 0.0) == pytest.approx(10)  # met already at the model's own errors
    assert np.isnan(mae_for(error_scaling(SCALED, scales=(1, 0.5)), "age_3", 0.9))


def test_error_scaling_figure_draws_curve_runs_and_target():
    table = error_scaling(SCALED, scales=(1, 0.5, 0))
    runs = pd.DataFrame({"mae": [7.0], "age_3": [0.7]}, index=["baseline"])
    fig = error_scaling_figure(table, runs=runs, target=0.8)
    ax = fig.axes[0]
    assert "baseline (measured)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(line.get_ydata()[0] == 0.8 for line in ax.lines)
