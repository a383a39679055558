# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Faces first: what does MTCNN find, and how much of the picture should a crop keep?
#
# The paper crops faces with MTCNN at test time, before EfficientNet sees them. That one step
# hides two questions. Does MTCNN find the faces we think it finds, and only those? And how much
# around the face should a crop keep? The second matters more than it looks: a model learns
# faces at the scale it was trained on, so a test crop cut differently shows it a face it
# has never seen at that size.
#
# **What you will learn**
# - how MTCNN's three small networks give a box, a confidence and five landmarks per face;
# - how the kit cuts a face: margin, border clipping, eye alignment, resizing;
# - why the margin at test time must match the training crops (UTKFace chips are tight,
#   IMDB-WIKI crops are loose), measured on both datasets;
# - how often MTCNN agrees with IMDB-WIKI's own face detector (its `face_score`), and what
#   detection costs per image on a CPU.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/02_mtcnn_cropping.ipynb)
#
# *Accelerator:* none needed.

# %%
# Set-up: in Colab this installs the kit; anywhere else it does nothing.
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run("git clone -q --depth 1 https://github.com/mtl-age-kit/mtl-age-kit /content/mtl-age-kit"
                   " && pip install -q -r /content/mtl-age-kit/requirements-colab.txt"
                   " && pip install -q --no-deps -e /content/mtl-age-kit", shell=True, check=True)
    sys.path.insert(0, "/content/mtl-age-kit")

# %%
import helpers

PROFILE = helpers.profile()  # "smoke" unless AGEKIT_PROFILE says "cpu" or "full"
N_PER_BUCKET = 300 if PROFILE.name == "smoke" else None  # wiki images per face_score bucket (None: all)
N_MARGIN = 120 if PROFILE.name == "smoke" else 1000  # images per dataset for the margin measurement
MIN_CONFIDENCE = 0.9  # MTCNN's confidence from which we call it a face
MARGINS = [0.0, 0.2, 0.4, 0.8]  # share of the box added on each side
SHOW_SIZE = 128  # pixels per crop in the figures; a model gets its own input size (56 px in the
# replication's profiles, 128 px for the default shipped model)
PROFILE

# %% [markdown]
# ## 1. The data
#
# Three sources of pictures: a photo that ships with the kit (the NASA portrait of astronaut
# Eileen Collins, public domain), the UTKFace chips and the IMDB-WIKI crops. IMDB-WIKI comes
# with the verdict of its authors' own face detector: a `face_score` per image (`-inf` when it
# found no face) and a `second_face_score` when it found another one.

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from helpers.datasets import default_source, index_utkface
from helpers.faces import ASTRONAUT, FACE_SCORE_BUCKETS, astronaut, wiki_face_scores
from helpers.sample import SAMPLE_WARNING

wiki_source, wiki_is_sample = default_source("wiki")
utk_source, utk_is_sample = default_source("utkface")
if wiki_is_sample or utk_is_sample:
    print("!" * 80 + "\n" + SAMPLE_WARNING + "\n" + "!" * 80)
photo = astronaut()
wiki = wiki_face_scores(wiki_source)
utk = index_utkface(utk_source)
print(f"{ASTRONAUT.name}: {photo.shape[1]}x{photo.shape[0]} px;  UTKFace: {len(utk):,} chips;  "
      f"IMDB-WIKI (wiki): {len(wiki):,} images on disk")
wiki["bucket"].value_counts().reindex(FACE_SCORE_BUCKETS, fill_value=0).rename("wiki images").to_frame()

# %% [markdown]
# A few wiki images from each bucket. A `-inf` score usually means a drawing, a
# photo of a building or a face too small or turned away; a high score is a clear frontal face.

# %%
from helpers.images import load_images
from helpers.plots import image_grid

grid_rows = [wiki[wiki["bucket"] == b].sample(min(6, int((wiki["bucket"] == b).sum())), random_state=0)
             for b in FACE_SCORE_BUCKETS]
