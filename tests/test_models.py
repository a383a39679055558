"""The model builder, the age heads, save/load and evaluation of outputs."""
import keras
import numpy as np
import pytest

from helpers.age_groups import age_groups
from helpers.age_heads import age_head, to_numpy
from helpers.evaluation import evaluate_outputs
from helpers.models import (
    BACKBONES,
    FEATURE_CHANNELS,
    PUBLISHED_PARAMS,
    WeightsUnavailableError,
    build_backbone,
    build_model,
    load_model,
)

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("float32")


def test_every_backbone_name_builds_its_true_size():
    # the seed imported EfficientNetB4 under the names B4-B7; here each name is its own network
    assert list(BACKBONES) == [f"b{i}" for i in range(8)]
    for name in BACKBONES:
        backbone = build_backbone(name, 32, weights=None)
        assert backbone.name == f"efficientnet{name}"
        assert backbone.count_params() == PUBLISHED_PARAMS[name], name
        assert backbone.output_shape[-1] == FEATURE_CHANNELS[name]
        keras.backend.clear_session()
    assert len(set(PUBLISHED_PARAMS.values())) == 8


def test_seed_head_output_shapes_on_b0():
    model = build_model(["age", "gender", "race"], backbone="b0", image_size=32, weights=None, head="seed",
                        age_head="softmax", age_groups="10", input_scale="seed")
    out = model.predict(IMAGES, verbose=0)
    assert {k: v.shape for k, v in out.items()} == {"age": (3, 10), "gender": (3, 2), "race": (3, 5)}
    np.testing.assert_allclose(out["age"].sum(axis=1), 1, rtol=1e-5)
    names = [layer.name for layer in model.network.layers]
    assert "seed_divide_by_255" in names and "head_max_pool" in names and "head_bn" in names


@pytest.mark.parametrize("kind, groups, width", [("softmax", "3", 3), ("softmax", "year", 80),
                                                  ("regression", "10", 1), ("ordinal", "10", 79),
                                                  ("distribution", "5", 80)])
def test_age_head_output_shapes(kind, groups, width):
    model = build_model(["age", "race"], backbone="tiny", image_size=32, weights=None, head="kit",
                        age_head=kind, age_groups=groups)
    out = model.predict(IMAGES, verbose=0)
    assert out["age"].shape == (3, width) and out["race"].shape == (3, 5)
    assert "gender" not in out
    assert "head_average_pool" in [layer.name for layer in model.network.layers]


def test_augmentation_is_inactive_at_inference():
    model = build_model(["age"], backbone="tiny", image_size=32, weights=None,
                        augmentation={"flip": 1, "rotation": 0.1, "zoom": 0.1, "translation": 0.1, "contrast": 0.2})
    a = to_numpy(model(IMAGES, training=False)["age"])
    b = to_numpy(model(IMAGES, training=False)["age"])
    np.testing.assert_array_equal(a, b)
    augment = model.network.get_layer("rotation")
    assert not np.allclose(to_numpy(augment(IMAGES, training=True)), IMAGES)
    np.testing.assert_array_equal(to_numpy(augment(IMAGES, training=False)), IMAGES)


def test_missing_imagenet_weights_name_the_fix(monkeypatch):
    def offline(**kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "EfficientNetB0", offline)
    with pytest.raises(WeightsUnavailableError, match=r"weights=None.*--weights none"):
        build_backbone("b0", 56, weights="imagenet")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="must include age"):
        build_model(["gender"], backbone="tiny", weights=None)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model(["age"], backbone="b8", weights=None)
    with pytest.raises(ValueError, match="unknown age head"):
        build_model(["age"], backbone="tiny", age_head="poisson", weights=None)


