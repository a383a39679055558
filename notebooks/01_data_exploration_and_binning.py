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
# # 01 · The data: who is in UTKFace and IMDB-WIKI, and what do age groups hide?
#
# The paper turns age into 3, 5 or 10 groups and reports accuracy. An accuracy means little
# until we know how the faces spread over those groups: if most faces sit in one group, a
# model that always answers that group already looks good.
#
# **What you will learn**
# - how the two datasets are labelled, and what the kit does with broken labels;
# - the age distributions, and the 3/5/10-group counts of the paper's Figures 5 and 8;
# - the seed's train/validation split, and the "always guess the biggest group" baseline
#   every later accuracy must beat.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/01_data_exploration_and_binning.ipynb)
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

PROFILE = helpers.profile()  # "smoke" unless AGEKIT_PROFILE=full
GRID_SIZE = 64  # pixels per face in the sample grids
SCHEMES = [helpers.age_groups(k) for k in ("3", "5", "10")]
PROFILE

# %% [markdown]
# ## 1. Index both datasets
#
# UTKFace keeps its labels in the file name (`age_gender_race_datetime.jpg.chip.jpg`);
# IMDB-WIKI keeps them in a MATLAB file, `wiki.mat`, with the birth date as a MATLAB day
# number. The kit reads both into one table — path, age, gender, race, source — with the same
# conventions (gender 0 male / 1 female; race 0 White … 4 Others) and marks a label a source
# lacks as missing, never guessed.

# %%
from helpers.datasets import default_source, index_imdb_wiki, index_utkface
from helpers.report import data_report, format_report

utk_source, utk_sample = default_source("utkface")
wiki_source, wiki_sample = default_source("wiki")
if utk_sample or wiki_sample:
    print("!" * 80 + "\n" + helpers.sample.SAMPLE_WARNING + "\n" + "!" * 80)
utk = index_utkface(utk_source)
wiki = index_imdb_wiki(wiki_source)
TABLES = {"UTKFace": utk, "IMDB-WIKI (wiki)": wiki}
utk.head()

# %%
print(format_report(data_report(utk)))

# %% [markdown]
# Three UTKFace names lack the race field; the kit keeps their age and gender and counts the
# missing race rather than dropping the faces or inventing a race.
#
# IMDB-WIKI needs more care. Its crops were found automatically, so the field filters them:
# a finite face score of at least 1, no second face, an age between 0 and 100, a known gender.
# The report shows how many rows each filter removed, in order.

# %%
print(format_report(data_report(wiki)))

# %% [markdown]
# ## 2. Look at the faces
#
# Always look before training. UTKFace chips are tight, aligned faces; wiki crops include
# hair, background and sometimes no face at all.

# %%
import pandas as pd
from helpers.images import load_images
from helpers.plots import image_grid

for name, df in TABLES.items():
    pick = df.sample(18, random_state=0) if len(df) >= 18 else df
    batch = load_images(pick["path"], GRID_SIZE, progress=False)
    rows = pick.iloc[batch.index]
    titles = [f"{a} y, {'?' if pd.isna(g) else 'MF'[g]}" for a, g in zip(rows["age"], rows["gender"])]
    image_grid(batch.images, titles, ncols=9).suptitle(name, y=1.02)

# %% [markdown]
# ## 3. Ages
#
# UTKFace spans 1 to 116 years with a spike of babies and a bulk in the late twenties;
# wiki is dominated by adults. The seed keeps ages 1–80 only (grey band).

# %%
from helpers.plots import age_histogram

age_histogram(TABLES);

# %% [markdown]
# ## 4. Age groups: the paper's Figures 5 and 8
#
# The paper's groups are 1-26 / 27-52 / 53-80 (3 groups), 1-11 / 12-23 / 24-39 / 40-55 / 56-80
# (5 groups), and ten groups of 8 years. The dotted line marks what a balanced dataset would
# give each group.

