"""Averaging trained models: the answer is the mean of the members', it saves and loads as one model,
and its run folder is used by evaluate, predict and ship like any run's."""
import json

import numpy as np
import pandas as pd
import pytest

from helpers.cli import main
from helpers.ensemble import average_models, ensemble_run
from helpers.models import build_model, load_model

from .test_predict import ROOT


def _tiny(seed: int, **kwargs):
    import keras

    keras.utils.set_random_seed(seed)
    args = dict(age_head="distribution", age_groups="year", backbone="tiny", image_size=32, weights=None, head="kit")
    return build_model(["age", "gender", "race"], **{**args, **kwargs})


def _faces(n=4, size=32):
    return np.random.default_rng(1).uniform(0, 255, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("flip", [False, True])
def test_the_average_answers_with_the_mean_of_its_members(flip, tmp_path):
    a, b = _tiny(1), _tiny(2)
    x = _faces()
    averaged = average_models([a, b], test_flip=flip)
    got = averaged(x, training=False)
    for task in ("age", "gender", "race"):
        want = np.mean([np.asarray(m.network(x, training=False)[task]) for m in (a, b)], axis=0)
        if flip:
            mirrored = np.mean([np.asarray(m.network(x[:, :, ::-1].copy(), training=False)[task]) for m in (a, b)],
                               axis=0)
            want = (want + mirrored) / 2
        np.testing.assert_allclose(np.asarray(got[task]), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(a(x)["age"]), np.asarray(b(x)["age"]))  # two different members
    averaged.save(tmp_path / "average.keras")
    again = load_model(tmp_path / "average.keras", compile=False)
    assert len(again.members) == 2 and again.spec["test_flip"] is flip
    np.testing.assert_allclose(np.asarray(again(x)["age"]), np.asarray(got["age"]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not trained further"):
        averaged(x, training=True)


def test_only_models_that_answer_alike_are_averaged():
    with pytest.raises(ValueError, match="differs from model 1 in image_size"):
        average_models([_tiny(1), _tiny(2, image_size=48)])
    with pytest.raises(ValueError, match="differs from model 1 in age_head"):
        average_models([_tiny(1), _tiny(2, age_groups="5", age_head="softmax")])
    with pytest.raises(ValueError, match="at least two models"):
        average_models([_tiny(1)])
    with pytest.raises(ValueError, match="already an average"):
        average_models([average_models([_tiny(1), _tiny(2)]), _tiny(3)])
    # members keep their own flip setting out of the average; the average flips if every member did
    assert average_models([_tiny(1, test_flip=True), _tiny(2, test_flip=True)]).spec["test_flip"] is True
    assert average_models([_tiny(1, test_flip=True), _tiny(2)]).spec["test_flip"] is False


def test_a_predictor_names_every_member_of_an_average():
    from helpers.predict import Predictor

    single = Predictor(_tiny(1))
    assert single.networks == "tiny" and ", tiny at 32 px" in repr(single)
    both = Predictor(average_models([_tiny(1), _tiny(2)]))
    assert both.networks == "average of tiny + tiny" and "average of tiny + tiny at 32 px" in repr(both)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny runs on the same faces and split, from different random starts."""
    from helpers.sample import draw_face
    from helpers.training import run_config, train

    folder = tmp_path_factory.mktemp("ensemble")
    faces = folder / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        age, gender, race = int(rng.integers(2, 80)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        draw_face(rng, age, gender, race, 96).save(faces / f"{age}_{gender}_{race}_2017010{i:010d}.jpg.chip.jpg")
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEKIT_DATA", str(folder / "kitdata"))
        for name, train_seed in (("a", None), ("b", 7)):
            config = run_config(dataset="utkface", source=faces, tasks="age,gender,race", age_groups="year",
                                recipe="kit", profile="smoke", backbone="tiny", image_size=32, weights=None,
                                epochs=1, batch_size=8, n_images=40, train_seed=train_seed)
            runs.append(train(config, folder / f"run-{name}", verbose=0).path)
        yield folder, faces, runs


def test_an_average_is_a_run_folder_that_evaluate_predict_and_ship_use(two_runs, capsys, monkeypatch):
    folder, faces, (a, b) = two_runs
    monkeypatch.setenv("AGEKIT_DATA", str(folder / "kitdata"))
    out = folder / "avg"
    assert main(["ensemble", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation age_3" in printed and "test-time flip off (members: off, off; --test-flip turns it on)" in printed
    for name in ("config.json", "best.keras", "metrics.json", "predictions.csv", "split.csv", "state.json"):
        assert (out / name).is_file()
    # its predictions are the mean of its members' answers on the same validation faces
    pred = pd.read_csv(out / "predictions.csv")
    val = pd.read_csv(a / "split.csv").query("split == 'val'")
    assert list(pred["path"]) == list(val["path"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == len(val) and metrics["members"] == [str(a), str(b)]
    config = json.loads((out / "config.json").read_text())
    assert [m["from"] for m in config["members"]] == [str(a), str(b)] and "shipped" not in config
    # each member's own answers on the same faces are kept inside the average's folder
    from helpers.ensemble import members

    kept = members(out)
    assert [m["name"] for m in kept] == ["run-a", "run-b"] and all(m["train_seconds"] > 0 for m in kept)
    from helpers.experiments import validation_predictions
    from helpers.training import load_run

    own = validation_predictions(load_run(a))
    assert kept[0]["predictions"]["pred_age_10"].tolist() == own["pred_age_10"].tolist()
    # the table written from the outputs that also gave the metrics is the saved average's own answers
    again = validation_predictions(load_run(out))
    for column in ("pred_age_10", "pred_gender", "pred_race"):
        assert again[column].tolist() == pred[column].tolist(), column
    assert abs(again["pred_years"] - pred["pred_years"]).max() < 1e-3
    assert config["members"][1]["config"]["train_seed"] == 7
    # evaluate and predict read it as one model
    assert main(["evaluate", str(out), "--dataset", "utkface", "--source", str(faces), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 40
    assert main(["predict", str(out), str(ROOT / "data" / "astronaut.png"), "--detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["faces"]
    # and ship writes a card that says how to retrain each member and average them
    from helpers.shipping import ship_model

    dest = ship_model(out, folder / "models" / "avg", progress=False)
    card = (dest / "README.md").read_text()
    assert "the mean of 2 networks' answers: EfficientNetTINY + EfficientNetTINY" in card
    assert "python -m helpers ensemble runs/avg-1 runs/avg-2 --out runs/avg" in card
    assert card.count("python -m helpers train ") == 2 and "--train-seed 7" in card
    assert json.loads((dest / "metrics.json").read_text())["n"] == len(val)


def test_an_average_is_refused_with_a_reason_and_nothing_written(two_runs, tmp_path, capsys):
    from helpers.ensemble import members

    folder, faces, (a, b) = two_runs
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((b / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "seed": 99}))
    (other / "best.keras").write_bytes((b / "best.keras").read_bytes())
    assert main(["ensemble", str(a), str(other), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert str(other) in err and "it trained on" in err and "validation faces" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / ".x.partial").exists()
    # a model folder keeps no split.csv: its split is drawn again from its configuration and checked the same way
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "config.json").write_text(json.dumps(config))
    (shipped / "best.keras").write_bytes((b / "best.keras").read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEKIT_DATA", str(folder / "kitdata"))
        assert main(["ensemble", str(a), str(shipped), "--out", str(tmp_path / "fine")]) == 0
    assert members(tmp_path / "fine")[1]["train_seconds"] is None  # a bare model folder says nothing of its time
    # nothing can start training from an average's weights
    from helpers.training import init_weights

    with pytest.raises(ValueError, match="has no single set of weights"):
        init_weights(load_model(a / "best.keras"), tmp_path / "fine" / "best.keras")
    (tmp_path / "a-file").write_text("x")
    assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "a-file")]) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["ensemble", str(a), str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
    assert "no config.json" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "taken")]) == 1
    assert "not an empty folder" in capsys.readouterr().err and (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_model_folders_from_another_machine_are_averaged_on_the_kits_copy(two_runs, tmp_path, capsys, monkeypatch):
    """A shipped model folder records where its data lay when it trained; in another clone that path is
    gone, and the split is drawn again from the kit's copy of the same faces."""
    import tarfile

    from helpers.experiments import validation_predictions
    from helpers.training import load_run

    folder, faces, (a, b) = two_runs
    monkeypatch.setenv("AGEKIT_DATA", str(folder / "kitdata"))
    shipped = []
    for run in (a, b):
        model = tmp_path / f"shipped-{run.name}"
        model.mkdir()
        config = json.loads((run / "config.json").read_text())
        (model / "config.json").write_text(json.dumps({**config, "source": "/elsewhere/data/utkface"}))
        (model / "best.keras").write_bytes((run / "best.keras").read_bytes())
        validation_predictions(load_run(run)).to_csv(model / "predictions.csv", index=False)  # as `ship` keeps them
        shipped.append(str(model))
    monkeypatch.setenv("AGEKIT_DATA", str(tmp_path / "kitdata"))
    assert main(["ensemble", *shipped, "--out", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "/elsewhere/data/utkface" in err and "helpers fetch utkface" in err
    assert not (tmp_path / "none").exists()
    def mirror(name, leave_out=0):
        (tmp_path / name / "utkface").mkdir(parents=True)
        with tarfile.open(tmp_path / name / "utkface" / "UTKFace.tar.gz", "w:gz") as tar:
            for path in sorted(faces.iterdir())[leave_out:]:
                tar.add(path, arcname=f"UTKFace/{path.name}")
        monkeypatch.setenv("AGEKIT_MIRROR", str(tmp_path / name))

    mirror("short-mirror", leave_out=5)  # another copy, five faces short: another split, refused
    assert main(["ensemble", *shipped, "--out", str(tmp_path / "other")]) == 1
    assert "differ between its predictions.csv and the faces drawn again" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
    monkeypatch.setenv("AGEKIT_DATA", str(tmp_path / "kitdata2"))
    mirror("mirror")
    assert main(["ensemble", *shipped, "--out", str(tmp_path / "avg")]) == 0
    pred = pd.read_csv(tmp_path / "avg" / "predictions.csv")
    val = pd.read_csv(a / "split.csv").query("split == 'val'")
    assert sorted(pred["path"].map(lambda p: p.rsplit("/", 1)[-1])) == sorted(
        val["path"].map(lambda p: p.rsplit("/", 1)[-1]))  # the same validation faces, found in the kit's copy
    assert all(p.startswith(str(tmp_path / "kitdata2")) for p in pred["path"])
