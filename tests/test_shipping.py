"""Shipping a run's model: the folder, its measured card, test-time flip, and nothing lost on failure."""
import json

import numpy as np
import pandas as pd
import pytest

from helpers.cli import main
from helpers.models import build_model, load_model
from helpers.shipping import (SHIPPED_FILES, TARGETS, licence, meets_targets, model_card, retrain_command, ship_model,
                              shipped_metrics, shipped_models, trained_on)

from .test_predict import train_tiny_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ship")
    return folder, train_tiny_run(folder, n_images=40)


def test_flip_averages_a_face_and_its_mirror():
    model = build_model(["age", "gender", "race"], age_head="distribution", age_groups="year", backbone="tiny",
                        image_size=32, weights=None, head="kit", test_flip=True)
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    plain, mirrored = model.network(x, training=False), model.network(x[:, :, ::-1].copy(), training=False)
    both = model(x, training=False)
    for task in ("age", "gender", "race"):
        np.testing.assert_allclose(np.asarray(both[task]), (np.asarray(plain[task]) + np.asarray(mirrored[task])) / 2,
                                   rtol=1e-5, atol=1e-6)
    # so the answer for a face and for its mirror image is the same
    np.testing.assert_allclose(np.asarray(model(x[:, :, ::-1].copy(), training=False)["age"]),
                               np.asarray(both["age"]), rtol=1e-5, atol=1e-6)
    # and a model without the option keeps the spec of runs made before it existed
    assert "test_flip" not in build_model(["age"], backbone="tiny", image_size=32, weights=None).spec


