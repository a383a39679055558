"""The accuracy ablation's regularisers: mixup and CutMix, a moving average of the weights,
stochastic depth, random erasing, and the command line's ``--set`` that turns each one on."""
import json

import keras
import numpy as np
import pytest

from helpers.models import build_model, load_model
from helpers.recipes import recipe, parse_changes
from helpers.training import (Batches, EmaValidation, compile_model, ema_weights, mix_batch, run_config, synthetic_data, train,
                              uses_ema)


def tiny_config(rec, **changes):
    args = dict(dataset="synthetic", tasks="age,gender,race", backbone="tiny", image_size=32, weights=None,
                epochs=2, batch_size=8, n_images=40, recipe=rec, age_groups="year")
    args.update(changes)
    return run_config(**args)


def test_a_regulariser_left_off_leaves_the_recorded_recipe_as_it_was():
    kit = recipe("kit").as_dict()
    assert not {"mixup", "cutmix", "ema", "drop_connect"} & set(kit)
    changed = recipe("kit", mixup=0.2, ema=0.99, drop_connect=0.3).as_dict()
    assert (changed["mixup"], changed["ema"], changed["drop_connect"]) == (0.2, 0.99, 0.3)
    assert recipe("kit", mixup=0.2, cutmix=1.0).mixing() == {"mixup": 0.2, "cutmix": 1.0}
    assert "drop_connect" not in build_model(["age"], backbone="tiny", image_size=32, weights=None).spec
    for bad in ({"mixup": -1.0}, {"ema": 1.0}, {"drop_connect": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            recipe("kit", **bad)


def test_set_turns_command_line_words_into_typed_changes():
    changes = parse_changes(["mixup=0.2", "ema=0.995", "epochs=12", "optimizer=adam", "drop_connect=none",
                             "augmentation.erasing=0.25", "learning_rate=1"], recipe("kit"))
    assert changes["mixup"] == 0.2 and changes["epochs"] == 12 and changes["optimizer"] == "adam"
    assert changes["drop_connect"] is None and isinstance(changes["learning_rate"], float)
    assert changes["augmentation"] == {**recipe("kit").augmentation, "erasing": 0.25}
    for bad in ("mixup", "colour=1", "name=x", "epochs.x=1"):
        with pytest.raises(ValueError, match="--set"):
            parse_changes([bad])
    from helpers.recipes import recipe_with

    assert recipe_with("kit", ["mixup=0.2"]) == recipe("kit", mixup=0.2)
    with pytest.raises(ValueError, match="--set mixup=abc: a value of the wrong type for recipe 'kit'"):
        recipe_with("kit", ["mixup=abc"])
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        recipe_with("nope")


def test_mixup_blends_whole_faces_and_keeps_both_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 8, 8, 3)).astype("float32")
    y = {"age": np.arange(6, dtype="float32") + 20, "gender": np.array([0, 1, -1, 0, 1, 0], "float32")}
    mixed, labels = mix_batch(x, y, np.random.default_rng(1), mixup=0.4)
    lam = float(labels["mix_lambda"][0])
    assert 0 < lam < 1 and np.all(labels["mix_lambda"] == lam)
    partner = np.array([int(a - 20) for a in labels["age_mix"]])
    assert sorted(partner) == list(range(6))  # a reordering of the same batch
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[partner], rtol=1e-5)
    np.testing.assert_array_equal(labels["gender_mix"], y["gender"][partner])
    np.testing.assert_array_equal(labels["age"], y["age"])
    assert mix_batch(x, y, rng) == (x, y)  # nothing asked: the batch as it was


