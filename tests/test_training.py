"""Run folders, resume after interruption, both backends, distribution, the CLI round trip."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import training
from helpers.recipes import recipe
from helpers.training import RunFinishedError, RunRecorder, find_runs, load_run, run_config, train

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(**changes):
    args = dict(dataset="synthetic", tasks="age,gender,race", backbone="tiny", image_size=32, weights=None,
                epochs=2, batch_size=8, n_images=40)
    args.update(changes)
    return run_config(**args)


class Interrupt(keras.callbacks.Callback):
    """Stops training as a Ctrl-C would, at the end of epoch ``after``."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt


def test_a_run_writes_its_folder_and_is_never_overwritten(tmp_path):
    config = tiny_config()
    run = train(config, tmp_path / "run", verbose=0)
    files = {p.name for p in run.path.iterdir()}
    assert {"config.json", "history.csv", "state.json", "metrics.json", "best.keras", "last.keras"} <= files
    assert list(run.history["epoch"]) == [1, 2]
    assert {"lr", "loss", "val_loss", "val_age_acc_10", "val_age_mae", "val_gender_acc", "val_race_acc"} <= set(run.history)
    assert run.finished and run.state["best_epoch"] in (1, 2)
    for key in ("age_3", "age_5", "age_10", "mae", "gender", "race", "n", "confusion"):
        assert key in run.metrics
    saved = json.loads((run.path / "config.json").read_text())
    assert saved["labels"]["race"][0] == "White" and saved["labels"]["age"]["scheme"] == "10"
    from helpers.models import load_model

    assert load_model(run.path / "last.keras").spec == load_model(run.path / "best.keras").spec
    before = (run.path / "best.keras").stat().st_mtime_ns
    with pytest.raises(RunFinishedError):
        train(config, run.path, verbose=0)
    assert (run.path / "best.keras").stat().st_mtime_ns == before
    assert find_runs(tmp_path)["run"].tolist() == ["run"]


def test_an_interrupted_run_resumes_from_its_last_epoch(tmp_path):
    config = tiny_config(recipe="seed", epochs=3, tasks="age,gender")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callbacks=[Interrupt(after=1)], verbose=0)
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 1 and not state["finished"]
    assert len(pd.read_csv(out / "history.csv")) == 1 and not (out / "metrics.json").exists()
    run = train(config, out, verbose=0)
    assert list(run.history["epoch"]) == [1, 2, 3] and run.finished
    assert run.metrics["epochs"] == 3


def test_a_run_whose_checkpoint_is_gone_says_so_keeps_what_it_had_and_starts_again(tmp_path):
    config = tiny_config(epochs=3, tasks="age,gender")
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callbacks=[Interrupt(after=2)], verbose=0)
    (out / "last.keras").unlink()  # e.g. the folder was copied without its one large file
    start = StartingPoint()
    with pytest.warns(UserWarning, match=r"says 2 epoch\(s\) were trained.*last\.keras.*missing.*epoch 1"
                                         r".*history\.lost-2\.csv and best\.lost-2\.keras"):
        run = train(config, out, callbacks=[start], verbose=0)
    assert start.epoch == 0 and start.steps == 0
    assert list(run.history["epoch"]) == [1, 2, 3] and run.finished
    assert list(pd.read_csv(out / "history.lost-2.csv")["epoch"]) == [1, 2]
    assert (out / "best.lost-2.keras").is_file()


class KillDuringCommit:
    """Stands in for ``commit_epoch`` and kills the run in the middle of committing epoch ``at``:
    after ``moves`` of its renames (0: before the epoch's state was declared whole)."""

    def __init__(self, at, moves, real):
        self.at, self.moves, self.real, self.epoch = at, moves, real, 0

    def __call__(self, out):
        self.epoch += 1
        if self.epoch != self.at:
            return self.real(out)
        pending = out / training.PENDING_STATE
        if self.moves == 0:
            pending.unlink()  # killed while writing the epoch's files: nothing of it declared whole
        else:
            os.replace(out / "last.tmp.keras", out / "last.keras")
        raise KeyboardInterrupt