def test_ship_writes_a_measured_model_card(tiny):
    folder, run = tiny
    dest = ship_model(run, folder / "models" / "tiny-kit", test_flip=True, note="A test model.", progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(SHIPPED_FILES)
    model = load_model(dest / "best.keras", compile=False)
    assert model.spec["test_flip"] is True
    config = json.loads((dest / "config.json").read_text())
    assert config["shipped"]["test_flip"] and config["shipped"]["from_run"] == str(run)
    metrics = json.loads((dest / "metrics.json").read_text())
    n_val = (pd.read_csv(run / "split.csv")["split"] == "val").sum()
    assert metrics["n"] == n_val
    pred = pd.read_csv(dest / "predictions.csv")  # the answers behind the card, face by face
    assert len(pred) == n_val
    assert (pred["pred_gender"] == pred["gender"]).mean() == pytest.approx(metrics["gender"])
    assert (pred["pred_years"] - pred["age"]).abs().mean() == pytest.approx(metrics["mae"])
    for key in ("age_3", "age_5", "age_10", "gender", "race"):
        low, high = metrics["interval"][key]
        assert 0 <= low <= metrics[key] <= high <= 1
        assert np.sum(metrics["confusion"][key]) == n_val
    assert metrics["mae"] > 0
    races = {r["race"] for r in metrics["by_race"]}
    assert {"all", "gap"} <= races and races - {"all", "gap"} <= {"White", "Black", "Asian", "Indian", "Others"}
    card = (dest / "README.md").read_text()
    assert card.startswith("# Model card: `tiny-kit`") and "A test model." in card
    assert f"{metrics['age_3']:.3f}" in card and f"{metrics['mae']:.2f}" in card
    assert "### By race" in card and "### By gender" in card
    assert "non-commercial research use only" in card
    assert "python -m helpers ship runs/tiny-kit models/tiny-kit --test-flip" in card
    assert "--age-groups year" in card and "--weights none" in card and "--epochs 1" in card


def test_ship_records_how_faces_are_cut_for_the_model(tiny):
    import shutil

    from helpers.predict import load_predictor

    folder, run = tiny
    dest = ship_model(run, folder / "models" / "cropped", progress=False)
    config = json.loads((dest / "config.json").read_text())
    assert config["dataset"] == "utkface" and config["crop"] == {"margin": 0.0, "align": False}
    assert "margin 0 of the face box" in (dest / "README.md").read_text()
    # the recorded crop is what predict follows, whatever the config says of the data
    for name, edited, margin in (("kept", {**config, "dataset": "wiki"}, 0.0),
                                 ("dropped", {**{k: v for k, v in config.items() if k != "crop"}, "dataset": "wiki"},
                                  0.4)):  # without it: the dataset's own framing
        copy = folder / "models" / f"cropped-{name}"
        shutil.copytree(dest, copy)
        (copy / "config.json").write_text(json.dumps(edited))
        assert load_predictor(copy).margin == margin, name


def test_the_shipped_model_evaluates_as_the_issue_asks(tiny, capsys):
    folder, run = tiny
    dest = ship_model(run, folder / "models" / "evaluated", test_flip=True, progress=False)
    capsys.readouterr()
    assert main(["evaluate", str(dest), "--dataset", "utkface", "--source", str(folder / "faces"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"age_3", "age_5", "age_10", "gender", "race", "mae"} <= set(printed)
    assert printed["n"] == 40


def test_shipped_models_are_listed_for_the_demo_and_the_course(tiny, monkeypatch):
    import sys

    from helpers.predict import list_models

    folder, run = tiny
    root = folder / "listed"
    ship_model(run, root / "flipped", test_flip=True, progress=False)
    ship_model(run, root / "plain", progress=False)
    table = shipped_models(root)
    assert list(table.index) == ["flipped", "plain"] and list(table["test_flip"]) == [True, False]
    assert table.loc["plain", "image_size"] == 32 and table.loc["plain", "epochs"] == 1
    assert 0 <= table.loc["plain", "age_3"] <= 1
    monkeypatch.setattr(sys.modules["helpers.predict"], "DEFAULT_MODEL_DIR", root / "plain")
    monkeypatch.delenv("AGEKIT_MODEL", raising=False)
    found = list(list_models(folder / "no-runs").values())
    assert found == [str(root / "plain"), str(root / "flipped")]  # the default first, then the other shipped
    assert shipped_models(folder / "nothing-here").empty


def test_a_fine_tuned_model_card_gives_both_commands(tiny, monkeypatch, tmp_path):
    from helpers.training import run_config, train

    folder, run = tiny
    monkeypatch.setenv("AGEKIT_DATA", str(folder / "kitdata"))
    config = run_config(dataset="utkface", source=folder / "faces", tasks="age,gender,race", age_groups="year",
                        recipe="kit", profile="smoke", backbone="tiny", image_size=40, weights=None, epochs=1,
                        batch_size=8, n_images=40, init_from=run, learning_rate=1e-4)
    tuned = train(config, folder / "tuned", verbose=0)
    card = (ship_model(tuned.path, folder / "models" / "tuned", progress=False) / "README.md").read_text()
    commands = card.split("```bash")[1].split("```")[0].replace(" \\\n    ", " ").strip().splitlines()
    assert len(commands) == 3  # the starting point, the fine-tune, the ship
    assert "--image-size 32" in commands[0] and commands[0].endswith("--out runs/run")
    assert "--image-size 40" in commands[1] and "--init-from runs/run --learning-rate 0.0001" in commands[1]
    assert commands[2] == "python -m helpers ship runs/tuned models/tuned"
    assert "| fine-tuned from | `runs/run`: EfficientNetTINY at 32 px, 1 epochs |" in card
    # both folders moved together (another clone): the starting point is found beside the fine-tune
    import shutil

    from helpers.training import started_from

    moved = tmp_path / "clone" / "runs"
    shutil.copytree(run, moved / "run")
    shutil.copytree(tuned.path, moved / "tuned")
    config = json.loads((moved / "tuned" / "config.json").read_text())
    config["init_from"] = "/elsewhere/runs/run/best.keras"  # where it was trained, gone here
    (moved / "tuned" / "config.json").write_text(json.dumps(config))
    assert started_from(moved / "tuned") == (moved / "run").resolve()
    assert started_from(moved / "run") is None  # a run from random weights started from nothing
    card = (ship_model(moved / "tuned", tmp_path / "models" / "tuned", progress=False) / "README.md").read_text()
    assert "| fine-tuned from | `runs/run`: EfficientNetTINY at 32 px, 1 epochs |" in card
    shutil.rmtree(moved / "run")  # and where it is nowhere, there is no starting model to read
    assert started_from(moved / "tuned") is None


def test_ship_never_overwrites_and_leaves_nothing_half_written(tiny, capsys):
    folder, run = tiny
    dest = folder / "models" / "kept"
    dest.mkdir(parents=True)
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="already holds files"):
        ship_model(run, dest, progress=False)
    assert main(["ship", str(run), str(dest)]) == 1
    assert "already holds files" in capsys.readouterr().err
    with pytest.raises(ValueError, match="above the 0.001 MB"):
        ship_model(run, dest, replace=True, max_mb=0.001, progress=False)
    assert (dest / "mine.txt").read_text() == "keep me"  # the failed replacement changed nothing
    assert not list(dest.parent.glob(".kept*"))
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        ship_model(folder / "faces", folder / "models" / "none", progress=False)
    started = folder / "started"
    started.mkdir()
    (started / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no best model yet"):
        ship_model(started, folder / "models" / "none", progress=False)
    assert not (folder / "models" / "none").exists()


def test_ship_command_replaces_on_request(tiny, capsys):
    folder, run = tiny
    dest = folder / "models" / "replaced"
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("old")
    assert main(["ship", str(run), str(dest), "--replace"]) == 0
    assert "validation age_3" in capsys.readouterr().out
    assert sorted(p.name for p in dest.iterdir()) == sorted(SHIPPED_FILES)
    assert "test_flip" not in load_model(dest / "best.keras", compile=False).spec


def test_metrics_and_card_from_a_table_worked_by_hand():
    pred = pd.DataFrame({
        "path": [f"f{i}.jpg" for i in range(4)], "source": "utkface",
        "age": [5.0, 30.0, 60.0, 70.0], "gender": [0, 1, 0, 1], "race": [0, 0, 1, 1],
        "trained_age": True, "trained_gender": True, "trained_race": True,
        "pred_years": [7.0, 30.0, 50.0, 70.0], "pred_age_3": [0, 1, 1, 2],
        "pred_gender": [0, 1, 1, 1], "pred_race": [0, 0, 1, 0],
    })
    m = shipped_metrics(pred, n_boot=50, min_count=1)
    assert m["n"] == 4 and m["age_3"] == 0.75 and m["gender"] == 0.75 and m["race"] == 0.75
    assert m["mae"] == pytest.approx((2 + 0 + 10 + 0) / 4)
    assert m["n_labelled"] == {"age_3": 4, "gender": 4, "race": 4, "mae": 4}
    assert m["confusion"]["age_3"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    by_race = {r["race"]: r for r in m["by_race"]}
    assert by_race["White"]["mae"] == pytest.approx(1.0) and by_race["Black"]["mae"] == pytest.approx(5.0)
    assert m["worst_race"]["mae"] == "Black"
    # gender accuracy per race and race accuracy per gender, beside the age metrics
    assert by_race["White"]["gender"] == 1.0 and by_race["Black"]["gender"] == 0.5
    assert by_race["gap"]["gender"] == 0.5 and m["worst_race"]["gender"] == "Black"
    by_gender = {r["gender"]: r for r in m["by_gender"]}
    assert by_gender["male"]["race"] == 1.0 and by_gender["female"]["race"] == 0.5
    assert by_gender["all"]["race"] == 0.75 and m["worst_gender"]["race"] == "female"
    config = {"dataset": "utkface", "source": "/data/UTKFace.tar.gz", "tasks": ["age", "gender", "race"],
              "age_groups": "year", "backbone": "b0", "image_size": 96, "recipe": {"name": "kit", "notes": "n"},
              "profile": "full", "weights": None, "epochs": 30, "batch_size": 128, "n_images": 20000,
              "val_fraction": 0.2, "seed": 2021,
              "model": {"tasks": ["age", "gender", "race"], "backbone": "b0", "image_size": 96, "head": "kit",
                        "age_head": {"kind": "distribution", "groups": "year", "age_range": [1, 80]}},
              "shipped": {"test_flip": False, "finished": True, "best_epoch": 29, "size_mb": 16.9}}
    card = model_card("b0-96", config, m)
    assert "| 0.750 | – |" not in card and "| White | 2 |" in card
    assert "| White | 2 | 1.000 | 1.00 | 1.000 | 1.000 |" in card  # age 3 groups, MAE, CS@5, gender
    assert "0.7165 / 0.6790 / 0.4787" in card and "`UTKFace.tar.gz`" in card
    command = retrain_command(config, "runs/b0-96").replace(" \\\n    ", " ")
    assert command.startswith("python -m helpers train --dataset utkface --source SOURCE")
    assert "--n-images 20000" in command and "--seed" not in command and command.endswith("--out runs/b0-96")


def test_the_licence_follows_the_training_data():
    assert "non-commercial research use only" in licence({"dataset": "utkface"})
    assert "academic research use only" in licence({"dataset": "wiki"})
    mixed = licence({"dataset": "mix-paper"})
    assert "UTKFace" in mixed and "IMDB-WIKI" in mixed and "academic, non-commercial research use only" in mixed


def test_a_fine_tune_s_licence_names_the_data_of_the_model_it_started_from():
    first = {"dataset": "mix-full", "mix": {"utkface": ["age"], "wiki": ["age", "gender"]}}
    tuned = {"dataset": "utkface", "init_from": "/runs/full/best.keras", "init_config": first}
    assert trained_on(tuned) == ["utkface", "wiki"]
    text = licence(tuned)
    assert "IMDB-WIKI (wiki)" in text and "academic, non-commercial research use only" in text
    # a starting model whose data went unrecorded is not passed off as the run's own data alone
    unknown = licence({"dataset": "utkface", "init_from": "/elsewhere/wiki-run/best.keras"})
    assert "non-commercial research use only" in unknown and "not recorded" in unknown and "`wiki-run`" in unknown
    # an average of a UTKFace run and that fine-tune: every member's data, at any depth
    average = {"dataset": "utkface", "members": [{"config": {"dataset": "utkface"}}, {"config": tuned}]}
    assert trained_on(average) == ["utkface", "wiki"] and "IMDB-WIKI (wiki)" in licence(average)
    deeper = {"dataset": "utkface", "init_from": "/r/b/best.keras",
              "init_config": {"dataset": "utkface", "init_from": "/r/first/best.keras"}}
    assert "`first`" in licence(deeper) and "not recorded" in licence(deeper)


def test_a_model_of_wiki_and_imdb_is_not_said_to_be_trained_on_utkface():
    text = licence({"dataset": "mix-faces", "mix": {"wiki": ["age"], "imdb": ["age"]}})
    assert "UTKFace" not in text and "non-commercial" not in text
    assert "IMDB-WIKI (wiki)" in text and "IMDB-WIKI (imdb)" in text and "academic research use only" in text
    assert "use it only as each dataset's licence allows" in licence({"dataset": "mix-x", "mix": {"a": [], "b": []}})


def test_a_mix_trained_model_ships_with_utkface_figures_and_its_train_mix_command(tmp_path):
    from helpers.experiments import mix_config, train_run
    from helpers.sample import make_sample

    root = make_sample(tmp_path / "sample", n_utkface=60, n_wiki=60)
    config = mix_config("full", sources={"utkface": root / "UTKFace", "wiki": root / "wiki_crop"}, n_per_source=60,
                        age_groups="year", backbone="tiny", image_size=32, weights=None, epochs=1, batch_size=16)
    run = train_run(config, tmp_path / "runs" / "mix", verbose=0)
    dest = ship_model(run.path, tmp_path / "models" / "mix-kit", progress=False)
    metrics = json.loads((dest / "metrics.json").read_text())
    split = pd.read_csv(run.path / "split.csv")
    val = split[split["split"] == "val"]
    n_utk = int((val["source"] == "utkface").sum())
    assert 0 < n_utk < len(val)  # the wiki faces are not in the card's figures
    assert metrics["n"] == n_utk and metrics["scored_source"] == "utkface"
    assert np.sum(metrics["confusion"]["age_10"]) == n_utk
    card = (dest / "README.md").read_text()
    assert f"## Validation metrics ({n_utk:,} utkface faces of the seed split" in card
    assert "utkface (`UTKFace`: age, gender, race) + wiki (`wiki_crop`: age, gender)" in card
    assert "python -m helpers train-mix \\\n    --mix full \\\n    --utkface UTKFACE \\\n    --wiki WIKI" in card
    assert "`UTKFACE` is the utkface folder or archive (here `UTKFace`)" in card
    assert "UTKFace" in licence(config) and "IMDB-WIKI" in licence(config)


def test_a_card_says_how_to_get_the_kits_copy_of_its_data():
    from helpers.shipping import _source_text

    fetched = _source_text({"dataset": "utkface", "source": "/home/a/kit/data/utkface"})
    assert "here the kit's copy, `data/utkface`, which `python -m helpers fetch utkface` makes" in fetched
    assert _source_text({"dataset": "utkface", "source": "/home/a/faces/UTKFace"}).endswith("(here `UTKFace`).")
    mix = _source_text({"dataset": "mix-full", "mix": {"utkface": ["age"], "wiki": ["age"]},
                        "source": {"utkface": "/k/data/utkface", "wiki": "/k/wiki_crop"}})
    assert "`UTKFACE` is the utkface folder or archive (here the kit's copy, `data/utkface`" in mix
    assert "`WIKI` is the wiki folder or archive (here `wiki_crop`)." in mix


def test_targets_are_met_at_or_above_and_the_mae_at_or_below():
    figures = {"age_3": 0.80, "age_5": 0.7399, "age_10": 0.6, "mae": 5.0, "gender": float("nan")}
    met = meets_targets(figures)
    assert set(met) == set(TARGETS)
    assert met["age_3"] is True and met["age_5"] is False and met["age_10"] is True and met["mae"] is True
    assert met["gender"] is None and met["race"] is None  # NaN and missing: not judged
    assert meets_targets(pd.Series({"mae": 5.01}), {"mae": 5.0}) == {"mae": False}
