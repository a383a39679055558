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
# # 09 · Better accuracy from scratch: what helps, how sure, and at what price?
#
# The kit's models learn from random weights: no ImageNet, no outside data. Its best shipped
# model, a B0 at 96 px, already beats the paper's pretrained figures on UTKFace, and it still
# overfits (its training accuracy runs ahead of its validation accuracy). The usual remedies
# are well known: mixup, CutMix, random erasing, stronger stochastic depth, a moving average
# of the weights, progressive resizing, more faces, several models averaged. Which of them
# help *here*, on two CPU cores and a short schedule, and by how much?
#
# This chapter reads the kit's ablation: each remedy added to the same recipe, trained on the
# same faces for the same epochs, scored on the same 4,000 validation faces. The hard part is
# not the training; it is telling a real gain of one point from noise.
#
# **What you will learn**
# - how an ablation is set up so that one thing changes at a time;
# - the paired bootstrap: why comparing two models *on the same faces* is sharper than
#   comparing their two intervals;
# - training noise: why a second seed of the baseline decides what counts as a gain;
# - averaging models (an ensemble): what it buys, face by face, and what it costs.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/09_better_accuracy.ipynb)
#
# *Accelerator:* none. This chapter trains nothing: it reads the committed ablation (seconds).

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
from helpers.paths import results_dir

PROFILE = helpers.profile()  # "smoke" unless AGEKIT_PROFILE=full; this chapter reads results either way
FOLDER = results_dir() / "ablation-64"  # or the folder of an ablation you ran: ablate --out FOLDER
KEY = "age_10"  # the metric the figures look at first: the hardest of the three age schemes
FOLDER

# %% [markdown]
# ## 1. Where we start
#
# The shipped models and their validation figures (each measured when it was shipped, on the
# validation faces of its own split):

# %%
from helpers.shipping import shipped_models

shipped_models()[["image_size", "epochs", "test_flip", "age_3", "age_5", "age_10", "mae", "gender", "race"]].round(3)

# %% [markdown]
# ## 2. The method: one change at a time
#
# Every *arm* of the ablation is the kit recipe (chapter 05) with one change. Everything else
# is held fixed: UTKFace's seed split, all three tasks, the per-year age head, B0 from random
# weights, 64 px, 12 epochs, batch 128. A small, short screen keeps each arm near half an hour
# on two cores; the winners are then confirmed at 96 px. Two arms are not remedies:
# `baseline-seed2` is the baseline trained again from another random start, and `more-faces`
# adds 31,000 wiki faces (age and gender only) with half the epochs, so the same number of steps.

# %%
import pandas as pd

from helpers.ablation import ARM_NOTES, ARMS

arms = pd.DataFrame({"recipe settings changed": {a: ARMS[a] or "-" for a in ARMS}, "what it means": ARM_NOTES})
with pd.option_context("display.max_colwidth", 110):
    display(arms)

# %% [markdown]
# The command that trains them all (resumable: a finished arm is skipped, an interrupted one
# goes on from its last epoch), and the one that only rewrites the table:
#
# ```bash
# python -m helpers ablate --out results/ablation-64
# python -m helpers ablate --out results/ablation-64 --report-only
# ```

# %% [markdown]
# ## 3. The results
#
# `read_ablation` reads every finished arm (and every average, section 5) with its figures,
# their 95 % bootstrap intervals, its training minutes, and its change against the baseline.

# %%
from helpers.ablation import KEYS, read_ablation

table, members = read_ablation(FOLDER)
waiting = [arm for arm in ARMS if arm not in table.index]
print(f"{len(table)} finished in {FOLDER.name}; not trained yet: {', '.join(waiting) or 'none'}")
table[list(KEYS) + ["train_minutes", "best_epoch"]].round(3)

# %%
# What this chapter shows is the committed table, nothing else (checked when the notebooks are tested)
on_disk = pd.read_csv(FOLDER / "ablation.csv", index_col="arm")
assert set(table.index) == set(on_disk.index) and "baseline" in table.index
assert (table[KEY] - on_disk.loc[table.index, KEY]).abs().max() < 1e-9

