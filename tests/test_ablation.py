"""The accuracy ablation: arms that differ from the baseline in one setting, on the same faces,
trained once, scored on UTKFace with intervals, and resumed rather than redone."""
import json

import pandas as pd
import pytest

from helpers.ablation import ARM_NOTES, ARMS, KEYS, ablate, arm_config


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from helpers.sample import make_sample

    root = make_sample(tmp_path_factory.mktemp("sample"), n_utkface=40, n_wiki=40)
    return {"utkface": str(root / "UTKFace"), "wiki": str(root / "wiki_crop")}


def test_each_arm_changes_one_thing_and_keeps_the_faces_and_schedule(sample):
    from helpers.training import config_changes

    base = arm_config("baseline", sources=sample)
    assert (base["image_size"], base["epochs"], base["batch_size"], base["age_groups"]) == (64, 12, 128, "year")
    assert base["weights"] is None and base["tasks"] == ["age", "gender", "race"]
    for arm in ("mixup", "cutmix", "ema", "stochastic-depth", "erasing", "progressive"):
        config = arm_config(arm, sources=sample)
        assert set(config_changes(base, config)) <= {"recipe", "model"}, arm  # same faces, same schedule
        changed = {k for k, v in config["recipe"].items() if base["recipe"].get(k) != v} - {"name"}
        assert len(changed) == 1, (arm, changed)
        assert config["recipe"]["name"].startswith("kit+"), arm  # no table takes it for the kit recipe
    assert arm_config("erasing", sources=sample)["model"]["augmentation"]["erasing"] == 0.25
    seed2 = arm_config("baseline-seed2", sources=sample)
    assert config_changes(base, seed2) == ["train_seed"] and seed2["recipe"] == base["recipe"]
    mix = arm_config("more-faces", sources=sample)
    assert mix["dataset"] == "mix-full" and mix["recipe"] == base["recipe"]
    # twice the faces for half the epochs: the same steps, learning-rate curve length and CPU time
    assert mix["epochs"] == base["epochs"] // 2 == 6
    assert arm_config("more-faces", sources=sample, epochs=30)["epochs"] == 15
    with pytest.raises(ValueError, match="unknown arm"):
        arm_config("dropout")
    assert set(ARMS) >= {"baseline", "more-faces"}
    assert list(ARM_NOTES) == list(ARMS)  # every arm says what it changes, in the order the screen runs them


def test_a_joined_arm_makes_both_changes_and_says_so(sample):
    from helpers.ablation import arm_note

    both = arm_config("mixup+ema", sources=sample)
    assert (both["recipe"]["mixup"], both["recipe"]["ema"]) == (0.2, 0.995)
    assert "mixup" in both["recipe"]["name"] and "ema" in both["recipe"]["name"]
    assert arm_note("mixup+ema") == f"{ARM_NOTES['mixup']}; {ARM_NOTES['ema']}"
    wider = arm_config("more-faces+stochastic-depth", sources=sample)
    assert wider["dataset"] == "mix-full" and wider["recipe"]["drop_connect"] == 0.4
    for bad in ("mixup+dropout", "baseline+mixup", "mixup+"):
        with pytest.raises(ValueError, match="unknown arm"):
            arm_config(bad)