class StartingPoint(keras.callbacks.Callback):
    """Records the epoch and the optimizer step that a (resumed) ``fit`` starts from."""

    def on_train_begin(self, logs=None):
        self.steps, self.per_epoch = int(self.model.optimizer.iterations), self.params["steps"]

    def on_epoch_begin(self, epoch, logs=None):
        self.__dict__.setdefault("epoch", epoch)


@pytest.mark.parametrize("moves", [0, 1])
def test_a_run_killed_while_saving_an_epoch_resumes_after_exactly_the_epochs_its_state_names(
        tmp_path, monkeypatch, moves):
    config = tiny_config(epochs=3)
    out = tmp_path / "run"
    monkeypatch.setattr(training, "commit_epoch", KillDuringCommit(2, moves, training.commit_epoch))
    with pytest.raises(KeyboardInterrupt):
        train(config, out, verbose=0)
    monkeypatch.undo()
    start = StartingPoint()
    run = train(config, out, callbacks=[start], verbose=0)
    # killed before epoch 2's files were whole, it is trained again from epoch 1's model; killed half
    # way through moving them, it is kept: either way the model resumed from has trained exactly the
    # epochs the state names (never an epoch twice), and no stray file is left
    kept = 2 if moves else 1
    assert start.epoch == kept and start.steps == kept * start.per_epoch
    assert list(run.history["epoch"]) == [1, 2, 3] and run.finished and run.metrics["epochs"] == 3
    assert not list(out.glob("*.tmp*")) and not (out / training.PENDING_STATE).exists()


def test_a_folder_with_another_run_is_refused(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(epochs=2), out, callbacks=[Interrupt(after=1)], verbose=0)
    with pytest.raises(ValueError, match="another configuration"):
        train(tiny_config(epochs=2, age_groups="5"), out, verbose=0)


def test_a_train_seed_changes_the_weights_not_the_faces(tmp_path):
    base = train(tiny_config(epochs=1), tmp_path / "a", verbose=0)
    same = train(tiny_config(epochs=1), tmp_path / "b", verbose=0)
    other = train(tiny_config(epochs=1, train_seed=3021), tmp_path / "c", verbose=0)
    assert other.config["train_seed"] == 3021 and "train_seed" not in base.config
    weights = [r.model("last").network.get_weights()[0] for r in (base, same, other)]
    assert np.array_equal(weights[0], weights[1]) and not np.allclose(weights[0], weights[2])
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(epochs=2, train_seed=4021), tmp_path / "d", callbacks=[Interrupt(after=1)], verbose=0)
    with pytest.raises(ValueError, match="differs in train_seed"):  # a repeat never resumes another seed's run
        train(tiny_config(epochs=2, train_seed=5021), tmp_path / "d", verbose=0)


def test_a_run_folder_moved_to_another_checkout_is_the_same_run(tmp_path):
    from helpers.training import config_changes

    before = {"source": "/home/a/kit/data/utkface/UTKFace", "epochs": 12}
    assert config_changes(before, {"source": "/tmp/clone/data/utkface/UTKFace", "epochs": 12}) == []
    assert config_changes(before, {"source": "/tmp/clone/data/wiki/wiki_crop", "epochs": 12}) == ["source"]
    mix = {"source": {"wiki": "/a/wiki_crop", "utkface": "/a/UTKFace"}}
    assert config_changes(mix, {"source": {"wiki": "/b/wiki_crop", "utkface": "/b/UTKFace"}}) == []
    assert config_changes(before, {**before, "epochs": 20}) == ["epochs"]


