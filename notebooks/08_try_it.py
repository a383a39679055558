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
# # 08 · Try it: what does the model say about a photo it has never seen?
#
# Everything so far measured models on dataset images: faces already found, cut and
# resized. A photo is different: it may hold one face, several or none, at any size, in any
# corner. This chapter puts the pieces together — MTCNN finds the faces, each is cropped the
# way the model's training images were, one EfficientNet labels age group, years, gender and
# race — and lets you try it on labelled images and on your own photos.
#
# **What you will learn**
# - the whole pipeline in one call, `helpers.predict(photo)`, and what it returns per face;
# - how to draw boxes and labels on a photo (the paper's Figure 3);
# - why the crop must match the training crops, and where the milliseconds go;
# - how to build a small app with ipywidgets (slider, dropdown, file upload) that also runs
#   as a web page with voila: `voila notebooks/08_try_it.ipynb`.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/08_try_it.ipynb)
#
# *Accelerator:* none; a photo takes well under a second on two CPU cores.

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
from helpers.faces import ASTRONAUT
from helpers.predict import find_model, import_tensorflow_quietly

import_tensorflow_quietly()  # its start-up notes would show as red boxes on the app page

# The model: $AGEKIT_MODEL if set, else the kit's default model (models/kit-b0-128-e30),
# else the newest finished run under runs/. Or name a run folder: MODEL = "runs/..."
MODEL = find_model()
N_EXAMPLES = 40  # labelled images behind the slider
PHOTO_WIDTH = 480  # px, how wide photos are shown in the app
print("model:", MODEL)

# %% [markdown]
# No model anywhere yet (a fresh copy without `models/kit-b0-128-e30`)? The next cell trains a
# small one with the kit's own training, a few minutes on a CPU; otherwise it does nothing.

# %%
if MODEL is None:
    from helpers.training import new_run_dir, run_config, train

    config = run_config(dataset="utkface", tasks="age,gender,race", age_groups="year", profile="smoke", weights=None)
    MODEL = train(config, new_run_dir("08-try-it-smoke"), verbose=0).path
    print("trained:", MODEL)

# %% [markdown]
# ## 1. One photo, the whole pipeline
#
# `helpers.predict` takes a path, the bytes of an uploaded file, a PIL image or an array.
# It finds every face (largest first), crops each one, and runs all of them through the
# model in one call. The answer has one entry per face.

# %%
from helpers.predict import load_predictor

predictor = load_predictor(MODEL)  # loads once (safe mode), then stays in memory
result = helpers.predict(ASTRONAUT, predictor)
print(predictor)
result.table()

# %% [markdown]
# Each face carries its box (x, y, width, height in the photo's pixels), the detector's
# confidence, the age group with the probability of every group, the age in years when the
# model's age output gives years (the kit's per-year head does; a softmax over 10 groups
# does not), and gender and race with their probabilities. `result.as_dict()` is the same
# as JSON, which is also what `python -m helpers predict PHOTO --detect --json` prints.

# %%
result.faces[0]

# %% [markdown]
# The paper's Figure 3 shows photos with a box and a label on each face.
# `draw_predictions` draws exactly that; beside it, what the model actually saw.

# %%
import matplotlib.pyplot as plt

from helpers.drawing import draw_predictions

fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), gridspec_kw={"width_ratios": [3, 1]})
draw_predictions(ASTRONAUT, result, ax=axes[0])
axes[1].imshow(result.crops[0])
axes[1].set_title(f"model input: {predictor.size} px, margin {result.margin:g}" + (", aligned" if result.align else ""))
axes[1].axis("off");

# %% [markdown]
# **Cropped as in training.** The crop is not a free choice: `crop_settings` reads it from
# the run's `config.json` (its dataset, or the `crop` a shipped model records), and
# `predict` and `evaluate --recrop` both use it. UTKFace chips are tight (margin 0),
# IMDB-WIKI crops keep 40 % of the face box around the face (notebook 02 measured both).
# Here is the same face cut three ways, and what the model makes of each:

# %%
import pandas as pd

from helpers.faces import crop_settings

print("this model's training faces:", crop_settings(predictor.config))
rows = {}
for margin in (0.0, 0.2, 0.4):
    face = helpers.predict(ASTRONAUT, predictor, margin=margin).faces[0]
    rows[f"margin {margin:g}"] = {k: face.get(k) for k in ("age_group", "age_years", "gender", "race")}
pd.DataFrame(rows).T

# %% [markdown]
# ## 2. Many faces, and none
#
# The made-up group photo from notebook 02 holds the same face at three sizes. A photo
# without a face gives an empty answer, not an error; a file that is not an image raises
# an `ImageError` that names it.

# %%
import numpy as np

from helpers.faces import group_photo

group, _ = group_photo()
crowd = helpers.predict(group, predictor)
empty = helpers.predict(np.full((240, 320, 3), 128, np.uint8), predictor)
fig, ax = plt.subplots(figsize=(10, 5))
draw_predictions(group, crowd, ax=ax)
print(f"group photo: {len(crowd)} faces; a grey picture: {len(empty)} faces")