def test_ablate_trains_each_arm_once_and_scores_them_on_utkface(sample, tmp_path, capsys):
    out = tmp_path / "ablation"
    scale = dict(profile="smoke", sources=sample, image_size=32, epochs=1, batch_size=8, n_images=40)
    table = ablate(["mixup", "more-faces"], out=out, verbose=0, **scale)
    assert list(table.index) == ["baseline", "mixup", "more-faces"]  # the baseline always comes along
    for key in KEYS:
        assert table[key].notna().all(), key
    assert (table["age_10_low"] <= table["age_10"]).all() and (table["age_10"] <= table["age_10_high"]).all()
    assert table.loc["baseline", "age_10_change"] == 0 and table.loc["baseline", "age_10_verdict"] == "within noise"
    for key in KEYS:  # the paired interval holds the change
        assert (table[f"{key}_change_low"] <= table[f"{key}_change"] + 1e-12).all()
        assert (table[f"{key}_change"] <= table[f"{key}_change_high"] + 1e-12).all()
    assert table.loc["more-faces", "n_train"] > table.loc["baseline", "n_train"]  # the mix adds wiki faces
    # the mix is scored on the UTKFace faces the baseline validates on, not on its wiki ones
    scored = pd.read_csv(out / "runs" / "more-faces" / "predictions.csv")
    base = pd.read_csv(out / "runs" / "baseline" / "predictions.csv")
    assert set(base["path"].map(lambda p: p.split("/")[-1])) <= set(scored["path"].map(lambda p: p.split("/")[-1]))
    report = (out / "report.md").read_text()
    assert "## Against the baseline" in report and "| mixup |" in report
    assert pd.read_csv(out / "ablation.csv", index_col="arm").index.tolist() == list(table.index)
    stamps = {arm: (out / "runs" / arm / "state.json").stat().st_mtime_ns for arm in table.index}
    again = ablate(["mixup", "more-faces"], out=out, verbose=0, **scale)  # finished arms are not redone
    assert {arm: (out / "runs" / arm / "state.json").stat().st_mtime_ns for arm in again.index} == stamps
    recorded = json.loads((out / "runs" / "mixup" / "config.json").read_text())["recipe"]
    assert recorded["mixup"] == 0.2
    # one arm asked for again: the folder's table keeps its other finished arms, in the screen's order
    import shutil

    shutil.copytree(out / "runs" / "mixup", out / "runs" / "ema")  # a folder of another run than ema's: left out
    named = ablate(["mixup"], out=out, verbose=0, **scale)
    assert list(named.index) == ["baseline", "mixup", "more-faces"] and named.attrs["failed"] == {}
    shutil.rmtree(out / "runs" / "ema")
    assert pd.read_csv(out / "ablation.csv", index_col="arm").index.tolist() == list(named.index)
    # an arm trained alone, on another schedule: the folder's table keeps every finished arm at this size,
    # whatever their epochs, and the baseline among them still gives the paired changes
    longer = ablate(["ema"], out=out, baseline=False, verbose=0, **{**scale, "epochs": 2})
    assert list(longer.index) == ["baseline", "mixup", "ema", "more-faces"] and longer.attrs["failed"] == {}
    assert longer.loc["ema", "epochs"] == 2 and longer.loc["baseline", "epochs"] == 1
    assert longer["age_10_change"].notna().all()
    assert longer.loc["ema", "change"].endswith("; 2 epochs, the baseline's 1")  # not the change alone
    assert longer.loc["more-faces", "change"] == ARM_NOTES["more-faces"]  # its 1 epoch of the mix is the baseline's 1
    assert "32 px, 1–2 epochs (an arm on another schedule" in (out / "report.md").read_text()
    assert ablate(["mixup"], out=out, verbose=0, train=False, **scale).index.tolist() == list(longer.index)
    shutil.rmtree(out / "runs" / "ema")
    # confirming a winner whose baseline is known elsewhere: no baseline in its folder, no paired changes
    alone = ablate(["mixup"], out=tmp_path / "alone", baseline=False, verbose=0, **scale)
    assert list(alone.index) == ["mixup"] and "age_10_change" not in alone
    alone_report = (tmp_path / "alone" / "report.md").read_text()
    assert "No baseline among these arms" in alone_report and "| mixup |" in alone_report  # its figures still shown
    # an average of two finished arms joins the table at its members' cost, and is set against each member
    import shutil

    from helpers.ensemble import ensemble_run

    ensemble_run([out / "runs" / "baseline", out / "runs" / "mixup"], out / "ensembles" / "avg", progress=False)
    moved = tmp_path / "moved"  # the folders travel together (a clone): the average finds its members beside it
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    table = ablate(["mixup"], out=moved, train=False, verbose=0, **scale)
    assert list(table.index) == ["baseline", "mixup", "more-faces", "avg"]
    assert table.loc["avg", "change"] == "the mean of the answers of baseline and mixup (no training of its own)"
    minutes = table.loc["baseline", "train_minutes"] + table.loc["mixup", "train_minutes"]
    assert abs(table.loc["avg", "train_minutes"] - minutes) <= 0.15  # each rounded to 0.1
    report = (moved / "report.md").read_text()
    assert "## Averages against their members" in report
    assert "| avg | baseline |" in report and "| avg | mixup |" in report
    # the same tables read back without training or writing anything (what the course chapter shows)
    from helpers.ablation import change_figure, read_ablation

    written = {p: p.stat().st_mtime_ns for p in moved.rglob("*")}
    again, members = read_ablation(moved)
    assert list(again.index) == ["baseline", "mixup", "more-faces", "avg"]  # every finished arm, in the screen's order
    assert list(members["member"]) == ["baseline", "mixup"]
    assert {p: p.stat().st_mtime_ns for p in moved.rglob("*")} == written
    figure = change_figure(again, "mae")
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["avg", "more-faces", "mixup"]  # the baseline is the zero
    assert change_figure(alone, "mae") is None  # no baseline, no changes to draw
    # a finished arm that lost its predictions is left out with a message, and nothing is written
    (moved / "runs" / "more-faces" / "predictions.csv").unlink()
    written = {p: p.stat().st_mtime_ns for p in moved.rglob("*")}
    capsys.readouterr()
    partial, _ = read_ablation(moved)
    assert list(partial.index) == ["baseline", "mixup", "avg"]
    assert "more-faces: left out of the table" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in moved.rglob("*")} == written
    with pytest.raises(FileNotFoundError, match="not an ablation folder"):
        read_ablation(tmp_path / "nothing")