# %% [markdown]
# ## 4. Is a change real? Two kinds of noise
#
# **The faces.** Each figure is measured on 4,000 faces; another 4,000 would give a slightly
# different one. The bootstrap interval above says how much. Two arms whose intervals overlap
# may still differ: both were scored on *the same* faces, and most faces are easy (both right)
# or hard (both wrong) for both. The paired bootstrap resamples faces with both arms' answers
# together, so only the faces where they disagree move the difference:

# %%
from helpers.ablation import face_scores, paired_change
from helpers.experiments import read_predictions

base = read_predictions(FOLDER / "runs" / "baseline", create=False)
other_name = "baseline-seed2" if "baseline-seed2" in table.index else table.index[-1]
other = read_predictions(FOLDER / "runs" / other_name, create=False)
a, b = face_scores(base, KEY), face_scores(other, KEY)
change, low, high = paired_change(a, b)
print(f"{other_name} against baseline, {KEY}: {change:+.3f}, paired interval {low:+.3f} to {high:+.3f}")
print(f"unpaired: baseline {table.loc['baseline', KEY]:.3f} ({table.loc['baseline', KEY + '_low']:.3f}-"
      f"{table.loc['baseline', KEY + '_high']:.3f}), {other_name} {table.loc[other_name, KEY]:.3f} "
      f"({table.loc[other_name, KEY + '_low']:.3f}-{table.loc[other_name, KEY + '_high']:.3f})")
pd.crosstab(a.rename("baseline right"), b.rename(f"{other_name} right"))

# %% [markdown]
# The cross-table is the whole story: the faces on the diagonal cancel out, and the
# difference is decided by the two off-diagonal cells.
#
# **The training.** `baseline-seed2` changes nothing but the random start and the order of the
# batches, yet its paired interval for 10 groups excludes zero: by the faces alone, reseeding
# would be "better". So a single training run cannot show a gain that small, and the ablation
# adds a second rule: a change counts as *better* or *worse* only when it also moves further
# than the reseed did. In the figure the grey band is that training noise; an arm is a measured
# effect only when its whole bar is outside both zero and the band.

# %%
from helpers.ablation import change_figure

fig = change_figure(table, KEY)

# %%
fig = change_figure(table, "mae")

# %%
verdicts = table[[f"{k}_verdict" for k in KEYS]].drop(index="baseline")
verdicts.columns = list(KEYS)
verdicts

# %% [markdown]
# ## 5. Averaging two models
#
# Two networks trained from different random starts make partly different mistakes. An
# *average* (an ensemble) answers with the mean of their output distributions: a face both get
# right stays right, and where they disagree, the more confident one tends to win.
# `python -m helpers ensemble A B --out DIR` builds one model file that does this, saved as a
# run folder like any other, so it is scored on the same faces:
#
# ```bash
# python -m helpers ensemble results/ablation-64/runs/baseline results/ablation-64/runs/baseline-seed2 \
#     --out results/ablation-64/ensembles/baseline+baseline-seed2
# ```
#
# Against each of its members, on the same faces:

# %%
if len(members):
    shown = members.set_index(["average", "member"])
    display(shown[[f"{k}_change" for k in KEYS]].round(3))
else:
    print("no average in this ablation folder yet: build one with the command above")

# %% [markdown]
# Where does the gain come from? Face by face, on 3 age groups: the faces where the two
# members disagree, and who the average sides with.

# %%
if len(members):
    average_name, first, second = members["average"][0], members["member"][0], members["member"][1]
    answers = {name: face_scores(read_predictions(folder, create=False), "age_3") for name, folder in
               ((first, FOLDER / "runs" / first), (second, FOLDER / "runs" / second),
                ("average", FOLDER / "ensembles" / average_name))}
    faces = pd.DataFrame(answers).dropna()
    disagree = faces[faces[first] != faces[second]]
    print(f"the members disagree on {len(disagree)} of {len(faces)} faces ({len(disagree) / len(faces):.0%}); "
          f"there the average is right on {disagree['average'].mean():.0%} of them")
    display(faces.value_counts().rename("faces").to_frame())

