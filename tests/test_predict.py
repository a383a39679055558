"""helpers.predict: photo -> faces -> labels, drawing, the default model, bad files and the bench."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.faces import ASTRONAUT, group_photo
from helpers.images import ImageError
from helpers.predict import DEFAULT_MODEL_DIR

from .test_images import huge_png_header

ROOT = Path(__file__).resolve().parents[1]
AGES_10 = ["1-8", "9-16", "17-24", "25-32", "33-40", "41-48", "49-56", "57-64", "65-72", "73-80"]


def train_tiny_run(folder: Path, *, n_images: int = 30, image_size: int = 32, epochs: int = 1) -> Path:
    """A finished run folder of a tiny three-task model (per-year age head) trained one epoch on drawn faces.

    The faces are written in UTKFace's naming under ``folder/faces``, so the run's split.csv
    lists real validation files; the run itself is ``folder/run``.
    """
    from helpers.sample import draw_face
    from helpers.training import run_config, train

    faces = folder / "faces"
    faces.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n_images):
        age, gender, race = int(rng.integers(2, 80)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        draw_face(rng, age, gender, race, 96).save(faces / f"{age}_{gender}_{race}_2017010{i:010d}.jpg.chip.jpg")
    with pytest.MonkeyPatch.context() as mp:  # keep the image cache out of the kit's data folder
        mp.setenv("AGEKIT_DATA", str(folder / "kitdata"))
        mp.setenv("AGEKIT_RUNS", str(folder / "runs"))
        config = run_config(dataset="utkface", source=faces, tasks="age,gender,race", age_groups="year",
                            recipe="kit", profile="smoke", backbone="tiny", image_size=image_size, weights=None,
                            epochs=epochs, batch_size=8, n_images=n_images)
        return train(config, folder / "run", verbose=0).path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("tiny"))


def _predict_module():
    return sys.modules["helpers.predict"]  # `helpers.predict` the attribute is the function


def test_one_face_every_field(tiny_run):
    from helpers.predict import predict

    result = predict(ASTRONAUT, tiny_run)
    assert len(result) == 1 and result.width == 400 and result.height == 400
    face = result.faces[0]
    x, y, w, h = face["box"]
    assert 0 <= x < x + w <= 400 and 0 <= y < y + h <= 400 and w > 30
    assert face["confidence"] > 0.9
    assert face["age_groups"] == "10" and face["age_group"] in AGES_10
    assert list(face["age_probabilities"]) == AGES_10
    assert sum(face["age_probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert 1 <= face["age_years"] <= 80  # a per-year head gives years
    assert face["gender"] in ("male", "female") and set(face["gender_probabilities"]) == {"male", "female"}
    assert face["race"] in face["race_probabilities"] and len(face["race_probabilities"]) == 5
    assert face["age_group"] in face["label"] and face["gender"] in face["label"]
    assert result.crops[0].shape == (32, 32, 3)
    assert set(result.timings_ms) == {"read", "detect", "crop", "model"}
    json.loads(result.to_json())  # JSON-ready
    assert list(result.table().columns[:3]) == ["box", "confidence", "age group"]


def test_same_answers_as_the_evaluation_module(tiny_run):
    from helpers.evaluation import describe_outputs
    from helpers.predict import load_predictor

    predictor = load_predictor(tiny_run)
    crops = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    mine = predictor.describe(crops)
    theirs = describe_outputs(predictor.outputs(crops), predictor.spec)
    for a, b in zip(mine, theirs, strict=True):
        a.pop("label")
        assert a == b


def test_no_face_gives_an_empty_answer(tiny_run):
    from helpers.drawing import draw_predictions, prediction_html
    from helpers.predict import predict

    grey = np.full((200, 260, 3), 128, np.uint8)
    result = predict(grey, tiny_run)
    assert result.faces == [] and result.crops == [] and len(result.table()) == 0
    assert "agekit-no-face" in prediction_html(grey, result)
    assert np.array_equal(np.asarray(draw_predictions(grey, result)), grey)


def test_many_faces_largest_first(tiny_run):
    from helpers.drawing import draw_predictions, prediction_html
    from helpers.predict import predict

    photo, places = group_photo()
    result = predict(photo, tiny_run)
    assert len(result) == len(places) == 3
    areas = [f["box"][2] * f["box"][3] for f in result.faces]
    assert areas == sorted(areas, reverse=True)
    for face, (px, py, pw, ph) in zip(result.faces, places):  # each box inside its pasted copy
        x, y, w, h = face["box"]
        assert px <= x + w / 2 <= px + pw and py <= y + h / 2 <= py + ph
    assert all(f["age_group"] in AGES_10 for f in result.faces)
    page = prediction_html(photo, result)
    assert page.count('class="agekit-box"') == 3 and page.count('class="agekit-label"') == 3
    drawn = np.asarray(draw_predictions(photo, result))
    assert drawn.shape == photo.shape and not np.array_equal(drawn, photo)
    assert predict(photo, tiny_run, max_faces=1).faces == result.faces[:1]


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "bytes"])
def test_bad_files_raise_an_error_naming_them(tiny_run, tmp_path, kind):
    from helpers.predict import predict

    path = tmp_path / f"{kind}.jpg"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a picture")
    elif kind == "truncated":
        data = ASTRONAUT.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    source = b"\x89PNG junk" if kind == "bytes" else path
    with pytest.raises(ImageError) as err:
        predict(source, tiny_run)
    assert ("uploaded file" if kind == "bytes" else path.name) in str(err.value)


def test_many_files_go_on_past_a_bad_one(tiny_run, tmp_path):
    from helpers.predict import predict_files

    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    chip = sorted((tiny_run.parent / "faces").glob("*.jpg"))[0]
    detected = predict_files([bad, ASTRONAUT], tiny_run)
    assert "error" in detected[0] and len(detected[1]["faces"]) == 1
    whole = predict_files([chip], tiny_run, detect=False)
    assert whole[0]["image"] == str(chip) and whole[0]["age_group"] in AGES_10 and "box" not in whole[0]


def test_upload_bytes_and_exif_orientation(tiny_run):
    import io

    from helpers.predict import predict, read_photo, uploaded_files

    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer turns it 90 degrees clockwise
    Image.open(ASTRONAUT).rotate(90, expand=True).save(buf, format="JPEG", exif=exif)
    data = buf.getvalue()
    assert read_photo(data).shape == (400, 400, 3)
    assert len(predict(data, tiny_run)) == 1
    v8 = ({"name": "me.jpg", "content": memoryview(data)},)
    v7 = {"me.jpg": {"metadata": {}, "content": data}}
    assert uploaded_files(v8) == uploaded_files(v7) == [("me.jpg", data)]


def test_crop_margin_follows_the_training_data(tiny_run, tmp_path):
    import shutil

    from helpers.predict import TRAINING_MARGINS, load_predictor, predict

    assert load_predictor(tiny_run).margin == TRAINING_MARGINS["utkface"] == 0.0
    wiki = tmp_path / "wiki-run"
    shutil.copytree(tiny_run, wiki)
    config = json.loads((wiki / "config.json").read_text())
    (wiki / "config.json").write_text(json.dumps({**config, "dataset": "wiki"}))
    assert load_predictor(wiki).margin == 0.4
    assert predict(ASTRONAUT, tiny_run, margin=0.4).margin == 0.4
    tight, loose = predict(ASTRONAUT, tiny_run).crops[0], predict(ASTRONAUT, tiny_run, margin=0.4).crops[0]
    assert not np.array_equal(tight, loose)


def test_model_forms_and_the_default_model(tiny_run, tmp_path, monkeypatch):
    from helpers.predict import ModelNotFoundError, find_model, list_models, load_predictor, predict
    from helpers.training import load_run

    monkeypatch.setattr(_predict_module(), "DEFAULT_MODEL_DIR", tmp_path / "models" / "default")
    monkeypatch.delenv("AGEKIT_MODEL", raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        predict(ASTRONAUT)
    message = str(err.value)
    assert "models/default" in message and "python -m helpers train" in message and "AGEKIT_MODEL" in message
    assert find_model() is None and list_models() == {}  # the test's runs folder is empty

    monkeypatch.setenv("AGEKIT_MODEL", str(tiny_run))
    assert predict(ASTRONAUT).model == str(tiny_run)
    assert find_model() == tiny_run and list(list_models().values()) == [str(tiny_run)]
    by_file = load_predictor(tiny_run / "best.keras")
    assert by_file.margin == 0.0  # config.json beside the file
    assert load_predictor(load_run(tiny_run)).spec == by_file.spec
    assert load_predictor(by_file.model).spec == by_file.spec
    with pytest.raises(ModelNotFoundError, match="no model there"):
        load_predictor(tmp_path)


def test_finished_runs_are_listed_newest_first(tiny_run, tmp_path, monkeypatch):
    import shutil

    from helpers.predict import find_model, list_models

    monkeypatch.setattr(_predict_module(), "DEFAULT_MODEL_DIR", tmp_path / "none")
    monkeypatch.delenv("AGEKIT_MODEL", raising=False)
    runs = tmp_path / "runs"
    for name, stamp in (("older", "2020-01-01T00:00:00"), ("newer", "2021-01-01T00:00:00")):
        shutil.copytree(tiny_run, runs / name)
        state = json.loads((runs / name / "state.json").read_text())
        (runs / name / "state.json").write_text(json.dumps({**state, "updated": stamp}))
    shutil.copytree(tiny_run, runs / "unfinished")
    (runs / "unfinished" / "state.json").write_text(json.dumps({"finished": False}))
    found = list_models(runs)
    assert [Path(p).name for p in found.values()] == ["newer", "older"]
    assert all("utkface, age+gender+race, tiny 32 px" in label for label in found)
    assert find_model() == runs / "newer"


def test_validation_examples_are_the_runs_own(tiny_run):
    import pandas as pd

    from helpers.drawing import example_html
    from helpers.examples import validation_examples
    from helpers.predict import predict

    examples = validation_examples(tiny_run, n=4)
    split = pd.read_csv(tiny_run / "split.csv")
    assert set(examples["path"]) <= set(split.loc[split["split"] == "val", "path"])
    assert "validation" in examples.attrs["origin"] and len(examples) == 4
    shown = []
    for row in examples.to_dict("records"):
        page = example_html(row, predict(row["path"], tiny_run, detect=False))
        assert f"age {row['age']:g}" in page and "agekit-prediction" in page
        shown.append(page.split('class="agekit-prediction"')[1].split("</div>")[0])
    assert len(set(shown)) > 1  # different images, different answers (the browser test relies on it)


def test_validation_examples_found_by_name_or_else_the_kits_data(tiny_run, tmp_path, monkeypatch):
    import shutil

    import pandas as pd

    from helpers.examples import validation_examples

    faces = tiny_run.parent / "faces"
    moved = tmp_path / "moved-run"  # a run trained on another machine: its split.csv paths are not here
    shutil.copytree(tiny_run, moved)
    split = pd.read_csv(moved / "split.csv")
    split["path"] = ["/elsewhere/UTKFace/" + Path(p).name for p in split["path"]]
    split.to_csv(moved / "split.csv", index=False)
    monkeypatch.setattr(sys.modules["helpers.examples"], "_kit_data", lambda dataset: (faces, False))
    found = validation_examples(moved, n=100)
    assert "kit's copy" in found.attrs["origin"] and len(found) == (split["split"] == "val").sum()
    assert all(Path(p).parent == faces for p in found["path"])
    (moved / "split.csv").unlink()  # no split.csv: the seed split drawn again gives the same images
    again = validation_examples(moved, n=100)
    assert "drawn again" in again.attrs["origin"] and sorted(again["path"]) == sorted(found["path"])
    monkeypatch.setattr(sys.modules["helpers.examples"], "_kit_data", lambda dataset: (faces, True))
    sample = validation_examples(moved, n=5)
    assert "OFFLINE SAMPLE" in sample.attrs["origin"] and len(sample) == 5


def test_the_jax_backend_gives_the_same_answer(tiny_run):
    import os
    import subprocess

    from helpers.predict import predict

    chips = sorted((tiny_run.parent / "faces").glob("*.jpg"))[:3]
    code = ("import json, sys; from helpers.predict import predict; "
            "print(json.dumps([predict(p, sys.argv[1], detect=False).faces[0] for p in sys.argv[2:]]))")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", code, str(tiny_run), *map(str, chips)], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=True)
    on_jax = json.loads(out.stdout.strip().splitlines()[-1])
    for chip, theirs in zip(chips, on_jax, strict=True):
        mine = predict(chip, tiny_run, detect=False).faces[0]
        assert mine["age_group"] == theirs["age_group"] and mine["gender"] == theirs["gender"]
        assert mine["age_years"] == pytest.approx(theirs["age_years"], abs=0.2)


def test_bench_reports_ms_per_photo(tiny_run):
    from helpers.predict_bench import bench_predict

    report = bench_predict(tiny_run, repeats=2)
    assert report["ms_per_photo"] > 0 and report["photos"]["astronaut"]["faces"] == 1
    assert report["photos"]["group"]["faces"] == 3 and isinstance(report["meets_target"], bool)
    photos = report["photos"].values()
    assert report["ms_per_photo"] == pytest.approx(sum(p["ms"] for p in photos) / len(photos), abs=0.1)


def test_bench_command(tiny_run, capsys, monkeypatch):
    from helpers import cli

    if "helpers.cli_predict" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "helpers.cli_predict"])
    assert cli.main(["bench", "predict", "--model", str(tiny_run), "--repeats", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ms_per_photo"] > 0
    assert cli.main(["bench", "predict", "--model", str(tiny_run), "--repeats", "1"]) == 0
    assert "ms per photo" in capsys.readouterr().out


def test_predict_command_without_a_run_folder(tiny_run, tmp_path, capsys, monkeypatch):
    from helpers.cli import main

    monkeypatch.setenv("AGEKIT_MODEL", str(tiny_run))
    assert main(["predict", str(ASTRONAUT), "--detect", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer[0]["image"] == str(ASTRONAUT) and answer[0]["faces"][0]["age_group"] in AGES_10
    assert main(["predict", str(tiny_run), str(ASTRONAUT), "--json"]) == 0  # a run folder first still works
    assert json.loads(capsys.readouterr().out)[0]["age_group"] in AGES_10
    monkeypatch.setenv("AGEKIT_MODEL", str(tmp_path / "nowhere"))
    assert main(["predict", str(ASTRONAUT), "--detect", "--json"]) == 1
    assert "no default model" in capsys.readouterr().err
    assert main(["predict", str(tiny_run)]) == 1
    assert "name one or more image files" in capsys.readouterr().err


def test_importing_the_kit_loads_no_keras():
    import subprocess

    code = "import helpers, helpers.predict, sys; print('keras' in sys.modules, callable(helpers.predict))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split()[0] == "False"


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "best.keras").is_file(), reason="no default model yet")
def test_the_shipped_default_model_works_and_its_benchmark_reports(monkeypatch):
    # the speed target is checked by the benchmark command (`bench predict`), not here: a unit
    # test's timing depends on whatever else the machine runs
    from helpers.predict import predict
    from helpers.predict_bench import TARGET_MS_PER_PHOTO, bench_predict

    monkeypatch.delenv("AGEKIT_MODEL", raising=False)
    face = predict(ASTRONAUT).faces[0]
    assert face["age_years"] is not None and {"gender", "race"} <= set(face)
    report = bench_predict(repeats=3)
    assert report["ms_per_photo"] > 0 and report["target_ms"] == TARGET_MS_PER_PHOTO
    assert report["meets_target"] == (report["ms_per_photo"] <= TARGET_MS_PER_PHOTO)


# --- many files, streamed: iter_predictions and the predict command ----------------------------


def _chips(tiny_run, n):
    return sorted((tiny_run.parent / "faces").glob("*.jpg"))[:n]


def test_iter_predictions_is_lazy_and_gives_one_entry_per_file(tiny_run, tmp_path):
    import inspect
    import shutil

    from helpers.predict import iter_predictions

    first, second = _chips(tiny_run, 2)
    later = tmp_path / "later.jpg"  # not there yet when the generator starts
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a picture")
    entries = iter_predictions([first, later, bad], tiny_run, detect=False)
    assert inspect.isgenerator(entries)
    one = next(entries)
    assert one["image"] == str(first) and one["age_group"] in AGES_10
    shutil.copy(second, later)  # made only after the first entry was taken: the second is decoded now
    two, three = next(entries), next(entries)
    assert two["image"] == str(later) and "error" not in two and two["age_group"] in AGES_10
    assert three["image"] == str(bad) and str(bad) in three["error"]
    assert next(entries, None) is None


def test_iter_predictions_decodes_one_file_per_entry(tiny_run, monkeypatch):
    from helpers.predict import iter_predictions

    calls = []
    real = _predict_module().decode_photo
    monkeypatch.setattr(_predict_module(), "decode_photo", lambda image, **kw: calls.append(image) or real(image, **kw))
    chips = [str(p) for p in _chips(tiny_run, 3)]
    entries = iter_predictions(chips, tiny_run, detect=False)
    assert calls == []  # nothing happens before the first entry is asked for
    next(entries)
    assert calls == [chips[0]]
    assert len(list(entries)) == 2 and calls == chips


def test_predict_command_reports_bad_files_and_goes_on(tiny_run, tmp_path, capsys):
    from helpers.cli import main

    (good,) = _chips(tiny_run, 1)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_text("this is text, not a JPEG")
    huge = huge_png_header(tmp_path / "huge.png")
    assert main(["predict", str(tiny_run), str(good), str(corrupt), str(huge)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{good}: age ") and "error" not in lines[0]
    assert lines[1].startswith(f"{corrupt}: error: ") and "not an image" in lines[1]
    assert lines[2].startswith(f"{huge}: error: ") and "too large" in lines[2]
    assert lines[3] == "3 image(s), 2 unreadable"
    assert main(["predict", str(tiny_run), str(corrupt), str(huge)]) == 1  # every image failed
    out = capsys.readouterr().out
    assert f"{corrupt}: error:" in out and f"{huge}: error:" in out
    assert main(["predict", str(tiny_run), str(corrupt), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["image"] == str(corrupt) and str(corrupt) in entry["error"]


def test_predict_command_expands_folders_and_prints_a_json_list(tiny_run, tmp_path, capsys):
    import shutil

    from helpers.cli import main

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    chips = _chips(tiny_run, 3)
    shutil.copy(chips[0], folder / "b.jpg")
    shutil.copy(chips[1], folder / "sub" / "a.png")
    (folder / "notes.txt").write_text("not an image file: left out")
    (folder / ".hidden.jpg").write_bytes(chips[2].read_bytes())  # hidden: left out
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    assert main(["predict", str(tiny_run), str(folder), str(chips[2]), str(empty), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [e["image"] for e in answer] == [str(folder / "b.jpg"), str(folder / "sub" / "a.png"), str(chips[2]),
                                            str(empty)]
    assert all(e["age_group"] in AGES_10 for e in answer[:3])
    assert "folder without image files" in answer[3]["error"]
    assert main(["predict", str(tiny_run), str(folder), "--detect", "--json"]) == 0
    detected = json.loads(capsys.readouterr().out)
    assert len(detected) == 2 and all(isinstance(e["faces"], list) for e in detected)


def test_predict_command_prints_each_answer_before_the_next_is_made(tiny_run, capsys, monkeypatch):
    from helpers.cli import main

    chips = _chips(tiny_run, 3)
    seen = []
    real = _predict_module()._entry

    def entry(path, *args):
        seen.append(capsys.readouterr().out)  # what was printed before this file was started
        return real(path, *args)

    monkeypatch.setattr(_predict_module(), "_entry", entry)
    assert main(["predict", str(tiny_run), *map(str, chips)]) == 0
    assert str(chips[0]) not in seen[0]
    assert f"{chips[0]}: age " in seen[1] and str(chips[1]) not in seen[1]
    assert f"{chips[1]}: age " in seen[2]


# --- cropped as the training data: the predictor's crop -----------------------------------------


def test_predictor_crop_follows_the_config_unless_overridden(tiny_run):
    from helpers.faces import CropSettings
    from helpers.predict import load_predictor

    assert json.loads((tiny_run / "config.json").read_text())["dataset"] == "utkface"
    plain = load_predictor(tiny_run)
    assert plain.crop == CropSettings(0.0, False) and plain.margin == 0.0 and plain.align is False
    wider = load_predictor(tiny_run, margin=0.3)
    assert wider.crop == CropSettings(0.3, False) and wider.margin == 0.3
    assert load_predictor(tiny_run).margin == 0.0  # the override is its own predictor, not the cached one changed
    assert "crop margin 0.3" in repr(wider)


# --- evaluation with faces found and re-cut -----------------------------------------------------


def test_evaluate_with_recrop_counts_faceless_images_as_unreadable(tiny_run, tmp_path, capsys):
    import shutil

    from helpers.cli import main
    from helpers.evaluation import evaluate_run, recropped_images
    from helpers.faces import CropSettings

    drawn = sorted((tiny_run.parent / "faces").glob("*.jpg"))
    # MTCNN finds no face in the drawn faces: every one is left out and counted, none is scored
    metrics = evaluate_run(tiny_run, "utkface", tiny_run.parent / "faces", recrop=True, progress=False)
    assert metrics["recropped"] is True and metrics["crop"] == {"margin": 0.0, "align": False}
    assert metrics["n"] == 0 and metrics["n_unreadable"] == len(drawn)
    # a real face among them is found, cut as the model's training faces were, and scored
    folder = tmp_path / "faces"
    folder.mkdir()
    for chip in drawn:
        shutil.copy(chip, folder / chip.name)
    shutil.copy(ASTRONAUT, folder / "38_1_0_20170109150557335.jpg.chip.jpg")
    metrics = evaluate_run(tiny_run, "utkface", folder, recrop=True, progress=False)
    assert metrics["n"] == 1 and metrics["n_unreadable"] == len(drawn)
    assert metrics["n_labelled"]["gender"] == 1 and metrics["gender"] in (0.0, 1.0)
    batch = recropped_images(sorted(folder.glob("*.jpg")), 32, CropSettings(0.0, False), progress=False)
    assert batch.images.shape == (1, 32, 32, 3) and len(batch.errors) == len(drawn)
    assert all("no face found" in why for why in batch.errors.values())
    plain = evaluate_run(tiny_run, "utkface", folder, progress=False)  # as they are: every image scored
    assert plain["recropped"] is False and plain["n"] == len(drawn) + 1 and plain["n_unreadable"] == 0
    assert plain["crop"] == {"margin": 0.0, "align": False}
    assert main(["evaluate", str(tiny_run), "--dataset", "utkface", "--source", str(folder), "--recrop", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["recropped"] is True and printed["n"] == 1 and printed["n_unreadable"] == len(drawn)
    assert main(["evaluate", str(tiny_run), "--dataset", "utkface", "--source", str(folder), "--recrop"]) == 0
    assert "faces found and re-cut" in capsys.readouterr().out


# --- the benchmark on a large photo -------------------------------------------------------------


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory):
    """A 2400 x 1600 JPEG: the astronaut four times her size on a grey canvas."""
    canvas = Image.new("RGB", (2400, 1600), (120, 120, 120))
    canvas.paste(Image.open(ASTRONAUT).convert("RGB").resize((1600, 1600), Image.Resampling.BILINEAR), (400, 0))
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    canvas.save(path, quality=90)
    return path


def test_bench_on_a_large_photo_reports_its_size_and_memory(tiny_run, big_photo):
    from helpers.predict_bench import bench_predict

    report = bench_predict(tiny_run, repeats=1, photos={"big": big_photo})
    big = report["photos"]["big"]
    assert list(report["photos"]) == ["big"]
    assert big["size"] == [2400, 1600] and big["faces"] >= 1
    for key in ("rss_mb_backend", "rss_mb_model_loaded", "peak_rss_mb"):
        assert isinstance(report[key], float) and report[key] > 0, key
    assert report["peak_rss_mb"] >= big["peak_rss_mb"] >= report["rss_mb_model_loaded"] >= report["rss_mb_backend"]


def test_bench_command_with_a_photo(tiny_run, big_photo, capsys):
    from helpers.cli import main

    assert main(["bench", "predict", "--photo", str(big_photo), "--repeats", "1", "--model", str(tiny_run)]) == 0
    out = capsys.readouterr().out
    assert "big.jpg" in out and "2400x1600" in out and "group" not in out
    assert "peak memory" in out and "TensorFlow imported" in out and "model loaded" in out


# --- class names: one table -------------------------------------------------------------------


def test_class_names_are_defined_once():
    import re

    import helpers.datasets
    import helpers.drawing
    import helpers.evaluation
    import helpers.predict  # noqa: F401
    import helpers.scorecard

    names = helpers.datasets.CLASS_NAMES
    assert names["race"] is helpers.datasets.RACES and names["gender"] is helpers.datasets.GENDERS
    for module in (_predict_module(), helpers.drawing, helpers.evaluation):
        assert module.CLASS_NAMES is names, module.__name__
    for task in ("gender", "race"):
        assert helpers.scorecard.KEY_CLASSES[task] is names[task]
    literal = re.compile(r"""["']White["']\s*,\s*["']Black["']\s*,\s*["']Asian["']\s*,\s*["']Indian["']\s*,"""
                         r"""\s*["']Others["']""")
    sources = {p.name: p.read_text() for p in (ROOT / "helpers").glob("*.py")}
    assert literal.search(sources["datasets.py"])  # the pattern finds the one definition
    assert [name for name, text in sources.items() if literal.search(text) and name != "datasets.py"] == []