def test_a_paired_change_resamples_faces_together_and_says_which_way_it_went():
    import numpy as np

    from helpers.ablation import change_verdict, paired_change

    faces = [f"{i}.jpg" for i in range(400)]
    base = pd.Series(np.tile([1.0, 0.0], 200), index=faces)
    better = base.copy()
    better.iloc[1:81:2] = 1.0  # 40 more right answers out of 400, the rest the same
    change, low, high = paired_change(base, better)
    assert change == pytest.approx(0.1) and 0 < low < 0.1 < high
    assert change_verdict(low, high) == "better" and change_verdict(-high, -low) == "worse"
    assert change_verdict(low, high, lower_is_better=True) == "worse"  # an error that grew
    assert change_verdict(-0.01, 0.02) == "within noise"
    # faces scored by one side only, or unlabelled (NaN), are left out
    other = pd.Series([1.0, np.nan], index=["elsewhere.jpg", "0.jpg"])
    assert np.isnan(paired_change(base, other)[0])


def test_a_change_no_larger_than_the_second_seeds_is_training_noise():
    from helpers.ablation import beyond_training_noise

    arms = ["baseline", "baseline-seed2", "mixup", "ema"]
    table = pd.DataFrame(index=pd.Index(arms, name="arm"))
    for key in KEYS:
        table[f"{key}_change"] = [0.0, 0.02, 0.03, 0.01]
        table[f"{key}_verdict"] = ["within noise", "better", "better", "better"]
    table.loc["ema", "mae_change"], table.loc["ema", "mae_verdict"] = -0.5, "better"  # MAE: years, its own scale
    table.loc["baseline-seed2", "mae_change"] = 0.3
    kept = beyond_training_noise(table)
    assert kept.loc["mixup", "age_3_verdict"] == "better"  # 0.03 moved further than the second seed's 0.02
    assert kept.loc["ema", "age_3_verdict"] == "within training noise"  # 0.01 did not
    assert kept.loc["ema", "mae_verdict"] == "better"  # 0.5 years against the second seed's 0.3
    # the reseeded baseline is no change: where the faces' interval alone calls it better, that is training noise
    assert kept.loc["baseline-seed2", "age_3_verdict"] == "training noise (the faces alone would say better)"
    assert table.loc["ema", "age_3_verdict"] == "better"  # the table given is not changed
    assert beyond_training_noise(table.drop(index="baseline-seed2")).equals(table.drop(index="baseline-seed2"))