grid_rows = pd.concat(grid_rows)
batch = load_images(grid_rows["path"], 64, progress=False)
shown = grid_rows.iloc[batch.index]
image_grid(batch.images, [f"{s:.2f}" for s in shown["face_score"]], ncols=6).suptitle(
    "IMDB-WIKI crops and their face_score (rows: -inf, < 2, ≥ 2)", y=1.02);

# %% [markdown]
# ## 2. The method: MTCNN on one face
#
# MTCNN (Zhang et al., 2016) is three small convolutional networks in a row. **P-Net** slides
# a 12-pixel window over an image pyramid and proposes many candidate boxes; **R-Net** looks
# at each candidate at 24 px and rejects most; **O-Net** looks at the survivors at 48 px and
# returns the final box, a confidence and five landmarks: both eyes, the nose and both mouth
# corners ("left" and "right" as seen in the picture). `min_face_size` (20 px by default) sets
# the top of the pyramid: smaller faces are never looked for.
#
# `detect_faces` takes a path, a PIL image or an array in any mode (gray, RGBA, CMYK,
# 16-bit) and returns every face, largest first, or an empty list.

# %%
from helpers.faces import detect_faces, draw_faces, faces_table

faces = detect_faces(photo, min_confidence=MIN_CONFIDENCE)
fig, ax = plt.subplots(figsize=(5, 5))
draw_faces(ax, photo, faces, title="MTCNN on the astronaut photo: box, landmarks, confidence")
faces_table(faces)

# %% [markdown]
# ### MTCNN is TensorFlow, whatever Keras runs on
#
# The `mtcnn` package defines its networks as `tf.keras` models, and under Keras 3 `tf.keras`
# follows `KERAS_BACKEND`: with JAX, mtcnn's own detector breaks. The kit runs the same three
# networks, with mtcnn's weights, as plain TensorFlow functions, so detection does not care
# which backend Keras uses. The cell below proves it in a fresh Python process whose Keras
# runs on another backend (JAX when installed, else NumPy).

# %%
import importlib.util
import json
import os
import subprocess