def test_save_and_load_round_trip(tmp_path):
    from helpers.recipes import recipe
    from helpers.training import Batches, compile_model, synthetic_data

    model = build_model(["age", "gender", "race"], backbone="tiny", image_size=32, weights=None, head="kit",
                        age_head="ordinal", loss_weighting="uncertainty")
    compile_model(model, recipe("kit"), steps_per_epoch=2, epochs=1)
    data = synthetic_data(16, 32)
    model.fit(Batches(data.train, model.tasks, 8), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.spec == model.spec
    for key, value in model.predict(IMAGES, verbose=0).items():
        np.testing.assert_allclose(loaded.predict(IMAGES, verbose=0)[key], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(loaded.weighting.log_vars), to_numpy(model.weighting.log_vars))
    steps = int(to_numpy(model.optimizer.iterations))
    assert steps == 2 and int(to_numpy(loaded.optimizer.iterations)) == steps  # the optimizer state came back


def test_age_heads_serve_the_schemes_they_can():
    assert age_head("softmax", "10").served() == ["10"]
    assert age_head("softmax", "5").served() == ["5"]
    assert age_head("softmax", "year").served() == ["3", "5", "10"]
    for kind in ("regression", "ordinal", "distribution"):
        assert age_head(kind, "10").served() == ["3", "5", "10"]
    assert not age_head("softmax", "10").gives_years and age_head("softmax", "year").gives_years


def test_ordinal_output_read_by_hand():
    head = age_head("ordinal", "3")
    cumulative = np.zeros((1, 79), dtype="float32")
    cumulative[0, :29] = 1.0  # P(age > t) = 1 for t = 1..29, 0 after: the age is 30
    cumulative[0, 29] = 0.5  # ... or 31, half and half
    assert float(to_numpy(head.predicted_years(cumulative))[0]) == pytest.approx(30.5)
    p = to_numpy(head.class_probabilities(cumulative))[0]
    assert p[29] == pytest.approx(0.5) and p[30] == pytest.approx(0.5) and p.sum() == pytest.approx(1)
    np.testing.assert_allclose(to_numpy(head.scheme_probabilities(cumulative, age_groups("3")))[0], [0, 1, 0])


def test_evaluation_by_hand():
    spec = {"tasks": ["age", "gender"],
            "age_head": age_head("distribution", "10").to_spec()}
    probs = np.zeros((4, 80), dtype="float32")
    for i, a in enumerate([5, 30, 60, 30]):  # predicted ages
        probs[i, a - 1] = 1.0
    labels = {"age": np.array([6, 40, 60, -1], dtype="float32"), "gender": np.array([0, 1, -1, 1])}
    gender = np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9]], dtype="float32")
    m = evaluate_outputs({"age": probs, "gender": gender}, labels, spec)
    assert m["n"] == 4
    assert m["mae"] == pytest.approx((1 + 10 + 0) / 3)
    assert m["age_3"] == pytest.approx(1.0)  # 6/5 -> 1-26, 40/30 -> 27-52, 60 -> 53-80
    assert m["age_5"] == pytest.approx(2 / 3)  # 40 is 40-55 but 30 is 24-39
    assert m["age_10"] == pytest.approx(2 / 3)
    assert m["gender"] == pytest.approx(2 / 3) and m["n_labelled"]["gender"] == 3
    assert m["confusion"]["gender"] == [[1, 0], [1, 1]]
    assert "race" not in m


def test_group_softmax_reports_its_own_scheme_only():
    spec = {"tasks": ["age"], "age_head": age_head("softmax", "10").to_spec()}
    probs = np.eye(10, dtype="float32")[[0, 3]]
    m = evaluate_outputs({"age": probs}, {"age": np.array([4.0, 60.0])}, spec)
    assert "age_3" not in m and "age_5" not in m
    assert m["age_10"] == 0.5
    assert m["mae"] == pytest.approx((0.5 + 31.5) / 2)  # group centres 4.5 and 28.5


def test_an_unreadable_model_file_says_what_is_wrong(tmp_path, capsys):
    import zipfile

    from helpers.cli import main
    from helpers.models import ModelFileError

    model = build_model(["age"], backbone="tiny", image_size=32, weights=None)
    good = tmp_path / "good.keras"
    model.save(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.keras"
    text.write_text("these are my notes, not a model\n")
    other_zip = tmp_path / "photos.keras"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("photo.txt", "hello")
    with pytest.raises(FileNotFoundError, match=r"missing\.keras: model file missing"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ModelFileError, match=r"truncated\.keras: damaged or truncated model file"):
        load_model(truncated)
    with pytest.raises(ModelFileError, match=r"notes\.keras: not a Keras model file \(a \.keras file is a zip"):
        load_model(text)
    with pytest.raises(ModelFileError, match=r"photos\.keras: not a Keras model file \(a zip archive without"):
        load_model(other_zip)
    assert load_model(good).spec == model.spec
    # the command line says the same in one line, without a traceback
    from helpers.faces import ASTRONAUT

    for path, words in ((truncated, "damaged or truncated"), (text, "not a Keras model file")):
        assert main(["predict", str(path), str(ASTRONAUT)]) == 1
        err = capsys.readouterr().err
        assert str(path) in err and words in err and "Traceback" not in err