def test_an_arm_can_start_from_a_model_trained_on_the_mix_first(sample, tmp_path, capsys):
    import shutil

    from helpers.training import config_changes

    with pytest.raises(ValueError, match="init_from"):
        arm_config("more-faces-first", sources=sample)  # it needs the model it starts from
    with pytest.raises(ValueError, match="not both"):
        arm_config("more-faces+more-faces-first", sources=sample)
    out = tmp_path / "ablation"
    scale = dict(profile="smoke", sources=sample, image_size=32, epochs=2, batch_size=8, n_images=40)
    table = ablate(["more-faces", "more-faces-first"], out=out, verbose=0, **scale)
    assert list(table.index) == ["baseline", "more-faces", "more-faces-first"]
    first = out / "pretraining" / "full"  # the first run is more-faces' run: copied, not trained again
    assert json.loads((first / "config.json").read_text())["dataset"] == "mix-full"
    assert (pd.read_csv(first / "history.csv")["seconds"] ==
            pd.read_csv(out / "runs" / "more-faces" / "history.csv")["seconds"]).all()
    base = json.loads((out / "runs" / "baseline" / "config.json").read_text())
    arm = json.loads((out / "runs" / "more-faces-first" / "config.json").read_text())
    assert config_changes(base, arm) == ["init_from"]  # then the baseline's faces, recipe and schedule
    assert arm["init_from"] == str((first / "best.keras").resolve())
    first_minutes = pd.read_csv(first / "history.csv")["seconds"].sum() / 60
    own_minutes = json.loads((out / "runs" / "more-faces-first" / "metrics.json").read_text())["train_seconds"] / 60
    minutes = table.loc["more-faces-first", "train_minutes"]
    assert abs(minutes - (own_minutes + first_minutes)) <= 0.1
    assert "its minutes include that first run's" in table.loc["more-faces-first", "change"]
    # moved (a clone) where the first run's model is gone: finished arms are not redone, the cost still read
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    (moved / "pretraining" / "full" / "best.keras").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in moved.rglob("state.json")}
    again = ablate(["more-faces", "more-faces-first"], out=moved, verbose=0, **scale)
    assert list(again.index) == ["baseline", "more-faces", "more-faces-first"]
    assert {p: p.stat().st_mtime_ns for p in moved.rglob("state.json")} == stamps
    assert again.loc["more-faces-first", "train_minutes"] == minutes
    # a new arm cannot start without that model: the report says which file is missing
    shutil.rmtree(moved / "runs" / "more-faces-first")
    left = ablate(["more-faces-first"], out=moved, verbose=0, **scale)
    assert list(left.index) == ["baseline", "more-faces"]
    assert "best.keras is missing" in left.attrs["failed"]["more-faces-first"]
    from helpers.cli import main  # the command says so too, and fails

    capsys.readouterr()
    flags = ["--profile", "smoke", "--image-size", "32", "--epochs", "2", "--batch-size", "8", "--n-images", "40",
             *[f"--{name}={path}" for name, path in sample.items()]]
    assert main(["ablate", "--arms", "more-faces-first", "--out", str(moved), *flags]) == 1
    assert "1 arm(s) failed: more-faces-first" in capsys.readouterr().err
    report = (moved / "report.md").read_text()
    assert "`more-faces-first` failed" in report and "best.keras is missing" in report
    # with no first run and no more-faces model to copy, the first run is trained, then the arm
    shutil.rmtree(moved / "pretraining")
    (moved / "runs" / "more-faces" / "best.keras").unlink()
    trained = ablate(["more-faces-first"], out=moved, verbose=0, **scale)
    assert list(trained.index) == ["baseline", "more-faces", "more-faces-first"]
    assert json.loads((moved / "pretraining" / "full" / "state.json").read_text())["finished"]
    assert (moved / "pretraining" / "full" / "best.keras").is_file()


def test_a_run_started_from_a_model_is_the_same_run_wherever_its_folders_are():
    from helpers.training import config_changes

    here = {"init_from": "/work/kit/results/a/pretraining/full/best.keras"}
    there = {"init_from": "/home/me/clone/results/a/pretraining/full/best.keras"}
    other = {"init_from": "/work/kit/results/a/pretraining/paper/best.keras"}
    assert config_changes(here, there, ("init_from",)) == []
    assert config_changes(here, other, ("init_from",)) == ["init_from"]
    assert config_changes(here, {}, ("init_from",)) == ["init_from"]


def test_cli_ablate_refuses_an_unknown_arm_and_writes_the_report_of_what_finished(tmp_path, capsys):
    from helpers.cli import main

    assert main(["ablate", "--arms", "dropout", "--out", str(tmp_path / "a")]) == 2
    assert "dropout" in capsys.readouterr().err
    assert main(["ablate", "--arms", "mixup+dropout", "--out", str(tmp_path / "a")]) == 2
    assert "'dropout' in 'mixup+dropout'" in capsys.readouterr().err
    assert main(["ablate", "--out", str(tmp_path / "b"), "--report-only", "--profile", "smoke"]) == 0
    assert "No arm has finished yet" in (tmp_path / "b" / "report.md").read_text()