def test_fine_tuning_starts_from_another_models_weights_at_another_size(tmp_path):
    from helpers.models import AUGMENTATIONS
    from helpers.training import init_weights

    first = train(tiny_config(epochs=1), tmp_path / "first", verbose=0)
    config = tiny_config(epochs=1, image_size=48, init_from=first.path, learning_rate=1e-4)
    assert config["init_from"] == str(first.path / "best.keras") and config["recipe"]["learning_rate"] == 1e-4
    assert "init_from" not in tiny_config()  # runs made before this option keep their configuration

    class Check(keras.callbacks.Callback):  # the weights at the first step are the donor's, not random ones
        def on_train_begin(self, logs=None):
            donor = {layer.name: layer for layer in first.model().network.layers}
            for layer in self.model.network.layers:
                if layer.weights and layer.name not in AUGMENTATIONS:
                    for a, b in zip(donor[layer.name].get_weights(), layer.get_weights()):
                        np.testing.assert_array_equal(a, b)
            self.checked = True

    check = Check()
    second = train(config, tmp_path / "second", callbacks=[check], verbose=0)
    assert check.checked and second.finished and second.model().spec["image_size"] == 48
    assert json.loads((second.path / "config.json").read_text())["init_from"] == str(first.path / "best.keras")

    other = tiny_config(tasks="age", init_from=first.path)
    with pytest.raises(ValueError, match=r"best.keras: cannot start from this model, it differs in tasks"):
        train(other, tmp_path / "third", verbose=0)
    with pytest.raises(FileNotFoundError, match="no model there"):
        tiny_config(init_from=tmp_path / "nothing")
    with pytest.raises(ValueError, match="learning rate must be positive"):
        tiny_config(learning_rate=0)
    from helpers.models import build_model

    model = build_model(["age", "gender", "race"], age_head="distribution", age_groups="year", backbone="tiny",
                        image_size=32, weights=None, head="kit")
    with pytest.raises(ValueError, match="differs in age_head"):
        init_weights(model, first.path)


def test_seed_plateau_rule_lowers_the_rate(tmp_path):
    from helpers.models import build_model
    from helpers.training import compile_model

    rec = recipe("seed", plateau_patience=2)
    model = compile_model(build_model(["age"], backbone="tiny", image_size=32, weights=None), rec, 1, 1)
    recorder = RunRecorder(tmp_path, ("val_age_acc_10", "max"), rec, 5, {}, verbose=0)
    recorder.set_model(model)
    for value in (0.5, 0.5, 0.49):  # better, then two epochs without improvement
        recorder._plateau(value)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.9e-3)
    assert recorder.state["plateau_wait"] == 0


def test_distribution_on_one_device(tmp_path):
    run = train(tiny_config(epochs=1, distribute="auto"), tmp_path / "run", verbose=0)
    assert run.finished and np.isfinite(run.history["loss"]).all()


JAX_STEP = textwrap.dedent("""
    import json, numpy as np, keras
    from helpers.devices import distribution
    from helpers.models import build_model
    from helpers.recipes import recipe
    from helpers.training import Batches, compile_model, synthetic_data
    assert keras.backend.backend() == "jax"
    data = synthetic_data(16, 32)
    with distribution("auto"):
        model = build_model(["age", "gender", "race"], backbone="tiny", image_size=32, weights=None,
                            **{**recipe("kit").model_args(), "loss_weighting": "uncertainty"})
        compile_model(model, recipe("kit"), 2, 1)
        logs = model.fit(Batches(data.train, model.tasks, 8), epochs=1, verbose=0).history
    assert model.jit_compile, "the training step must be compiled on JAX, augmentation included"
    print(json.dumps({k: v[-1] for k, v in logs.items()}))
""")


def test_a_training_step_on_jax():
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", JAX_STEP], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = json.loads(done.stdout.strip().splitlines()[-1])
    assert np.isfinite(logs["loss"]) and {"age_acc_10", "age_mae", "gender_acc", "race_loss"} <= set(logs)


def test_bench_measures_both_pipelines():
    from helpers.training import measure_throughput

    result = measure_throughput(backbone="tiny", image_size=32, batch_size=8, steps=3, dataset="synthetic")
    assert result["train_real_images_per_s"] > 0 and result["train_synthetic_images_per_s"] > 0
    assert result["pipeline_images_per_s"] > 0 and isinstance(result["input_bound"], bool)