other_backend = "jax" if importlib.util.find_spec("jax") else "numpy"
child = subprocess.run(
    [sys.executable, "-c", "import json, keras; from helpers.faces import detect_faces, ASTRONAUT; "
     "print(json.dumps([keras.backend.backend(), [list(f.box) for f in detect_faces(ASTRONAUT)]]))"],
    env={**os.environ, "KERAS_BACKEND": other_backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
    capture_output=True, text=True, check=True)
child_backend, child_boxes = json.loads(child.stdout.strip().splitlines()[-1])
print(f"Keras backend in the child: {child_backend}; boxes there: {child_boxes}; boxes here: {[list(f.box) for f in faces]}")

# %% [markdown]
# ## 3. Several faces
#
# Every face comes back, largest first. There is no network here, so we build a "wild"
# scene: the photo pasted three times at different scales on a noisy canvas.

# %%
from helpers.faces import group_photo

scene, places = group_photo(photo, scales=(1.0, 0.6, 0.35))
scene_faces = detect_faces(scene, min_confidence=MIN_CONFIDENCE)
fig, ax = plt.subplots(figsize=(11, 5.5))
draw_faces(ax, scene, scene_faces, title=f"made-up scene: {len(scene_faces)} faces found, numbered largest first")
faces_table(scene_faces)

# %% [markdown]
# Real pictures with more than one face: wiki images for which the dataset's detector
# reported a second face. The wiki crops are cut around the main face, so the second face is
# often only partly in the picture.

# %%
from helpers.faces import detect_many

second = wiki[np.isfinite(wiki["second_face_score"])].sort_values("second_face_score", ascending=False).head(40)
second_found = detect_many(second["path"].tolist(), progress=False, min_confidence=MIN_CONFIDENCE)
pairs = [r for r in second_found if len(r.faces) >= 2][:6] or [r for r in second_found if not r.error][:6]
fig, axes = plt.subplots(1, max(1, len(pairs)), figsize=(2.6 * max(1, len(pairs)), 2.9), squeeze=False)
for ax, r in zip(axes[0], pairs):
    draw_faces(ax, r.file, r.faces, title=f"{len(r.faces)} face(s)")
fig.suptitle("wiki images with a second face_score, as MTCNN sees them");
print(f"{sum(len(r.faces) >= 2 for r in second_found)} of {len(second_found)} such images show MTCNN two or more faces")

# %% [markdown]
# ## 4. The crop
#
# `crop_face` cuts a square around the box: its side is the box's longer side times
# `1 + 2 × margin`, so a margin of 0.4 adds 40 % of the box on every side. At the border the
# square is clipped, never padded, and trimmed back to a square so a face is never stretched.
# Then it is resized to the model's input size. The dashed square below is the 0.4 window.

# %%
from helpers.faces import crop_face

face = faces[0] if faces else None
fig, axes = plt.subplots(1, len(MARGINS) + 1, figsize=(2.8 * (len(MARGINS) + 1), 3.1))
draw_faces(axes[0], photo, faces, margin=0.4, title="box and 0.4 window")
for ax, m in zip(axes[1:], MARGINS):
    if face is not None:
        ax.imshow(crop_face(photo, face, margin=m, size=SHOW_SIZE))
    ax.set_title(f"margin {m}")
    ax.axis("off")
fig.suptitle("the same face, four margins");

# %% [markdown]
# With `align=True` the window is rotated so the eye line is level first. Here the photo is
# tilted by 20 degrees; the angle in each title is the eye line MTCNN measures on the crop.

# %%
from PIL import Image
from helpers.faces import eye_angle

tilted = np.asarray(Image.fromarray(photo).rotate(-20, resample=Image.Resampling.BICUBIC, expand=True))
tilted_faces = detect_faces(tilted, min_confidence=MIN_CONFIDENCE)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
draw_faces(axes[0], tilted, tilted_faces, margin=0.4, title="tilted photo")
for ax, align in zip(axes[1:], (False, True)):
    if tilted_faces:
        crop = crop_face(tilted, tilted_faces[0], size=SHOW_SIZE, align=align)
        again = detect_faces(crop)
        angle = f"{eye_angle(again[0]):+.0f}°" if again else "no face"
        ax.imshow(crop)
        ax.set_title(f"align={align}: eyes at {angle}")
    ax.axis("off")

# %% [markdown]
# ### Why the margin at test time must match the training crops
#
# The two datasets were cut differently. UTKFace's "aligned & cropped" chips are tight: the
# face fills the frame. IMDB-WIKI's crops keep 40 % of the face box around it. We can measure
# this with MTCNN itself: the **implied margin** of an image is the margin that would turn the
# face box MTCNN finds into the whole image.

# %%
from helpers.faces import implied_margin

pick_utk = utk.sample(min(N_MARGIN, len(utk)), random_state=0)["path"].tolist()
clear = wiki[wiki["bucket"] == "face_score ≥ 2"]
pick_wiki = clear.sample(min(N_MARGIN, len(clear)), random_state=0)["path"].tolist()
rows = []
for name, paths in {"UTKFace chips": pick_utk, "IMDB-WIKI crops": pick_wiki}.items():
    for r in detect_many(paths, progress=False, min_confidence=MIN_CONFIDENCE):
        if r.faces:
            rows.append({"dataset": name, "implied margin": implied_margin(r.faces[0], r.shape)})
margins = pd.DataFrame(rows, columns=["dataset", "implied margin"])
margin_table = margins.groupby("dataset")["implied margin"].describe()[["count", "25%", "50%", "75%"]].round(3)
margin_table

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
for name, g in margins.groupby("dataset"):
    ax.hist(g["implied margin"], bins=np.linspace(-0.1, 1.0, 45), histtype="step", linewidth=1.5,
            label=f"{name} (n={len(g)})")
ax.axvline(0.4, color="grey", linestyle="--", label="the kit's default margin (0.4)")
ax.set_xlabel("implied margin (share of the face box on each side)")
ax.set_ylabel("images")
ax.set_title("how much of each picture is face")
ax.legend();

# %% [markdown]
# The figure is the argument. A model trained on UTKFace chips has only seen faces that fill
# the frame; give it a 0.4-margin crop and the face covers about half the side, every feature
# at half its usual size, with hair and background it never learned to ignore. The reverse
# holds for a model trained on wiki crops. So the rule is: **crop test faces with the margin
# of the training data** — about 0 for UTKFace, about 0.4 for IMDB-WIKI — and keep the margin
# in the run's settings so evaluation and deployment reuse it. The crops below show the
# astronaut cut the way each dataset would have cut her, beside real examples.

# %%
med = margins.groupby("dataset")["implied margin"].median()
show = []
titles = []
for name, paths in {"UTKFace chips": pick_utk, "IMDB-WIKI crops": pick_wiki}.items():
    examples = load_images(paths[:3], SHOW_SIZE, progress=False).images
    show.extend(examples)
    titles.extend([name] * len(examples))
    if face is not None and name in med:
        show.append(crop_face(photo, face, margin=max(0.0, float(med[name])), size=SHOW_SIZE))
        titles.append(f"astronaut, margin {max(0.0, float(med[name])):.2f}")
image_grid(show, titles, ncols=4, size=2.2);

# %% [markdown]
# ## 5. Run at scale: MTCNN against IMDB-WIKI's face_score
#
# IMDB-WIKI's authors ran their own detector and stored its score. If MTCNN and that detector
# agree, the score is a fair filter and MTCNN a fair replacement for it. `score_wiki_sample`
# draws the same number of random images from each face_score bucket and runs MTCNN on them
# (images of one size go through the networks together; the offline sample's crops are all
# 64 px, the real wiki crops vary in size);
# `face_score_agreement` turns the result into a table. The targets: a face in at least 97 %
# of the images scored ≥ 2, and in at most 5 % of those scored `-inf`.

# %%
import time

from helpers.faces import face_score_agreement, score_wiki_sample

t0 = time.perf_counter()
checked = score_wiki_sample(wiki_source, n_per_bucket=N_PER_BUCKET, min_confidence=MIN_CONFIDENCE)
wiki_seconds = time.perf_counter() - t0
agreement = face_score_agreement(checked)
agreement

# %% [markdown]
# The middle bucket is where the two detectors can disagree: low but finite scores are often
# profiles, small or blurred faces and paintings. MTCNN's best confidence per image shows how
# sure it is in each bucket:

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
for bucket, g in checked.groupby("bucket", sort=False):
    conf = g["confidence"].fillna(0.0)
    ax.hist(conf, bins=np.linspace(0, 1, 41), histtype="step", linewidth=1.5, label=f"{bucket} (n={len(g)})")
ax.axvline(MIN_CONFIDENCE, color="grey", linestyle="--", label=f"min_confidence = {MIN_CONFIDENCE}")
ax.set_yscale("log")
ax.set_xlabel("MTCNN's best confidence for any candidate (0: none reached the last network)")
ax.set_ylabel("images")
ax.legend(fontsize=8);

# %% [markdown]
# A second face: the dataset's `second_face_score` against the number of faces MTCNN finds.

# %%
pd.crosstab(np.where(np.isfinite(checked["second_face_score"]), "second face", "one face"),
            checked["faces"].clip(upper=2).map({0: "none", 1: "one", 2: "two or more"}),
            rownames=["the dataset says"], colnames=["MTCNN finds"])

# %% [markdown]
# Always look at the disagreements: images scored ≥ 2 where MTCNN found nothing, and
# images scored `-inf` where it found a face.

# %%
missed = checked[(checked["bucket"] == "face_score ≥ 2") & (checked["faces"] == 0)].head(6)
extra = checked[(checked["bucket"] == "face_score = -inf") & (checked["faces"] > 0)].head(6)
odd = pd.concat([missed, extra])
if len(odd):
    odd_batch = load_images(odd["path"], 64, progress=False)
    odd_rows = odd.iloc[odd_batch.index]
    labels = [f"score {s:.1f}, MTCNN {n}" for s, n in zip(odd_rows["face_score"], odd_rows["faces"])]
    image_grid(odd_batch.images, labels, ncols=6).suptitle("where the two detectors disagree", y=1.1);
else:
    print("no disagreement in this sample")

# %% [markdown]
# ## 6. Time per image
#
# `bench_crop` (also `python -m helpers bench crop`) times detection plus cropping on the CPU
# for 64 px and 200 px images, one at a time and in batches of equal-size images.

# %%
from helpers.faces import bench_crop

speed = bench_crop(n_images=24)
speed_table = pd.DataFrame(speed["sizes"]).T[["one_at_a_time_images_per_s", "batched_images_per_s"]]
speed_table["ms per image, batched"] = (1000 / speed_table["batched_images_per_s"].astype(float)).round(1)
print(f"{speed['device']}, {speed['threads']} threads, {speed['n_images']} images per size")
speed_table

# %% [markdown]
# ## What the paper did / what we found
#
# The paper crops faces with MTCNN at test time. Everything a replication has to decide
# around that step is a setting of the kit, each backed by a measurement in this chapter:
#
# | decision | the kit | evidence above |
# |---|---|---|
# | which MTCNN | mtcnn 1.0's weights, run as plain TensorFlow | same boxes under another Keras backend (section 2) |
# | several faces | all returned, largest first | the made-up scene and the wiki pairs (section 3) |
# | margin | `crop_face`'s default 0.4 (wiki's), clipped at the border; a model's own margin wherever a model is used (0 for the UTKFace models the kit ships) | implied margins of UTKFace and wiki (section 4) |
# | alignment | optional, rotates the window to level the eyes | the tilted photo (section 4) |
# | trust in the detector | MTCNN agrees with IMDB-WIKI's `face_score` on the clear cases | agreement table (section 5) |
#
# The numbers below are computed from the data you ran, not copied from anywhere.

# %%
def _line(bucket):
    if bucket not in agreement.index:
        return f"{bucket}: no images in this copy"
    row = agreement.loc[bucket]
    return (f"{bucket}: MTCNN found a face in {row['with a face']} of {row['images']} images "
            f"({row['share']:.1%}; target {row['target']}, met: {row['meets target']})")


if wiki_is_sample or utk_is_sample:
    print("!!! " + SAMPLE_WARNING)
print(_line("face_score ≥ 2"))
print(_line("face_score = -inf"))
if len(margin_table):
    print("median implied margin: " + ", ".join(f"{k} {v:.2f}" for k, v in margin_table["50%"].items()))
print(f"wiki sample: {len(checked)} images in {wiki_seconds:.1f} s "
      f"({1000 * wiki_seconds / max(1, len(checked)):.1f} ms per image, decoding included)")

# %% [markdown]
# What you should see on the real data: MTCNN and IMDB-WIKI's detector agree on the clear
# cases — nearly every image scored ≥ 2 has a face for MTCNN and nearly no image scored
# `-inf` does — while the low-score bucket sits in between. UTKFace chips imply a margin near
# zero and wiki crops one near 0.4, which is why the crop margin is a setting chosen to match
# the training data, not a constant. MTCNN is cheap next to training: the cell above prints
# its milliseconds per image, decoding included.
#
# ## Exercises
# 1. Set `MIN_CONFIDENCE = 0.99` and rerun section 5. Predict first: which bucket's share
#    moves most, and does either target stop being met?
# 2. Call `score_wiki_sample(wiki_source, n_per_bucket=200, min_face_size=40)`. Wiki faces
#    fill their crops with a margin of about 0.4 on each side (section 4): how wide is a face in
#    a 64 px crop, and what share of the ≥ 2 bucket do you predict MTCNN still finds?
# 3. Run `detect_faces(scene, min_face_size=60)` on the made-up scene of section 3. Using the
#    box sizes in its table, predict which faces disappear, then check.
# 4. From a terminal, run `python -m helpers crop data/astronaut.png --out /tmp/crops --json`
#    and compare its `box` with the table in section 2.