def test_an_ablation_that_measures_real_faces_refuses_the_offline_sample(tmp_path, capsys, monkeypatch):
    import importlib
    import warnings

    from helpers.cli import main

    fetch = importlib.import_module("helpers.fetch")  # the module (the package exports its function too)

    def unreachable(dataset, *args, **kwargs):
        raise fetch.FetchError(f"{dataset}: cannot connect")

    monkeypatch.setattr(fetch, "fetch", unreachable)  # no mirror, no earlier fetch, no network
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["ablate", "--arms", "mixup", "--out", str(tmp_path / "a"), "--image-size", "32", "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "arm baseline: the real data of utkface could not be found" in err and "AGEKIT_MIRROR" in err and "smoke" in err
    assert not list((tmp_path / "a" / "runs").iterdir())  # nothing trained, no run folder begun
    # real UTKFace faces but no wiki: the first run of more-faces-first is refused before the baseline trains
    from helpers.sample import make_sample

    root = make_sample(tmp_path / "sample", n_utkface=20, n_wiki=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["ablate", "--arms", "more-faces-first", "--out", str(tmp_path / "b"), "--utkface",
                     str(root / "UTKFace"), "--image-size", "32", "--epochs", "1", "--n-images", "20"])
    assert code == 2 and "arm pretraining/full: the real data of wiki could not be found" in capsys.readouterr().err
    assert not list((tmp_path / "b" / "runs").iterdir())


def test_a_mix_arm_was_asked_for_its_sources_times_its_own_epochs(tmp_path):
    from helpers.ablation import _arm_epochs

    folder = tmp_path / "runs" / "more-faces"
    folder.mkdir(parents=True)
    for asked in (12, 30):
        config = arm_config("more-faces", epochs=asked, sources={"utkface": "/u", "wiki": "/w"})
        (folder / "config.json").write_text(json.dumps(config))
        assert config["epochs"] == asked // 2 and _arm_epochs(folder, "more-faces") == asked
        again = arm_config("more-faces", epochs=_arm_epochs(folder, "more-faces"), sources={"utkface": "/u", "wiki": "/w"})
        assert again == config  # the epochs read back give the same run
        (folder / "config.json").write_text(json.dumps(arm_config("baseline", epochs=asked, sources={"utkface": "/u"})))
        assert _arm_epochs(folder, "baseline") == asked


def test_two_models_on_the_same_faces_are_compared_figure_by_figure():
    import numpy as np

    from helpers.ablation import compare_predictions
    from helpers.scorecard import truth

    rng = np.random.default_rng(0)
    n = 400
    base = pd.DataFrame({"path": [f"/data/a/{i}.jpg" for i in range(n)], "age": rng.integers(1, 81, n).astype(float),
                         "gender": rng.integers(0, 2, n), "race": rng.integers(0, 5, n)})
    for key in ("age_3", "age_5", "age_10", "gender", "race"):
        base[f"pred_{key}"] = truth(base, key)
    base["pred_years"] = base["age"] + 4.0
    base.loc[: n // 2 - 1, "pred_gender"] = 1 - base.loc[: n // 2 - 1, "gender"]  # half its gender answers wrong
    other = base.copy()
    other["path"] = other["path"].str.replace("/data/a/", "/elsewhere/")  # the same faces, found elsewhere
    other["pred_gender"] = other["gender"]  # all right
    other["pred_years"] = other["age"] + 2.0
    other = pd.concat([other, other.iloc[:5].assign(path=[f"/x/only-{i}.jpg" for i in range(5)])])  # not in base
    table = compare_predictions(base, other, n_boot=200)
    age_only = compare_predictions(base, other.drop(columns=["pred_gender", "pred_race"]), n_boot=200)
    assert age_only.loc[["gender", "race"], "faces"].tolist() == [0, 0] and age_only["verdict"]["gender"] == ""
    assert age_only.loc["mae", "change"] == pytest.approx(-2.0)
    assert list(table.index) == list(KEYS) and (table["faces"] == n).all()
    assert table.loc["gender", ["base", "other", "change"]].tolist() == pytest.approx([0.5, 1.0, 0.5])
    assert table.loc["gender", "verdict"] == "better" and table.loc["gender", "low"] > 0
    assert table.loc["mae", ["base", "other", "change"]].tolist() == pytest.approx([4.0, 2.0, -2.0])
    assert table.loc["mae", "verdict"] == "better"  # a smaller error
    assert table.loc["race", "change"] == 0 and table.loc["race", "verdict"] == "within noise"
