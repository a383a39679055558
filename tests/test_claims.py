"""The claims table: cell estimates across seeds and bootstrap, verdicts, one row per claim."""
import numpy as np
import pandas as pd
import pytest

from helpers.claims import (CLAIMS, CONTRADICTED, HOLDS, MISSING, NOT_SHOWN, NOT_TRAINED, cell_estimates, claim_evidence,
                            claims_table, comparisons, verdict)


def _run(dataset, tasks, accs, *, half=0.01, backbone="b0", repeat=0, kind="single", on=None, trained=True):
    """A results row as replicate writes it: accuracies per scheme on one source, with bootstrap intervals."""
    on = on or dataset
    row = {"run": f"{dataset}-{tasks}-{backbone}-r{repeat}", "kind": kind, "dataset": dataset, "tasks": tasks,
           "recipe": "kit", "backbone": backbone, "repeat": repeat, f"{on}_trains_age": trained}
    for scheme, acc in zip(("3", "5", "10"), accs):
        row.update({f"{on}_age_{scheme}": acc, f"{on}_age_{scheme}_low": acc - half,
                    f"{on}_age_{scheme}_high": acc + half})
    return row


def test_a_cell_combines_the_seeds_spread_with_the_bootstrap():
    rows = [_run("utkface", "age", (a, a - 0.1, a - 0.3), repeat=k) for k, a in enumerate((0.70, 0.72, 0.74))]
    est = cell_estimates(pd.DataFrame(rows)).set_index("scheme")
    three = est.loc["3"]
    assert three["n"] == 3 and three["accuracy"] == pytest.approx(0.72)
    assert three["seed_sd"] == pytest.approx(0.02)
    # Student t with 2 degrees of freedom: 4.303 * 0.02 / sqrt(3) = 0.0497; bootstrap half-width 0.01
    half = np.hypot(4.302653 * 0.02 / np.sqrt(3), 0.01)
    assert three["low"] == pytest.approx(0.72 - half, abs=1e-5) and three["high"] == pytest.approx(0.72 + half, abs=1e-5)
    one = cell_estimates(pd.DataFrame(rows[:1])).set_index("scheme").loc["3"]
    assert one["n"] == 1 and one["low"] == pytest.approx(0.69) and one["high"] == pytest.approx(0.71)


def test_verdicts_need_intervals_apart():
    a, b, c = (pd.Series({"low": lo, "high": hi}) for lo, hi in ((0.70, 0.74), (0.60, 0.65), (0.72, 0.80)))
    assert verdict(a, b, ">") == HOLDS and verdict(b, a, ">") == CONTRADICTED and verdict(a, c, ">") == NOT_SHOWN
    assert verdict(b, a, "<") == HOLDS and verdict(a, c, "~") == HOLDS and verdict(a, b, "~") == CONTRADICTED
    assert verdict(None, a, ">") == MISSING


def _grid():
    rows = []
    for k in range(3):
        rows += [_run("utkface", "age", (0.72, 0.66, 0.45), repeat=k),
                 _run("utkface", "age+gender", (0.715, 0.655, 0.44), repeat=k),  # within noise of age
                 _run("utkface", "age+gender+race", (0.80, 0.70, 0.50), repeat=k),  # clearly above age
                 _run("wiki", "age", (0.60, 0.50, 0.30), repeat=k),
                 _run("wiki", "age+gender", (0.50, 0.40, 0.20), repeat=k)]  # clearly below: not "about equal"
        mix = _run("mix-paper", "age+gender+race", (0.55, 0.45, 0.25), repeat=k, kind="multi", on="wiki")
        mix.update({k2: v for k2, v in _run("mix-paper", "age+gender+race", (0.40, 0.30, 0.15), kind="multi",
                                            on="utkface", trained=False).items() if k2.startswith("utkface")})
        rows.append(mix)
    rows.append(_run("utkface", "age+gender+race", (0.805, 0.705, 0.505), backbone="b1"))
    return pd.DataFrame(rows)