def test_cutmix_pastes_a_box_and_weighs_the_share_kept():
    x = np.zeros((4, 16, 16, 3), "float32") + np.arange(4, dtype="float32")[:, None, None, None]
    y = {"age": np.arange(4, dtype="float32")}
    for seed in range(5):
        mixed, labels = mix_batch(x, y, np.random.default_rng(seed), cutmix=1.0)
        partner = labels["age_mix"].astype(int)
        lam = float(labels["mix_lambda"][0])
        for i in range(4):
            if partner[i] == i:
                continue
            pasted = np.mean(mixed[i, :, :, 0] == partner[i])
            assert pasted == pytest.approx(1 - lam)  # the label weight is the area actually kept


def test_batches_mix_only_when_asked_and_the_same_way_for_one_seed():
    data = synthetic_data(24, 32)
    plain = Batches(data.train, ["age", "gender"], 8, shuffle=True, seed=3)
    assert set(plain[0][1]) == {"age", "gender"}
    a = Batches(data.train, ["age", "gender"], 8, shuffle=True, seed=3, mixing={"mixup": 0.2})
    b = Batches(data.train, ["age", "gender"], 8, shuffle=True, seed=3, mixing={"mixup": 0.2})
    assert set(a[0][1]) == {"age", "gender", "age_mix", "gender_mix", "mix_lambda"}
    np.testing.assert_array_equal(a[1][0], b[1][0])
    with pytest.raises(ValueError, match="mixing"):
        Batches(data.train, ["age"], 8, mixing={"blend": 1.0})


def test_a_mixed_loss_is_the_weighted_sum_of_the_two_labels_losses():
    model = build_model(["age", "gender"], age_head="distribution", age_groups="year", backbone="tiny",
                        image_size=32, weights=None)
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    pred = model(x, training=False)
    own = {"age": np.array([20, 30, 40, 50], "float32"), "gender": np.array([0, 1, 1, -1], "float32")}
    other = {"age": np.array([5, 70, 33, 12], "float32"), "gender": np.array([1, 0, -1, 0], "float32")}

    def loss(y):
        return float(model.compute_loss(x, y, pred))

    for lam in (1.0, 0.0, 0.3):
        mixed = {**own, "age_mix": other["age"], "gender_mix": other["gender"],
                 "mix_lambda": np.full(4, lam, "float32")}
        assert loss(mixed) == pytest.approx(lam * loss(own) + (1 - lam) * loss(other), rel=1e-4)


def test_a_run_with_every_regulariser_trains_resumes_and_keeps_its_averaged_weights(tmp_path):
    from tests.test_training import Interrupt

    rec = recipe("kit", mixup=0.2, cutmix=1.0, ema=0.9, drop_connect=0.3,
                 augmentation={**recipe("kit").augmentation, "erasing": 0.5})
    config = tiny_config(rec, epochs=3)
    assert config["model"]["augmentation"]["erasing"] == 0.5 and config["model"]["drop_connect"] == 0.3
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callbacks=[Interrupt(after=1)], verbose=0)
    resumed = load_model(out / "last.keras")
    assert uses_ema(resumed)  # the moving average travels with the unfinished run
    averages = [np.array(v) for v in resumed.optimizer._model_variables_moving_average]
    raw = [np.array(v) for v in resumed.trainable_variables]
    assert any(not np.allclose(a, r) for a, r in zip(averages, raw))
    from helpers.training import _last_weights  # what a finished run's last.keras keeps: the average
    for v, a in zip(_last_weights(out / "last.keras").trainable_variables, averages):
        np.testing.assert_allclose(np.array(v), a, rtol=1e-6)
    kept = KeepAverages()
    run = train(config, out, callbacks=[kept], verbose=0)
    assert run.finished and np.isfinite(run.history["loss"]).all()
    assert json.loads((out / "config.json").read_text())["recipe"]["ema"] == 0.9
    best_epoch = run.state["best_epoch"]
    if best_epoch > 1:  # epoch 1 was trained before the interruption, its averages not kept here
        best = load_model(out / "best.keras")  # the best epoch is kept as validated: averaged weights
        for b, a in zip(best.trainable_variables, kept.averages[best_epoch]):
            np.testing.assert_allclose(np.array(b), a, rtol=1e-6)
    # the finished run's last.keras holds the last epoch's average too, whichever epoch was best
    last = load_model(out / "last.keras", compile=False)
    for v, a in zip(last.trainable_variables, kept.averages[run.state["epochs_done"]]):
        np.testing.assert_allclose(np.array(v), a, rtol=1e-6)
    # validation saw the averaged weights too: the best model scores what its epoch logged
    logged = run.history.set_index("epoch").loc[best_epoch, "val_age_mae"]
    assert run.metrics["mae"] == pytest.approx(logged, rel=1e-3, abs=1e-3)


