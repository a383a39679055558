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
# # 00 · Setting up: is this machine ready, and where is the data?
#
# Before any face is classified, we make sure the tools work together and the two datasets
# of the paper — UTKFace and IMDB-WIKI — are where the kit expects them.
#
# **What you will learn**
# - which library versions the kit pins, and why there is no keras-cv;
# - how the kit finds data: an earlier download, a local mirror, the public URL, or an
#   offline sample of drawn faces;
# - how the `smoke`, `cpu` and `full` profiles switch the whole course between a quick look,
#   the replication on two CPU cores, and the paper's scale on a GPU.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/00_setup.ipynb)
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
from helpers import paths

PROFILE = helpers.profile()  # "smoke" unless AGEKIT_PROFILE says "cpu" or "full"
PROFILE

# %% [markdown]
# The three profiles side by side: `smoke` (a few hundred images, two epochs: the code runs),
# `cpu` (the kit's replication on two CPU cores, `results/paper-cpu`) and `full` (the paper's
# scale, for a GPU; its epochs are each recipe's own).

# %%
import pandas as pd

pd.DataFrame([p.as_dict() for p in helpers.PROFILES.values()]).set_index("name")

# %% [markdown]
# ## 1. The environment
#
# The kit pins versions measured to work together: TensorFlow 2.21 (the CPU build on Linux)
# as the default Keras backend, Keras 3.15, and MTCNN 1.0.0 for face detection, which needs
# TensorFlow. Models, losses and training use only `keras.ops`, so the same code also runs on
# the JAX backend on a GPU (`KERAS_BACKEND=jax`).
#
# There is deliberately **no keras-cv**: it is no longer developed, it would add about 228 MB
# of dependencies, its MixUp fails on NumPy input, and the augmentation layers we need
# (flip, rotation, zoom, translation, contrast) live in Keras 3 core now.

# %%
helpers.environment_table()

# %% [markdown]
# ## 2. Where data lives
#
# Everything the kit downloads or extracts lands in one folder (`data/` in the repository, or
# the folder named by `AGEKIT_DATA`); run records go to `runs/` (or `AGEKIT_RUNS`). Decoded
# images are cached under `data/cache`, so the second time a notebook runs it skips decoding.

# %%
print("data folder :", paths.data_dir())
print("runs folder :", paths.runs_dir())
print("mirror      :", paths.mirror_dir() or "(none: AGEKIT_MIRROR is not set)")

# %% [markdown]
# ## 3. How the kit fetches a dataset
#
# One registry names each archive, its public URL and, where known, its checksum. `fetch`
# returns an earlier extraction when there is one; else it looks in the mirror folder, then
# downloads with a progress bar, resuming a partial file, and extracts safely: an archive member that would land outside the data folder, or a
# link, is refused. When the work is already done, it does nothing.

# %%
import pandas as pd
from helpers.fetch import REGISTRY

pd.DataFrame([{"dataset": a.dataset, "archive": a.filenames[0], "public URL": a.url, "note": a.note}
              for a in REGISTRY.values()])

# %% [markdown]
# The UTKFace archive sits on Google Drive, which sometimes answers with a confirmation page
# instead of the file; the kit then says so and asks you to download `UTKFace.tar.gz` by hand
# into a folder and set `AGEKIT_MIRROR` to it. The same works for any machine without network:
# copy the archives into one folder, point `AGEKIT_MIRROR` there.
#
# `default_source` puts the rules together. If no real data can be reached it writes an
# **offline sample** of drawn faces in the real on-disk formats, and says so loudly: such a
# run proves the code works, never anything about faces.

# %%
from helpers.datasets import default_source

SOURCES = {}
for name in ("utkface", "wiki"):
    SOURCES[name], is_sample = default_source(name)
    print(f"{name:8s} -> {SOURCES[name]}" + ("   <-- OFFLINE SAMPLE, not real faces" if is_sample else ""))

# %% [markdown]
# ## 4. A first look at what was found
#
# The same report is one command away: `python -m helpers data --dataset utkface --json`.

# %%
from helpers.datasets import index_utkface
from helpers.report import data_report, format_report

print(format_report(data_report(index_utkface(SOURCES["utkface"]))))

# %% [markdown]
# ## 5. Colab and GPUs
#
# - In Colab, the set-up cell above clones the kit and installs what Colab lacks; Colab's own
#   TensorFlow is kept, so its GPU is used.
# - Upload the archives to your Drive, mount it, and set `AGEKIT_MIRROR` to their folder
#   *before* importing `helpers` (`%env AGEKIT_MIRROR=/content/drive/MyDrive/datasets`).
# - For the paper's scale set `AGEKIT_PROFILE=full`; on a GPU machine with JAX, also
#   `KERAS_BACKEND=jax`.
#
# ## Exercises
# 1. Set `AGEKIT_DATA` to a fresh folder and re-run section 3. Predict: which step of
#    `default_source` will answer now, and how long will it take?
# 2. Run `python -m helpers data --dataset wiki` in a terminal. Before you do, guess what
#    share of the 62,328 metadata rows survives the default filters.
# 3. Switch the profile with `AGEKIT_PROFILE=full` and print `helpers.profile()`. Which
#    numbers change, and what does each one cost in training time?