# %% [markdown]
# Where does the time go? Every answer keeps its timings in milliseconds: reading the file,
# finding the faces, cropping, and the model. The command `python -m helpers bench predict`
# measures the same pipeline, warm, against the kit's target of 100 ms per photo.

# %%
timed = helpers.predict(ASTRONAUT, predictor)
timed.timings_ms

# %% [markdown]
# ## 3. The app: labelled images, your model, your photo
#
# Three widgets: a **slider** over labelled images (the model's own validation images when
# they are on this machine) showing the truth beside the prediction; a **dropdown** of
# models (the default one and every finished run under `runs/`); and a **file upload**
# that runs the whole pipeline on your own photo. Run the notebook top to bottom in
# JupyterLab or Colab, or serve it as a page: `voila notebooks/08_try_it.ipynb`.

# %%
from helpers.examples import validation_examples

examples = validation_examples(MODEL, N_EXAMPLES)
print(f"{len(examples)} labelled images: {examples.attrs['origin']}")

# %%
import ipywidgets as widgets

from helpers.predict import list_models

choices = list_models()
if str(MODEL) not in choices.values():
    choices = {f"chosen: {MODEL}": str(MODEL), **choices}
model_menu = widgets.Dropdown(options=choices, value=str(MODEL), description="model",
                              layout=widgets.Layout(width="95%"))
status = widgets.HTML()
status.add_class("agekit-status");

# %%
from helpers.drawing import example_html

slider = widgets.IntSlider(value=0, min=0, max=max(0, len(examples) - 1), description="image")
slider.add_class("agekit-slider")
example_view = widgets.HTML()
example_view.add_class("agekit-example-view")


def show_example(change=None):
    row = examples.iloc[slider.value].to_dict()
    answer = helpers.predict(row["path"], model_menu.value, detect=False)  # a dataset image is already a face
    example_view.value = example_html(row, answer)


slider.observe(show_example, "value")

# %%
from helpers.images import ImageError
from helpers.drawing import prediction_html
from helpers.predict import uploaded_files

upload = widgets.FileUpload(accept="image/*", multiple=False, description="your photo")
upload.add_class("agekit-upload")
upload_view = widgets.HTML("<p>Upload a photo: every face gets a box and a label.</p>")
upload_view.add_class("agekit-upload-result")


def show_upload(change=None):
    for name, data in uploaded_files(upload.value)[-1:]:
        try:
            answer = helpers.predict(data, model_menu.value)
            upload_view.value = f"<p><b>{name}</b></p>" + prediction_html(data, answer, width=PHOTO_WIDTH)
        except ImageError as err:
            upload_view.value = f'<p class="agekit-error">{err}</p>'


upload.observe(show_upload, "value")

# %%
def change_model(change=None):
    status.value = f"<i>loading {model_menu.value} ...</i>"
    load_predictor(model_menu.value)
    show_example()
    show_upload()
    status.value = f"<span class='agekit-ready'>{load_predictor(model_menu.value)}</span>"


model_menu.observe(change_model, "value")
change_model()
widgets.VBox([model_menu, status,
              widgets.HTML("<h4>Labelled images</h4>"), slider, example_view,
              widgets.HTML("<h4>Your photo</h4>"), upload, upload_view])

# %% [markdown]
# Try a few things in the app: slide until the model is wrong and ask whether a person
# would be right; upload a group photo, a face in profile, a child; switch models and see
# which answers move. The page never sends your photo anywhere: it goes to the kernel
# running beside it (your machine, or your Colab session) and nowhere else.
#
# ## What we found
#
# The numbers below are computed from the model you ran, on the shipped photo.

# %%
face = result.faces[0]
print(f"{predictor}")
print(f"astronaut: {face['label']} (box {face['box']}, detector confidence {face['confidence']:.3f})")
print(f"group photo: {len(crowd)} faces found of the 3 pasted; grey picture: {len(empty)} faces")
print(f"one photo took {sum(timed.timings_ms.values()):.0f} ms here (warm), of which the detector "
      f"{timed.timings_ms['detect']:.0f} ms and the model {timed.timings_ms['model']:.0f} ms; "
      "`python -m helpers bench predict` gives the median of many calls")

# %% [markdown]
# ## Exercises
#
# 1. Crop the astronaut with `margin=0.4` while using a UTKFace model. Before you run it:
#    will the predicted age go up or down, and why (think of what a UTKFace chip shows)?
# 2. Upload a photo in which the detector finds no face, or a wrong one. Which step failed:
#    finding the face, or labelling it? Which `detect_faces` option (`min_face_size`,
#    `min_confidence`) would you change, and what would it cost?
# 3. Run `python -m helpers bench predict` in a terminal. Which step takes most of the
#    time? Time `helpers.predict(ASTRONAUT, predictor, min_face_size=40)` and explain the
#    difference from the number of pyramid levels MTCNN searches.
# 4. Pick another run in the dropdown (for example a one-task run from notebook 03) and
#    slide through the same images. Where do the two models disagree most?