class KeepAverages(keras.callbacks.Callback):
    """Copies the optimizer's moving averages at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.averages = {}

    def on_epoch_end(self, epoch, logs=None):
        self.averages[epoch + 1] = [np.array(v) for v in self.model.optimizer._model_variables_moving_average]


def test_ema_weights_are_swapped_in_for_the_block_only():
    model = build_model(["age"], backbone="tiny", image_size=32, weights=None)
    compile_model(model, recipe("kit", ema=0.5), 100, 1)  # the rate stays up
    data = synthetic_data(16, 32)
    batches = Batches(data.train, ["age"], 4)
    model.fit(batches, epochs=1, verbose=0)
    model.train_on_batch(*batches[0])
    before = [np.array(v) for v in model.trainable_variables]
    averages = [np.array(v) for v in model.optimizer._model_variables_moving_average]
    assert any(not np.allclose(b, a) for b, a in zip(before, averages))
    with ema_weights(model):
        for v, a in zip(model.trainable_variables, averages):
            np.testing.assert_array_equal(np.array(v), a)
    for v, b in zip(model.trainable_variables, before):
        np.testing.assert_array_equal(np.array(v), b)
    plain = build_model(["age"], backbone="tiny", image_size=32, weights=None)
    compile_model(plain, recipe("kit"), 2, 1)
    assert not uses_ema(plain)
    with ema_weights(plain):  # no average: nothing to swap
        pass


def test_validation_sees_the_averaged_weights_and_training_goes_on_with_the_raw_ones():
    model = build_model(["age", "gender"], backbone="tiny", image_size=32, weights=None)
    compile_model(model, recipe("kit", ema=0.5), 100, 1)  # the rate stays up
    data = synthetic_data(32, 32)
    batches = Batches(data.train, model.tasks, 8)
    model.fit(batches, epochs=1, verbose=0)  # fit ends by writing the averages into the weights ...
    for i in range(len(batches)):  # ... so train on without it: the raw weights move past the averages
        model.train_on_batch(*batches[i])
    val = Batches(data.val, model.tasks, 8)
    raw_weights = [np.array(v) for v in model.trainable_variables]
    raw = model.evaluate(val, return_dict=True, verbose=0)
    swapped = model.evaluate(val, callbacks=[EmaValidation()], return_dict=True, verbose=0)
    with ema_weights(model):
        averaged = model.evaluate(val, return_dict=True, verbose=0)
    assert swapped["loss"] == pytest.approx(averaged["loss"], rel=1e-6)
    assert swapped["loss"] != pytest.approx(raw["loss"], rel=1e-6)
    for v, w in zip(model.trainable_variables, raw_weights):
        np.testing.assert_array_equal(np.array(v), w)


def test_stochastic_depth_rate_reaches_the_backbone():
    def drop_rates(model):
        backbone = next(layer for layer in model.network.layers if layer.name.startswith("efficientnet"))
        return [layer.rate for layer in backbone.layers if isinstance(layer, keras.layers.Dropout)]

    default = drop_rates(build_model(["age"], backbone="b0", image_size=32, weights=None))
    deeper = drop_rates(build_model(["age"], backbone="b0", image_size=32, weights=None, drop_connect=0.4))
    assert len(default) == len(deeper) > 0
    np.testing.assert_allclose(deeper, np.array(default) * 2)  # Keras' default is 0.2


def test_random_erasing_changes_faces_in_training_only():
    model = build_model(["age"], backbone="tiny", image_size=32, weights=None, augmentation={"erasing": 1.0})
    layer = model.network.get_layer("erasing")
    x = np.full((4, 32, 32, 3), 128.0, "float32")
    assert not np.allclose(np.array(layer(x, training=True)), x)
    np.testing.assert_array_equal(np.array(layer(x, training=False)), x)


def test_cli_train_set_changes_the_recipe_and_refuses_a_bad_field(tmp_path, capsys):
    from helpers.cli import main
    from helpers.sample import make_sample

    faces = make_sample(tmp_path / "sample", n_utkface=24, n_wiki=4) / "UTKFace"
    out = tmp_path / "run"
    rc = main(["train", "--dataset", "utkface", "--source", str(faces), "--profile", "smoke",
               "--weights", "none", "--epochs", "1", "--batch-size", "8",
               "--image-size", "32", "--set", "mixup=0.2", "--set", "augmentation.erasing=0.25",
               "--out", str(out)])
    assert rc == 0
    recorded = json.loads((out / "config.json").read_text())["recipe"]
    assert recorded["mixup"] == 0.2 and recorded["augmentation"]["erasing"] == 0.25
    assert main(["train", "--dataset", "utkface", "--set", "colour=red", "--out", str(tmp_path / "x")]) == 2
    assert "colour" in capsys.readouterr().err


def test_progressive_stages_split_the_epochs_and_end_at_the_runs_size():
    rec = recipe("kit", progressive=[48, 56])
    assert rec.progressive == (48, 56) and rec.as_dict()["progressive"] == [48, 56]
    assert rec.stages(64, 12) == [(0, 4, 48), (4, 8, 56), (8, 12, 64)]
    assert recipe("kit").stages(64, 12) == [(0, 12, 64)]
    assert "progressive" not in recipe("kit").as_dict()
    assert rec.model_args()["any_size"] and not recipe("kit").model_args()["any_size"]
    with pytest.raises(ValueError, match="must not exceed"):
        rec.stages(52, 12)
    with pytest.raises(ValueError, match="at least as many epochs"):
        rec.stages(64, 2)
    for bad in (48, [16], ["a"]):
        with pytest.raises(ValueError, match="progressive"):
            recipe("kit", progressive=bad)


class WeightsAtEpochEdges(keras.callbacks.Callback):
    """The trainable weights at the end of each epoch and at the start of the next."""

    def __init__(self):
        super().__init__()
        self.ends, self.starts = {}, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.starts[epoch] = [np.array(v) for v in self.model.trainable_variables]

    def on_epoch_end(self, epoch, logs=None):
        self.ends[epoch] = [np.array(v) for v in self.model.trainable_variables]


def test_a_progressive_run_trains_small_then_its_own_size_and_resumes(tmp_path):
    from tests.test_training import Interrupt

    rec = recipe("kit", progressive=[32], ema=0.5)
    config = tiny_config(rec, image_size=40, epochs=3)
    assert config["model"]["any_size"] and config["image_size"] == 40
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callbacks=[Interrupt(after=1)], verbose=0)
    edges = WeightsAtEpochEdges()
    run = train(config, out, callbacks=[edges], verbose=0)  # epoch 2 at 32 px, then epoch 3 at 40 px
    assert run.finished and list(run.history["epoch"]) == [1, 2, 3]
    # between the stages training goes on from its own weights, not from their moving average
    for end, start in zip(edges.ends[1], edges.starts[2]):
        np.testing.assert_array_equal(end, start)
    model = load_model(out / "best.keras")
    assert model.spec["image_size"] == 40
    for size in (32, 40):  # built for any size; it answers at its own
        outputs = model.predict(np.zeros((2, size, size, 3), "float32"), verbose=0)
        assert outputs["age"].shape[0] == 2


def test_efficientnet_builds_for_any_input_size():
    model = build_model(["age"], backbone="b0", image_size=64, weights=None, any_size=True)
    for size in (48, 64):
        assert model.predict(np.zeros((1, size, size, 3), "float32"), verbose=0)["age"].shape == (1, 10)


def test_a_changed_recipe_is_named_after_its_changes_and_retrained_with_them():
    from helpers.recipes import base_name, recipe_changes
    from helpers.shipping import retrain_command

    rec = recipe("kit", mixup=0.2, augmentation={**recipe("kit").augmentation, "erasing": 0.25})
    assert rec.name == "kit+augmentation.erasing=0.25+mixup=0.2" and base_name(rec) == "kit"
    assert recipe("kit").name == "kit" and recipe_changes(recipe("kit")) == []
    config = tiny_config(rec)
    command = retrain_command(config, "runs/x").replace(" \\\n    ", " ")
    assert "--recipe kit " in command
    assert "--set 'mixup=0.2'" in command and "--set 'augmentation.erasing=0.25'" in command
    # the words it prints make the same recipe again
    words = [w.split("'")[1] for w in command.split("--set ")[1:]]
    assert recipe("kit", **parse_changes(words, recipe("kit"))) == rec


def test_expected_age_l1_scores_the_answer_in_tens_of_years_and_adds_to_the_age_loss():
    from helpers.age_heads import age_head
    from helpers.losses import masked_expected_age_l1, task_loss

    head = age_head("distribution", "year")
    n = head.output_size
    probs = np.zeros((3, n), "float32")
    probs[0, 30 - head.age_range[0]] = 1.0  # answers 30 for a 40-year-old: 10 years off
    probs[1, 20 - head.age_range[0]] = 0.5  # answers 25 for a 25-year-old: exact
    probs[1, 30 - head.age_range[0]] = 0.5
    probs[2, 50 - head.age_range[0]] = 1.0  # no age: left out
    years = np.array([40, 25, -1], "float32")
    assert float(masked_expected_age_l1(years, probs, head)) == pytest.approx(0.5)  # (1.0 + 0.0) / 2
    plain = float(task_loss("age", head)(years, probs))
    added = float(task_loss("age", head, age_l1=2.0)(years, probs))
    assert added == pytest.approx(plain + 2.0 * 0.5, rel=1e-5)
    with pytest.raises(ValueError, match="age_l1 needs a distribution or ordinal"):
        task_loss("age", age_head("softmax", "10"), age_l1=1.0)


def test_age_l1_is_recorded_only_when_set_and_needs_an_age_in_years():
    assert "age_l1" not in recipe("kit").as_dict()
    assert recipe("kit", age_l1=1.0).as_dict()["age_l1"] == 1.0
    with pytest.raises(ValueError, match="age_l1"):
        recipe("kit", age_l1=-1.0)
    plain = build_model(["age"], age_head="distribution", age_groups="year", backbone="tiny", image_size=32,
                        weights=None)
    assert "age_l1" not in plain.spec
    model = build_model(["age"], age_head="distribution", age_groups="year", backbone="tiny", image_size=32,
                        weights=None, age_l1=1.0)
    assert model.spec["age_l1"] == 1.0
    with pytest.raises(ValueError, match="age_l1"):
        build_model(["age"], age_head="softmax", backbone="tiny", image_size=32, weights=None, age_l1=1.0)


def test_age_l1_trains_and_its_saved_model_keeps_the_loss(tmp_path):
    config = tiny_config(recipe("kit", age_l1=1.0))
    assert config["model"]["age_l1"] == 1.0 and config["recipe"]["age_l1"] == 1.0
    train(config, tmp_path / "run", verbose=0)
    assert (tmp_path / "run" / "best.keras").exists()
    loaded = load_model(tmp_path / "run" / "best.keras")
    assert loaded.spec["age_l1"] == 1.0