def test_cli_round_trip_train_evaluate_predict(tmp_path, capsys):
    from helpers.cli import main
    from helpers.sample import make_sample

    faces = make_sample(tmp_path / "sample", n_utkface=60, n_wiki=4) / "UTKFace"
    out = tmp_path / "run"
    assert main(["train", "--dataset", "utkface", "--source", str(faces), "--tasks", "age,gender,race",
                 "--age-groups", "5", "--backbone", "b0", "--image-size", "32", "--recipe", "kit", "--profile",
                 "smoke", "--weights", "none", "--epochs", "1", "--batch-size", "16", "--out", str(out)]) == 0
    assert load_run(out).finished
    capsys.readouterr()
    assert main(["evaluate", str(out), "--dataset", "utkface", "--source", str(faces), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"age_3", "age_5", "age_10", "gender", "race", "mae", "n"} <= set(metrics) and metrics["n"] == 60
    image = sorted(faces.glob("*.jpg"))[0]
    assert main(["predict", str(out), str(image), str(ROOT / "data" / "astronaut.png"), "--detect", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)
    assert len(predictions) == 2
    astronaut = predictions[1]["faces"][0]
    assert astronaut["age_group"] in ["1-11", "12-23", "24-39", "40-55", "56-80"]
    assert set(astronaut["age_probabilities"]) == {"1-11", "12-23", "24-39", "40-55", "56-80"}
    assert astronaut["gender"] in ("male", "female") and astronaut["race"] and len(astronaut["box"]) == 4
    assert main(["predict", str(out), str(image)]) == 0
    assert "years" in capsys.readouterr().out


def test_bench_train_over_several_backbones_saves_the_figures_with_the_machine(tmp_path, monkeypatch, capsys):
    import json

    import helpers.training
    from helpers.cli import main

    calls = []

    def fake(**kwargs):  # the measurement itself is tested above; here: the command around it
        calls.append(kwargs["backbone"])
        rate = {"b0": 200.0, "b3": 80.0}[kwargs["backbone"]]
        return {"backbone": kwargs["backbone"], "image_size": kwargs["image_size"], "batch_size": kwargs["batch_size"],
                "train_synthetic_images_per_s": rate, "train_real_images_per_s": rate * 0.98}

    monkeypatch.setattr(helpers.training, "measure_throughput", fake)
    out = tmp_path / "bench-train.json"
    assert main(["bench", "train", "--backbones", "b0, B3", "--image-size", "56", "--batch", "128",
                 "--save", str(out)]) == 0
    text = capsys.readouterr().out
    assert calls == ["b0", "b3"] and "b3 at 56 px, batch 128:     80.0 training images/s" in text
    saved = json.loads(out.read_text())
    assert [e["backbone"] for e in saved] == ["b0", "b3"] and saved[0]["machine"]["cpus"] >= 1
    with pytest.raises(SystemExit, match="unknown backbone.*b9"):
        main(["bench", "train", "--backbones", "b0,b9"])


def test_a_run_resumed_on_another_copy_of_its_data_is_refused_and_keeps_its_epochs(tmp_path):
    import shutil

    from helpers.sample import draw_face

    faces = tmp_path / "a" / "data" / "UTKFace"
    faces.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(40):
        age, gender, race = int(rng.integers(2, 80)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        draw_face(rng, age, gender, race, 64).save(faces / f"{age}_{gender}_{race}_2017010{i:010d}.jpg.chip.jpg")

    def config(folder):
        return run_config(dataset="utkface", source=folder, tasks="age,gender,race", backbone="tiny", image_size=32,
                          weights=None, epochs=2, batch_size=8, n_images=40)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config(faces), out, callbacks=[Interrupt(after=1)], verbose=0)
    fewer = tmp_path / "b" / "data" / "UTKFace"  # another copy, five faces short: another split
    shutil.copytree(faces, fewer)
    for path in sorted(fewer.iterdir())[:5]:
        path.unlink()
    with pytest.raises(ValueError, match=r"run: the faces drawn for it now differ from its split.csv in \d+ places"):
        train(config(fewer), out, verbose=0)
    assert json.loads((out / "state.json").read_text())["epochs_done"] == 1
    same = tmp_path / "c" / "data" / "UTKFace"  # the same files elsewhere: the same split, and it goes on
    shutil.copytree(faces, same)
    run = train(config(same), out, verbose=0)
    assert run.finished and list(run.history["epoch"]) == [1, 2]