# %%
from helpers.plots import group_counts_figure, group_counts_table

group_counts_figure(TABLES, SCHEMES);

# %%
for scheme in SCHEMES:
    display(group_counts_table(TABLES, scheme))

# %% [markdown]
# ## 5. What the imbalance means for accuracy
#
# A classifier that ignores the image and always answers the largest group scores the share
# of that group. This **majority baseline** is the floor every model in the course must beat;
# the paper never states it.

# %%
from helpers.plots import majority_baseline

baseline = pd.DataFrame({name: {f"{s.n} groups": majority_baseline(df, s) for s in SCHEMES}
                         for name, df in TABLES.items()}).round(3)
from helpers.run_plots import SEED_UTKFACE_3TASK

# the paper's UTKFace figures (age + gender + race, ImageNet-pretrained, on its 4,000 validation faces)
baseline["seed's UTKFace accuracy"] = [SEED_UTKFACE_3TASK[f"age_{s.n}"] for s in SCHEMES]
baseline

# %% [markdown]
# Read the table row by row. On the kit's UTKFace copy (all 21,352 chips) the floors are about
# 0.42, 0.45 and 0.29 at 3, 5 and 10 groups. With 5 groups the majority group (24-39) holds
# almost half the faces, so the seed's 0.679 is well above the floor but not as far above it as
# the number alone suggests; its 3-group 0.717 stands about 0.29 above a floor of 0.42. With 10
# groups the floor is low and every point of accuracy is earned. This is why chapter 07 also
# reports balanced accuracy (the mean recall over groups, 1/k for a model that always answers
# the same group) and the MAE in years.
#
# ## 6. The seed's split
#
# The seed keeps ages 1–80, draws 20,000 faces with one fixed seed, and validates on the last
# 20 % (4,000). The kit reproduces it exactly, so every run sees the same split; a stratified
# option keeps the group shares equal in both parts.

# %%
from helpers.splits import seed_split, split_table

split = seed_split(utk, n=PROFILE.n_images if PROFILE.name == "smoke" else 20_000)
split_table(split, SCHEMES[2])

# %% [markdown]
# The split's counts per group, training against validation (in the smoke profile a few
# hundred faces; 16,000 and 4,000 at the paper's scale). Below, who is in UTKFace: faces by race
# and gender. White faces are the largest group by far, which chapter 07's fairness table comes
# back to.
# %%
gender_race = pd.crosstab(utk["race"].map(dict(enumerate(helpers.datasets.RACES))),
                          utk["gender"].map(dict(enumerate(helpers.datasets.GENDERS))), margins=True)
gender_race

# %% [markdown]
# ## What the paper did / what we found
#
# | | the paper | this chapter |
# |---|---|---|
# | data | UTKFace and IMDB-WIKI crops, ages 1–80, 20,000 per dataset | the same archives, indexed with every exclusion counted |
# | groups | 3, 5, 10 (Figures 5, 8) | identical edges, tested at every boundary |
# | imbalance | shown, and blamed for lower accuracy (half the faces in 24–39), but no floor given | majority baseline per scheme (table above) |
#
# The tables above are computed from the files, so they describe the copy you have.
#
# **What it means.** The paper's groups are far from balanced, so an accuracy means little
# without its floor: about 0.42, 0.45 and 0.29 on UTKFace at 3, 5 and 10 groups. Every result of
# this course is read against that floor, and the finer the groups, the more of the accuracy is
# the model's own.
#
# ## Exercises
# 1. Build a custom scheme with `helpers.age_groups("mine", edges=[1, 13, 20, 30, 45, 65, 81])`.
#    Predict its majority baseline on UTKFace before you compute it.
# 2. Re-index wiki with `index_imdb_wiki(wiki_source, min_face_score=3.0)`. Which rows go, and
#    do the group shares move?
# 3. Call `seed_split(utk, stratified=True)` and compare `split_table` with the plain split.
#    When would the difference matter?
