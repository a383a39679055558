"""MTCNN detection and cropping: no face, many faces, every image mode, broken files, the CLI."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import faces as F
from helpers.cli import main
from helpers.images import ImageError
from helpers.sample import write_imdb_wiki_mat

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo():
    return F.astronaut()


@pytest.fixture(scope="module")
def photo_face(photo):
    found = F.detect_faces(photo)
    assert len(found) == 1
    return found[0]


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def _paste(canvas_hw, photo, placements):
    """A gray canvas with ``photo`` pasted at (x, y, scale) each; returns it and the pasted rectangles."""
    rng = np.random.default_rng(1)
    canvas = rng.integers(90, 140, (*canvas_hw, 3), dtype=np.uint8)
    rects = []
    for x, y, s in placements:
        copy = np.asarray(Image.fromarray(photo).resize((round(photo.shape[1] * s), round(photo.shape[0] * s))))
        canvas[y:y + copy.shape[0], x:x + copy.shape[1]] = copy
        rects.append((x, y, copy.shape[1], copy.shape[0]))
    return canvas, rects


def _inside(face, rect):
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    rx, ry, rw, rh = rect
    return rx <= cx <= rx + rw and ry <= cy <= ry + rh


# --- one face, landmarks ---------------------------------------------------------------------


def test_astronaut_has_one_face_with_landmarks_inside(photo_face, photo):
    face = photo_face
    assert F.ASTRONAUT.stat().st_size < 300_000
    assert photo.shape == (400, 400, 3)
    x, y, w, h = face.box
    assert 0.99 <= face.confidence <= 1.0
    assert 120 <= x <= 170 and 30 <= y <= 70 and 50 <= w <= 90 and 60 <= h <= 110  # her face, top left of centre
    kp = face.keypoints
    assert set(kp) == set(F.KEYPOINTS)
    for px, py in kp.values():
        assert x <= px <= x + w and y <= py <= y + h
    assert kp["left_eye"][0] < kp["nose"][0] < kp["right_eye"][0]  # "left" as seen in the picture
    assert max(kp["left_eye"][1], kp["right_eye"][1]) < kp["nose"][1] < min(kp["mouth_left"][1], kp["mouth_right"][1])
    assert abs(F.eye_angle(face)) < 10
    assert json.loads(json.dumps(face.as_dict()))["box"] == list(face.box)


def test_path_pil_and_array_inputs_agree(photo, photo_face):
    for image in (F.ASTRONAUT, str(F.ASTRONAUT), Image.open(F.ASTRONAUT), photo.astype(np.float32) / 255.0):
        found = F.detect_faces(image)
        assert len(found) == 1 and _iou(found[0].box, photo_face.box) > 0.9


# --- no face ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["blank", "noise", "gradient", "tiny", "one_pixel"])
def test_no_face_is_an_empty_list(kind):
    rng = np.random.default_rng(0)
    image = {
        "blank": np.full((240, 320, 3), 128, np.uint8),
        "noise": rng.integers(0, 256, (300, 300, 3), dtype=np.uint8),
        "gradient": np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (200, 1, 3)),
        "tiny": np.full((8, 8, 3), 200, np.uint8),  # smaller than MTCNN's 12-pixel window
        "one_pixel": np.zeros((1, 1), np.uint8),
    }[kind]
    assert F.detect_faces(image) == []
    (result,) = F.crop_faces([image], progress=False)
    assert result.error is None and result.faces == [] and result.crops == []
    assert result.as_dict() == {"file": "<image 0>", "faces": []}


# --- many faces ------------------------------------------------------------------------------


def test_every_face_is_found_largest_first(photo):
    canvas, rects = _paste((520, 1000), photo, [(20, 60, 0.5), (260, 10, 1.0), (700, 200, 0.7)])
    found = F.detect_faces(canvas)
    assert len(found) == 3
    areas = [f.area for f in found]
    assert areas == sorted(areas, reverse=True)
    # largest copy (scale 1.0) first, then 0.7, then 0.5
    for face, rect in zip(found, [rects[1], rects[2], rects[0]]):
        assert _inside(face, rect)
    assert len({tuple(f.box) for f in found}) == 3


def test_group_photo_helper_places_copies_where_it_says(photo):
    canvas, places = F.group_photo(photo, scales=(1.0, 0.5))
    assert canvas.dtype == np.uint8 and len(places) == 2
    found = F.detect_faces(canvas)
    assert len(found) == 2
    assert _inside(found[0], places[0]) and _inside(found[1], places[1])


def test_min_face_size_sets_the_smallest_face_looked_for(photo):
    scene, places = F.group_photo(photo, scales=(1.0, 0.6, 0.35))  # face boxes about 66, 41 and 23 px wide
    assert len(F.detect_faces(scene)) == 3
    assert [_inside(f, p) for f, p in zip(F.detect_faces(scene, min_face_size=60), places)] == [True, True]
    (largest,) = F.detect_faces(scene, min_face_size=100)
    assert _inside(largest, places[0])
    # a larger min_face_size on a small image still searches it (mtcnn 1.0's own pyramid finds nothing here)
    small = np.asarray(Image.fromarray(photo).resize((160, 160)))
    assert len(F.detect_faces(small, min_face_size=40)) == 1
    with pytest.raises(ValueError, match="min_face_size"):
        F.detect_faces(small, min_face_size=0)


def test_min_confidence_filters(photo):
    assert F.detect_faces(photo, min_confidence=0.9)
    canvas, _ = _paste((520, 1000), photo, [(20, 60, 0.5), (260, 10, 1.0)])
    confidences = sorted(f.confidence for f in F.detect_faces(canvas, min_confidence=0.5))
    kept = F.detect_faces(canvas, min_confidence=confidences[0] + 1e-6)
    assert len(kept) == len(confidences) - 1


# --- every mode and broken files -------------------------------------------------------------


def _write_modes(folder: Path, photo: np.ndarray) -> dict[str, Path]:
    img = Image.fromarray(photo)
    paths = {}
    paths["gray"] = folder / "gray.png"
    img.convert("L").save(paths["gray"])
    rgba = img.convert("RGBA")
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    alpha[:, 300:] = 0  # a transparent strip away from the face
    rgba.putalpha(Image.fromarray(alpha))
    paths["rgba"] = folder / "rgba.png"
    rgba.save(paths["rgba"])
    paths["cmyk"] = folder / "cmyk.jpg"
    img.convert("CMYK").save(paths["cmyk"], quality=92)
    paths["16bit"] = folder / "deep.png"
    deep = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
    Image.fromarray(deep).save(paths["16bit"])  # mode I;16
    paths["palette"] = folder / "palette.gif"
    img.convert("P", palette=Image.Palette.ADAPTIVE).save(paths["palette"])
    return paths


def test_every_mode_gives_the_same_face(tmp_path, photo, photo_face):
    paths = _write_modes(tmp_path, photo)
    assert Image.open(paths["16bit"]).mode.startswith("I;16")
    assert Image.open(paths["cmyk"]).mode == "CMYK"
    results = F.crop_faces(list(paths.values()), size=32, progress=False)
    for kind, result in zip(paths, results):
        assert result.error is None, kind
        assert len(result.faces) == 1, kind
        assert _iou(result.faces[0].box, photo_face.box) > 0.75, kind
        assert result.crops[0].shape == (32, 32, 3) and result.crops[0].dtype == np.uint8


def test_array_modes(photo, photo_face):
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    variants = {
        "gray2d": gray,
        "gray3d": gray[..., None],
        "uint16": gray.astype(np.uint16) * 257,
        "rgba": np.dstack([photo, np.full(gray.shape, 255, np.uint8)]),
        "float": photo / 255.0,
    }
    for kind, arr in variants.items():
        rgb = F.as_rgb(arr)
        assert rgb.shape == (400, 400, 3) and rgb.dtype == np.uint8, kind
        (face,) = F.detect_faces(arr)
        assert _iou(face.box, photo_face.box) > 0.75, kind
    with pytest.raises(ImageError, match="shape"):
        F.as_rgb(np.zeros((4, 4, 2), np.uint8))


def test_huge_image_boxes_come_back_in_original_pixels(tmp_path, photo, photo_face):
    canvas, rects = _paste((4000, 6000), photo, [(3500, 1800, 4.0)])
    path = tmp_path / "huge.jpg"
    Image.fromarray(canvas).save(path, quality=85)
    (result,) = F.crop_faces([path], size=48, progress=False)
    assert result.error is None and result.shape == (4000, 6000, 3)
    (face,) = result.faces
    x, y, w, h = face.box
    px, py, pw, ph = photo_face.box
    assert _inside(face, rects[0])
    assert abs(x - (3500 + 4 * px)) < 40 and abs(y - (1800 + 4 * py)) < 40  # original pixels, not detection pixels
    assert 0.75 < w / (4 * pw) < 1.3 and 0.75 < h / (4 * ph) < 1.3
    assert result.crops[0].shape == (48, 48, 3)


def test_broken_files_get_their_own_error_and_the_rest_go_on(tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(F.ASTRONAUT.read_bytes())
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(F.ASTRONAUT.read_bytes()[:20_000])
    missing = tmp_path / "missing.png"
    inputs = [empty, good, corrupt, truncated, missing, good]
    results = F.crop_faces(inputs, out_dir=tmp_path / "out", progress=False, batch_size=2)
    assert [r.file for r in results] == [str(p) for p in inputs]
    for r in (results[0], results[2], results[3], results[4]):
        assert r.error and r.file in r.error and r.faces == []
        assert set(r.as_dict()) == {"file", "error"}
    assert "empty" in results[0].error
    assert len(results[1].faces) == 1 and len(results[5].faces) == 1
    assert [Path(p).name for p in results[1].crop_files] == ["good_face1.png"]
    assert [Path(p).name for p in results[5].crop_files] == ["good-2_face1.png"]  # same name twice: both kept
    with pytest.raises(ImageError, match="corrupt"):
        F.detect_faces(corrupt)


# --- crops -----------------------------------------------------------------------------------


def test_crop_window_margin_and_border():
    face = F.Face((100, 100, 40, 50), 0.99, {k: (120.0, 125.0) for k in F.KEYPOINTS})
    assert F.crop_window(face, (400, 400, 3), 0.0) == (95, 100, 145, 150)  # square on the longer side
    x1, y1, x2, y2 = F.crop_window(face, (400, 400, 3), 0.4)
    assert x2 - x1 == y2 - y1 == 90 and (x1 + x2) / 2 == 120 and (y1 + y2) / 2 == 125
    corner = F.Face((2, 3, 40, 40), 0.99, face.keypoints)
    x1, y1, x2, y2 = F.crop_window(corner, (400, 300, 3), 0.4)
    assert (x1, y1) == (0, 0) and x2 - x1 == y2 - y1 and x2 <= 300 and y2 <= 400
    assert x2 - x1 < 72  # clipped: the margin beyond the border is lost, not padded
    tall = F.Face((10, 5, 60, 60), 0.99, face.keypoints)
    x1, y1, x2, y2 = F.crop_window(tall, (70, 500, 3), 0.4)
    assert y2 - y1 == x2 - x1 <= 70 and 0 <= y1 and y2 <= 70
    with pytest.raises(ValueError, match="margin"):
        F.crop_window(face, (400, 400, 3), -0.1)


def test_crop_face_is_the_window_resized(photo, photo_face):
    for margin in (0.0, 0.4, 1.0):
        x1, y1, x2, y2 = F.crop_window(photo_face, photo.shape, margin)
        expected = np.asarray(Image.fromarray(photo[y1:y2, x1:x2]).resize((64, 64), Image.Resampling.BICUBIC))
        np.testing.assert_array_equal(F.crop_face(photo, photo_face, margin=margin, size=64), expected)
    wide = F.crop_window(photo_face, photo.shape, 1.0)
    tight = F.crop_window(photo_face, photo.shape, 0.0)
    assert wide[2] - wide[0] > 2 * (tight[2] - tight[0]) * 0.99
    from helpers.profiles import profile

    assert F.crop_face(photo, photo_face).shape == (profile().image_size, profile().image_size, 3)


def test_align_levels_the_eyes(photo):
    tilted = np.asarray(Image.fromarray(photo).rotate(-25, resample=Image.Resampling.BICUBIC, expand=True))
    (face,) = F.detect_faces(tilted)
    assert 15 < F.eye_angle(face) < 40  # rotated clockwise on screen
    level = F.crop_face(tilted, face, size=160, align=True)
    plain = F.crop_face(tilted, face, size=160, align=False)
    assert abs(F.eye_angle(F.detect_faces(level)[0])) < 6
    assert F.eye_angle(F.detect_faces(plain)[0]) > 15


def test_batched_detection_equals_one_at_a_time(photo):
    images = [photo, np.roll(photo, 30, axis=1), photo[20:300, 50:370], np.full((400, 400, 3), 90, np.uint8)]
    together = F.detect_many(images, progress=False, batch_size=8)
    for image, result in zip(images, together):
        alone = F.detect_faces(image)
        assert [f.box for f in result.faces] == [f.box for f in alone]
        assert np.allclose([f.confidence for f in result.faces], [f.confidence for f in alone], atol=1e-5)
        assert result.crops == []  # detect_many does not crop
    assert [len(r.faces) for r in together] == [1, 1, 1, 0]


# --- PNet in bands of rows: the detector's memory is capped -------------------------------------


@pytest.mark.parametrize("shape", [(1, 301, 300, 3), (2, 257, 130, 3)])
def test_pnet_in_strips_equals_one_call(monkeypatch, shape):
    import tensorflow as tf

    cascade = F._detector()
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, shape), tf.float32)
    whole_reg, whole_prob = cascade.pnet(x)
    calls = []
    real_pnet = cascade.pnet

    def counted(band):
        calls.append(tuple(int(d) for d in band.shape))
        return real_pnet(band)

    monkeypatch.setattr(F, "PNET_STRIP_PIXELS", 40 * 300)
    monkeypatch.setattr(cascade, "pnet", counted)
    reg, prob = cascade._pnet_strips(x)
    assert len(calls) > 2 and all(c[1] < shape[1] for c in calls)  # really in bands, each less than the level
    assert all(c[0] * c[1] * c[2] <= max(40 * 300, c[0] * 24 * c[2]) for c in calls)
    assert reg.shape == whole_reg.shape and prob.shape == whole_prob.shape
    np.testing.assert_allclose(reg.numpy(), whole_reg.numpy(), atol=1e-5)
    np.testing.assert_allclose(prob.numpy(), whole_prob.numpy(), atol=1e-5)


def test_pnet_strip_size_does_not_change_what_is_found(monkeypatch, photo, photo_face):
    cascade = F._detector()
    calls = []
    real_pnet = cascade.pnet
    monkeypatch.setattr(cascade, "pnet", lambda band: calls.append(int(band.shape[1])) or real_pnet(band))
    monkeypatch.setattr(F, "PNET_STRIP_PIXELS", 1)  # the smallest bands there are: 24 rows
    (face,) = F.detect_faces(photo)
    assert max(calls) <= 24 and len(calls) > 20  # every level ran in bands of at most 24 rows
    assert face.box == photo_face.box
    assert face.confidence == pytest.approx(photo_face.confidence, abs=1e-5)


# --- crop settings: as each model's training faces were framed ---------------------------------


def test_crop_settings_follow_the_training_data():
    assert F.crop_settings({"dataset": "utkface"}) == F.CropSettings(0.0, False)
    assert F.crop_settings({"dataset": "wiki"}) == F.CropSettings(0.4, False)
    assert F.crop_settings({"dataset": "imdb"}).margin == 0.4
    # a recorded crop (a shipped model's config) wins over its dataset
    assert F.crop_settings({"dataset": "utkface", "crop": {"margin": 0.25, "align": True}}) == F.CropSettings(0.25, True)
    # a mix whose sources frame faces alike takes theirs; else that of the first source with age labels
    assert F.crop_settings({"dataset": "mix", "mix": {"wiki": ["age"], "imdb": ["age"]}}).margin == 0.4
    assert F.crop_settings({"dataset": "mix", "mix": {"wiki": ["gender"], "utkface": ["age", "race"]}}).margin == 0.0
    assert F.crop_settings({"dataset": "mix", "mix": {"wiki": ["age"], "utkface": ["age", "race"]}}).margin == 0.4
    # no dataset, the synthetic set, nothing: the default margin, eyes not levelled
    for config in ({}, None, {"tasks": ["age"]}, {"dataset": "synthetic"}):
        assert F.crop_settings(config) == F.CropSettings(F.DEFAULT_MARGIN, False)
    assert F.crop_settings({"dataset": "wiki", "crop_margin": 0.1}).margin == 0.1
    assert F.CropSettings(0.4, True).as_dict() == {"margin": 0.4, "align": True}


# --- TensorFlow only, whatever the Keras backend ---------------------------------------------


def test_networks_match_mtcnn_keras_models():
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        pytest.skip("mtcnn's own Keras models need the TensorFlow backend")
    from mtcnn import MTCNN

    reference = MTCNN()
    ours = F._detector()
    rng = np.random.default_rng(0)
    for stage, net, shape in ((1, ours.pnet, (2, 37, 51, 3)), (2, ours.rnet, (5, 24, 24, 3)), (3, ours.onet, (5, 48, 48, 3))):
        x = tf.constant(rng.uniform(-1, 1, shape), tf.float32)
        for a, b in zip(reference.get_stage(stage_id=stage).model(x), net(x)):
            assert np.abs(a.numpy() - b.numpy()).max() < 1e-4


def test_detection_works_when_keras_runs_on_another_backend(photo_face):
    backend = "jax" if importlib.util.find_spec("jax") else "numpy"
    script = (
        "import json, keras\n"
        "from helpers.faces import detect_faces, ASTRONAUT\n"
        "faces = detect_faces(ASTRONAUT)\n"
        "print(json.dumps({'backend': keras.backend.backend(), 'faces': [f.as_dict() for f in faces]}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert len(report["faces"]) == 1
    assert report["faces"][0]["box"] == list(photo_face.box)


# --- command line ----------------------------------------------------------------------------


def test_cli_crop_json(tmp_path, capsys, photo):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(photo).save(folder / "a.jpg")
    canvas, _ = _paste((520, 1000), photo, [(20, 60, 0.5), (260, 10, 1.0)])
    Image.fromarray(canvas).save(folder / "sub" / "group.png")
    (folder / "sub" / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored")
    Image.fromarray(np.full((100, 100, 3), 128, np.uint8)).save(tmp_path / "blank.png")
    out = tmp_path / "crops"
    rc = main(["crop", str(tmp_path / "blank.png"), str(folder), str(tmp_path / "nope.png"), "--out", str(out),
               "--json", "--margin", "0.2", "--size", "40"])
    entries = json.loads(capsys.readouterr().out)
    assert rc == 1  # an input could not be read
    assert [Path(e["file"]).name for e in entries] == ["blank.png", "a.jpg", "broken.jpg", "group.png", "nope.png"]
    assert entries[0]["faces"] == []
    assert len(entries[1]["faces"]) == 1 and len(entries[3]["faces"]) == 2
    assert "broken.jpg" in entries[2]["error"] and "no such file" in entries[4]["error"]
    for face in entries[1]["faces"] + entries[3]["faces"]:
        assert set(face) == {"box", "confidence", "keypoints", "crop"}
        assert face["confidence"] >= 0.9
        with Image.open(face["crop"]) as crop:
            assert crop.size == (40, 40)
    assert sorted(p.name for p in out.iterdir()) == ["a_face1.png", "group_face1.png", "group_face2.png"]


def test_cli_crop_text_and_min_confidence(tmp_path, capsys, photo):
    Image.fromarray(photo).save(tmp_path / "a.png")
    rc = main(["crop", str(tmp_path / "a.png"), "--out", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert rc == 0 and "1 face(s)" in text and "a_face1.png" in text
    rc = main(["crop", str(tmp_path / "a.png"), "--out", str(tmp_path / "o2"), "--min-confidence", "1.0", "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)[0]["faces"] == []


def test_bench_crop(capsys):
    report = F.bench_crop(sizes=(64,), n_images=3)
    row = report["sizes"]["64px"]
    assert row["batched_images_per_s"] > 0 and row["one_at_a_time_images_per_s"] > 0
    assert row["share_with_a_face"] == 1.0 and row["same_faces_both_ways"]
    assert main(["bench", "crop", "--n", "2", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["sizes"]) == {"64px", "200px"}


# --- the dataset's face_score against MTCNN --------------------------------------------------


def _tiny_wiki(folder: Path, photo: np.ndarray) -> Path:
    """A wiki_crop folder in the real layout: faces where face_score is finite, none where it is -inf."""
    rng = np.random.default_rng(0)
    face = np.asarray(Image.fromarray(photo[20:330, 20:330]).resize((64, 64), Image.Resampling.LANCZOS))
    rows = []
    for i in range(18):
        score = [3.5, 1.2, -np.inf][i % 3]
        rel = f"{i % 4:02d}/{i}_1970-01-01_2000.jpg"
        rows.append({"dob": 719529 + 366, "photo_taken": 2000, "full_path": rel, "gender": 1.0, "name": f"p{i}",
                     "face_score": score, "second_face_score": 1.5 if i == 0 else np.nan})
        if i == 17:
            continue  # a row without its image, as in the real copy
        image = face if np.isfinite(score) else rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / rel, quality=92)
    write_imdb_wiki_mat(folder / "wiki.mat", rows)
    return folder


def test_face_score_agreement_table(tmp_path, photo):
    source = _tiny_wiki(tmp_path / "wiki_crop", photo)
    table = F.wiki_face_scores(source)
    assert len(table) == 17 and table["bucket"].value_counts().to_dict() == {
        "face_score ≥ 2": 6, "face_score < 2": 6, "face_score = -inf": 5}
    images = F.score_wiki_sample(source, n_per_bucket=4, progress=False)
    assert images["bucket"].value_counts().to_dict() == {"face_score ≥ 2": 4, "face_score < 2": 4, "face_score = -inf": 4}
    assert images["error"].isna().all()
    with_face = images["faces"] > 0
    assert (images.loc[with_face, "confidence"] >= 0.9).all()
    assert not (images.loc[~with_face, "confidence"] >= 0.9).any()  # NaN (no candidate) or a rejected one
    agreement = F.face_score_agreement(images)
    assert list(agreement.index) == list(F.FACE_SCORE_BUCKETS)
    assert agreement.loc["face_score ≥ 2", "with a face"] == 4 and agreement.loc["face_score ≥ 2", "share"] == 1.0
    assert agreement.loc["face_score = -inf", "with a face"] == 0
    assert bool(agreement.loc["face_score ≥ 2", "meets target"]) and bool(agreement.loc["face_score = -inf", "meets target"])
    again = F.face_score_agreement(source=source, n_per_bucket=100, progress=False)
    assert again["images"].to_dict() == {"face_score = -inf": 5, "face_score < 2": 6, "face_score ≥ 2": 6}


def test_real_wiki_agreement_meets_the_targets(shared_datasets):
    archive = shared_datasets / "imdb-wiki" / "wiki_crop.tar.gz"
    agreement = F.face_score_agreement(source=archive, n_per_bucket=150, seed=3, progress=False)
    assert agreement.loc["face_score ≥ 2", "images"] == 150
    assert agreement.loc["face_score ≥ 2", "share"] >= 0.97
    assert agreement.loc["face_score = -inf", "share"] <= 0.05