def test_every_claim_gets_a_verdict_from_the_comparisons():
    table = claims_table(_grid()).set_index("claim")
    assert len(table) == len(CLAIMS)
    verdicts = dict(zip([c.key for c in CLAIMS], table["verdict"]))
    assert verdicts["granularity"] == HOLDS
    assert verdicts["utkface_race_helps"] == HOLDS
    assert verdicts["utkface_gender_hurts"] == NOT_SHOWN  # 0.72 vs 0.715: within noise
    assert verdicts["wiki_gender_neutral"] == CONTRADICTED  # 0.60 vs 0.50: apart
    assert verdicts["utkface_beats_wiki"] == HOLDS
    # on wiki faces the mix (0.55) is above wiki age+gender (0.50): not the worst
    assert verdicts["mix_worst"] == CONTRADICTED
    assert verdicts["backbones_alike"] == NOT_TRAINED  # never a "holds": its evidence is B4 against itself
    measured = table.loc[CLAIMS[1].text, "kit's measurement"]
    assert "0.800 [" in measured and "(3 seeds)" in measured


def test_claims_without_their_runs_say_so():
    only = _grid().query("dataset == 'utkface' and backbone == 'b0'")
    table = claims_table(only)
    verdicts = dict(zip([c.key for c in CLAIMS], table["verdict"]))
    assert verdicts["wiki_gender_neutral"] == MISSING and verdicts["utkface_race_helps"] == HOLDS
    rows = comparisons(only)
    assert (rows.loc[rows["claim"] == "utkface_beats_wiki", "verdict"] == MISSING).all()


def test_the_headline_is_the_best_backbones_mean_over_its_seeds():
    from helpers.replication import headline_table

    table = headline_table(_grid())
    assert table.loc["3", "paper"] == 0.7165 and table.loc["3", "kit backbone"] == "B1"  # 0.805 (one seed) > 0.800
    b0 = headline_table(_grid().query("backbone == 'b0'"))
    assert b0.loc["3", "kit"] == pytest.approx(0.80) and b0.loc["3", "kit seeds"] == 3
    assert b0.loc["10", "kit 95% interval"] == "0.490-0.510"


def test_an_about_equal_claim_that_holds_says_how_wide_its_intervals_are():
    rows = [_run("wiki", tasks, (0.60, 0.50, 0.30), half=0.04, repeat=k) for k in range(2)
            for tasks in ("age", "age+gender")]
    table = claims_table(pd.DataFrame(rows)).set_index("claim")
    neutral = table.loc[next(c.text for c in CLAIMS if c.key == "wiki_gender_neutral")]
    assert neutral["verdict"] == HOLDS
    assert "no difference is measured" in neutral["why"] and "up to 0.08 wide" in neutral["why"]


def test_a_chapter_gets_the_comparisons_behind_the_claims_it_asks_for():
    grid = _grid()
    rows = claim_evidence(grid, ["utkface_gender_hurts", "wiki_gender_neutral"])
    assert set(rows.index) == {"utkface_gender_hurts", "wiki_gender_neutral"}
    assert len(rows) == 6 and list(rows["scheme"].unique()) == ["3", "5", "10"]
    hurts = rows.loc["utkface_gender_hurts"]
    assert (hurts["a"] == "utkface age").all() and (hurts["verdict"] == NOT_SHOWN).all()
    assert (rows.loc["wiki_gender_neutral", "verdict"] == CONTRADICTED).all()
    one = claim_evidence(grid, "mix_worst")
    assert set(one.index) == {"mix_worst"} and "on wiki faces" in one["a"].iloc[0]
    with pytest.raises(ValueError, match="unknown claim 'gender_hurts'.*granularity"):
        claim_evidence(grid, ["gender_hurts"])
    assert claim_evidence(grid.iloc[:0], "granularity").empty