# %% [markdown]
# And the mechanism itself, on two small untrained networks: the average's answer is exactly
# the mean of its members' (with `test_flip`, of each face and its mirror image too).

# %%
import keras
import numpy as np

from helpers.ensemble import average_models
from helpers.models import build_model

members_demo = []
for seed in (1, 2):
    keras.utils.set_random_seed(seed)
    members_demo.append(build_model(["age", "gender", "race"], age_head="distribution", age_groups="year",
                                    backbone="tiny", image_size=32, weights=None))
faces_demo = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
averaged = average_models(members_demo)
mean_of_members = np.mean([np.asarray(m(faces_demo)["gender"]) for m in members_demo], axis=0)
print("members:", [np.asarray(m(faces_demo)["gender"])[0].round(3) for m in members_demo])
print("average:", np.asarray(averaged(faces_demo)["gender"])[0].round(3), "mean:", mean_of_members[0].round(3))
assert np.allclose(np.asarray(averaged(faces_demo)["gender"]), mean_of_members, atol=1e-6)

# %% [markdown]
# ## 6. The price
#
# Every change has two costs: training time (the `train_minutes` column; an average costs both
# members' training) and prediction time. An average sends each face through every member,
# and the kit's demo promises a photo's answer in 100 ms on two CPU cores, most of which goes
# to finding the faces (chapter 08). Measure before you ship:
#
# ```bash
# python -m helpers bench predict --model models/kit-b0-96 --repeats 15
# python -m helpers bench predict --model runs/my-average --repeats 15
# ```

# %%
# what each arm bought per hour of training (the reseed is noise, not a change, so it is left out)
changes = table.drop(index=["baseline", "baseline-seed2"], errors="ignore")
(changes[KEY] - table.loc["baseline", KEY]).to_frame(f"{KEY} change").assign(
    train_minutes=changes["train_minutes"],
    change_per_hour=lambda t: t[f"{KEY} change"] / (t["train_minutes"] / 60)).round(3)

# %% [markdown]
# ## What it means
#
# Read the verdicts, not the point values: at 4,000 faces and one training run per arm, most
# changes of a point are training noise, and the table says so. In the committed results so far,
# `mixup` *hurts* at this schedule: its MAE and its gender and race accuracy are worse beyond
# the training noise. Blending two faces makes the task harder, and 12 epochs are too few to
# profit from the harder task; mixup's published gains come from schedules ten times longer.
# Averaging the two baselines is the largest gain measured, on every figure against the
# baseline, and it needs no new idea, only a second training run and twice the network time
# per face. The remaining arms fill in the table as they finish; the best are then confirmed at
# 96 px, where an average of two models is the candidate for the kit's default model if it
# stays under the 100 ms target.
#
# ## Exercises
#
# 1. In section 4's cross-table, compute the paired change by hand from the two off-diagonal
#    cells. Why does the number of faces both arms get right not matter?
# 2. `paired_change(a, b, n_boot=...)`: how does the interval's width change from 200 to 5,000
#    resamples? And if you keep only the first 1,000 faces (`a[:1000]`, `b[:1000]`)?
# 3. Suppose `baseline-seed2` had moved 10-group accuracy by 0.030 instead. Which verdicts of the
#    table would change (`helpers.ablation.beyond_training_noise` applies the rule)? What does
#    a single reseed *not* tell you about training noise, and how would three seeds help?
# 4. Section 5 showed who the average sides with where its members disagree. Compute, on those
#    faces only, the accuracy of each member. Why can the average beat both members overall,
#    but not on every face?
# 5. An average of three models costs three networks per face. From the committed
#    `bench predict` figures in `docs/results.md` (a 96 px B0 with test-time flip: about 88 ms per
#    photo, of which the network is a small part), estimate how many 96 px members fit under
#    100 ms, then measure it with `ensemble` and `bench predict`.
