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
# # 07 · Evaluation: what do the numbers say, how sure are they, and for whom?
#
# The paper reports one accuracy per model, read off plots, and draws its conclusions from
# differences of a point or two. This chapter puts the kit's replication — 25 runs trained on
# the seed's data at the seed's 56 px, several of them three times with other seeds — through
# one evaluation: more than accuracy, with error bars, broken down by race and gender. Then it
# redraws the paper's Figures 4, 6, 7 and 9 and gives each of the paper's claims a verdict.
#
# **What you will learn**
# - accuracy, balanced accuracy, macro-F1 and the confusion matrix, and when they disagree;
# - age in years (MAE, CS@5) from a per-year head, and from group centres when there is none;
# - two kinds of noise: the validation sample's (bootstrap) and the training's (seeds), and
#   why a claim needs both;
# - the true B0–B7 comparison, and the fairness table: every age metric by race and gender,
#   with the worst-group gap.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mtl-age-kit/mtl-age-kit/blob/main/notebooks/07_evaluation.ipynb)
#
# *Accelerator:* none. This chapter trains nothing: it reads the committed results (seconds),
# or a replication you ran yourself.

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
RECIPE = "kit"  # the recipe of the run examined in sections 2 and 7
DATASET, TASKS = "utkface", "age+gender+race"  # the paper's headline setting
MIN_GROUP = 5  # fairness: groups with fewer validation faces are left out of the gap
PROFILE

# %% [markdown]
# ## 1. Where the numbers come from
#
# `python -m helpers replicate` trains the paper's grid and writes one `results.csv` (one row
# per run) beside each run's `predictions.csv` (its answers on every validation face). This
# chapter reads, in this order:
#
# 1. a **full** replication you ran here (`--profile full`, on a GPU);
# 2. else the **committed CPU replication** in `results/paper-cpu/`: B0 at 56 px from random
#    weights, 12 epochs per run on two CPU cores (its plan and budget: `BUDGET.md` there);
# 3. else a **smoke** replication you ran here — a pipeline check whose numbers mean nothing.

# %%
from pathlib import Path

import pandas as pd

from helpers.paths import results_dir, runs_dir
from helpers.replication import CPU_RESULTS, best_results
from helpers.sample import SAMPLE_WARNING

results, origin, folder = best_results()
if results is None:
    raise RuntimeError("no replication results: python -m helpers replicate --profile smoke makes some")
if results["is_sample"].astype(bool).any():
    print("!" * 80 + f"\n{SAMPLE_WARNING}\n" + "!" * 80)
print(f"{len(results)} finished runs from {origin}: {folder}")
results[["run", "dataset", "tasks", "age_groups", "recipe", "backbone", "repeat", "epochs", "train_seconds"]]

# %%
# What this chapter shows is that folder's table, nothing else (checked when the notebooks are tested)
on_disk = pd.read_csv(folder / "results.csv")
assert list(results["run"]) == list(on_disk["run"])
scores = results[["age_3", "age_5", "age_10"]]  # a seed-recipe run scores only the scheme it trained
assert scores.notna().any(axis=1).all() and scores.stack().dropna().between(0, 1).all()
assert all((Path(p) / "predictions.csv").is_file() for p in results["path"])
if not (runs_dir() / "replication-full" / "results.csv").is_file():
    assert folder == results_dir() / CPU_RESULTS, "without a full run here, the chapter shows the committed results"

# %% [markdown]
# ## 2. One run, every metric
#
# We start with one run: UTKFace, age + gender + race, the kit recipe. Its predictions on
# the validation faces (`predictions.csv` in its run folder) hold everything below.

# %%
from helpers.experiments import read_predictions
from helpers.scorecard import task_scores, trained_view


def pick(dataset, tasks, recipe, age_groups=None):
    """The first seed's run of a cell (B0 where there is one)."""
    rows = results[(results["dataset"] == dataset) & (results["tasks"] == tasks) & (results["recipe"] == recipe)]
    rows = rows.sort_values(["repeat", "backbone"])
    if age_groups is not None:
        rows = rows[rows["age_groups"].astype(str) == age_groups]
    return rows.iloc[0] if len(rows) else None


run = pick(DATASET, TASKS, RECIPE)
if run is None:
    run = results.iloc[0]
print(f"examined: {run['run']}")
pred = read_predictions(Path(run["path"]))
task_scores(trained_view(pred)).round(3)

# %% [markdown]
# - **accuracy** is the share of faces in the right class; `low`–`high` is its 95 %
#   bootstrap interval (the validation faces resampled 1,000 times): a second run whose
#   accuracy falls inside it is not measurably different.
# - **balanced accuracy** averages the recall of each class, so a model that answers the
#   biggest group for everyone scores 1/k, not the biggest group's share.
# - **macro-F1** averages each class's F1, so it also punishes classes that are
#   over-predicted. When accuracy is far above both, the model lives off the big classes.
#
# The confusion matrix says where the errors go: rows are true groups, columns predicted.

# %%
from helpers.scorecard import confusion_table

finest = next(k for k in ("age_10", "age_5", "age_3") if f"pred_{k}" in pred)
confusion_table(pred, finest)

# %% [markdown]
# **Age in years.** A per-year age output (the kit's) gives an age in years directly: its
# expected value. A softmax over groups (the seed's) has no years; the best it can do is
# the expected *centre* of its groups — a 10-group model can be 4 years off when every
# group is right. MAE is the mean error in years; CS@5 the share of faces within 5 years.

# %%
from helpers.scorecard import age_year_scores

years = {}
for recipe in ("kit", "seed"):
    other = pick(DATASET, TASKS, recipe, None if recipe == "kit" else "10")
    if other is not None:
        scores = age_year_scores(read_predictions(Path(other["path"])))
        years[f"{recipe} ({'per-year output' if recipe == 'kit' else 'group centres'})"] = scores
pd.DataFrame(years).T.round(3)

# %% [markdown]
# ## 3. The paper's figures, regenerated
#
# Each figure below is drawn from the results table only. Stars mark the seed's reported
# UTKFace values (age + gender + race) at the backbone the paper named; error bars are the
# 95 % bootstrap intervals.
#
# **Figure 4** — IMDB-WIKI: age accuracy by backbone, age groups and tasks.

# %%
from helpers.paper_figures import backbone_figure, datasets_figure, multi_source_figure, tasks_figure

fig = backbone_figure(results, "wiki")
assert fig is not None and fig.axes[0].has_data()  # drawn from the table above

# %% [markdown]
# **Figure 6** — UTKFace, the same axes, with the seed's reported values.

# %%
fig = backbone_figure(results, "utkface")

# %% [markdown]
# **Figure 7** — the two datasets on the same tasks.

# %%
fig = datasets_figure(results)

# %% [markdown]
# **Figure 9** — every experiment at 3 age groups, the mixes scored on each source (chapter 06).

# %%
fig = multi_source_figure(results, "3")
if fig is None:
    print("no multi-source run in these results: run chapter 06 or the replication grid")

# %% [markdown]
# ## 4. Two kinds of noise
#
# A bootstrap interval says how much an accuracy would move on another 4,000 validation
# faces. It says nothing about how much it would move if the *same* model were trained again
# with other initial weights and another order of batches. The replication trains the cells
# that decide the paper's claims three times (`repeat` 0, 1, 2: other train seeds, the same
# faces) to measure that second noise. A cell's interval below adds both: the Student
# interval of the seeds' mean and the runs' bootstrap half-width (`helpers.claims`).

# %%
from helpers.claims import cell_estimates

cells = cell_estimates(results)
own = cells[(cells["on"] == cells["dataset"]) & (cells["recipe"] == RECIPE) & (cells["backbone"] == "b0")]
own.pivot_table(index=["dataset", "tasks"], columns="scheme",
                values=["accuracy", "seed_sd", "boot_half", "n"])[["accuracy", "seed_sd", "boot_half", "n"]].round(3)

# %% [markdown]
# Read `seed_sd` against `boot_half`: when the seeds' spread is as large as the bootstrap's
# half-width, a single run's interval is too narrow by about a factor √2, and a difference of a
# point between two single runs — the size of most of the paper's conclusions — is noise.
#
# Single- against multi-task on UTKFace, each bar the first seed's run with its bootstrap
# interval:

# %%
fig = tasks_figure(results, "utkface")

# %% [markdown]
# ## 5. The true B0–B7 comparison
#
# The seed's notebooks imported `EfficientNetB4` under four names, so its "B5", "B6" and
# "B7" were B4s — and of course they "performed alike". The real backbones differ
# by a factor of sixteen in size:

# %%
import matplotlib.pyplot as plt

from helpers.models import PUBLISHED_PARAMS

params = pd.DataFrame({"parameters (millions)": {b.upper(): n / 1e6 for b, n in PUBLISHED_PARAMS.items()}})
params["what the seed trained under this name"] = [
    "B4" if b in ("B5", "B6", "B7") else b for b in params.index]
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(params.index, params["parameters (millions)"], color="C0", label="the real backbone")
seed_sizes = [PUBLISHED_PARAMS[s.lower()] / 1e6 for s in params["what the seed trained under this name"]]
ax.plot(params.index, seed_sizes, "k*", markersize=12, linestyle="none", label="what the seed trained")
ax.set_xlabel("backbone (EfficientNet, without its classifier)")
ax.set_ylabel("parameters (millions)")
ax.legend()
fig.tight_layout()
params.round(1)

# %% [markdown]
# Our results per backbone at the paper's headline setting — the CPU replication trains the
# true B0–B3 (B4–B7 at 56 px cost hours per run on two cores; on a GPU, `replicate --profile
# full --backbones b0,b4,b5,b6,b7` finishes the question):

# %%
from helpers.paper_figures import accuracy_cells

cells = accuracy_cells(results)
single = cells[(cells["kind"] == "single") & (cells["on"] == cells["dataset"])]
headline = single[(single["dataset"] == DATASET) & (single["tasks"] == TASKS)]
print(f"backbones in these results: {', '.join(sorted(set(results['backbone'])))}")
headline.pivot_table(index=["recipe", "scheme"], columns="backbone", values="accuracy", aggfunc="mean").round(3)

# %% [markdown]
# What would B4–B7 cost here? `bench train --backbones ... --save` measures each true
# backbone's training speed on this machine; the replication folder keeps the figures, and
# `backbone_table` turns them into the length of one run of the grid (B0's median run, scaled)
# beside what each trained backbone scored (mean over its train seeds):

# %%
from helpers.replication import BENCH_TRAIN, GPU_BACKBONE_COMMAND, backbone_table, read_bench

bench = read_bench(folder / BENCH_TRAIN)
print("training speeds:", f"{folder / BENCH_TRAIN}" if bench else "not measured for these results")
print("the GPU command that settles B4-B7:", GPU_BACKBONE_COMMAND)
backbone_table(results, bench).round(3)

# %% [markdown]
# ## 6. For whom? The fairness table
#
# An average can hide a group the model serves badly. Every age metric of the examined
# run, per race and per gender; `gap` is the best group minus the worst (groups with at
# least `MIN_GROUP` validation faces), and the worst group is named below each table.

# %%
from helpers.scorecard import fairness_table

fair = {}
for by in ("race", "gender"):
    known = pred[pred[by] >= 0]
    if len(known):
        fair[by] = fairness_table(known, by, min_count=MIN_GROUP)
fair["race"].round(3) if "race" in fair else "this run's faces have no race labels"

# %%
fair["gender"].round(3) if "gender" in fair else "this run's faces have no gender labels"

# %%
from helpers.paper_figures import group_figure

shown = [by for by in ("race", "gender") if by in fair]
if shown:
    fig, axes = plt.subplots(1, 2 * len(shown), figsize=(6 * len(shown) + 2, 3.4), squeeze=False)
    for i, by in enumerate(shown):
        accuracy_key = next(k for k in ("age_3", "age_5", "age_10") if k in fair[by])
        group_figure(fair[by], "mae", ax=axes[0][2 * i])
        group_figure(fair[by], accuracy_key, ax=axes[0][2 * i + 1])
    fig.tight_layout()
for by in shown:
    worst = fair[by].attrs["worst"]
    print(f"worst {by} group: MAE {worst.get('mae')}, " + ", ".join(
        f"{k} {worst[k]}" for k in ("age_3", "age_5", "age_10") if k in worst))

# %% [markdown]
# Across every run, the worst-group gaps in age MAE (years) and 3-group accuracy:

# %%
gap_columns = [c for c in ("mae_gap_race", "age_3_gap_race", "mae_gap_gender", "age_3_gap_gender") if c in results]
results.set_index("run")[gap_columns].dropna(how="all").round(3)

# %% [markdown]
# ## 7. The paper's claims, answered
#
# Each claim of the paper, where the paper shows it, and what the replication measured. A
# comparison "A above B" *holds* when A's interval (seeds and bootstrap together) lies wholly
# above B's, is *contradicted* when it lies wholly below, and is *not shown (within noise)*
# otherwise; "about equal" holds when the intervals overlap. A claim holds only when every
# comparison behind it does.

# %%
from helpers.claims import claims_table, comparisons

claims = claims_table(results, recipe=RECIPE)
with pd.option_context("display.max_colwidth", 120):
    display(claims[["claim", "paper's evidence", "verdict", "why"]])

# %%
# Every comparison behind the verdicts: both cells, their intervals and seeds
detail = comparisons(results, recipe=RECIPE)
detail[["claim", "scheme", "a", "a_accuracy", "a_low", "a_high", "a_n", "relation", "b", "b_accuracy", "b_low",
        "b_high", "b_n", "verdict"]].round(3)

# %%
assert len(claims) == 7 and claims["verdict"].notna().all()
print(f"{(claims['verdict'] != 'not measured yet').sum()} of {len(claims)} claims have a verdict from {origin}")
from helpers.run_plots import SEED_UTKFACE_3TASK

for key, paper in SEED_UTKFACE_3TASK.items():
    ours = headline[headline["scheme"] == key.split("_")[1]]
    if len(ours):
        best = ours.loc[ours["accuracy"].idxmax()]
        print(f"headline {key}: paper {paper:.3f} (pretrained); ours {best['accuracy']:.3f} "
              f"[{best['low']:.3f}, {best['high']:.3f}] ({best['recipe']}, {best['backbone'].upper()}, from scratch)")
if "smoke" in origin:
    print("smoke profile: a few hundred images for one epoch; read these numbers as 'the code runs', not as results.")

# %% [markdown]
# **What it means.** Read the verdicts with their reasons. A claim that is *not shown* is not
# false: the replication could not tell it from noise at this scale, and neither could the
# paper, which reports no intervals and one run per cell. The backbone claim can never hold on
# the paper's evidence — its B5, B6 and B7 were B4 — and the CPU replication measures only the
# smaller true backbones. `docs/results.md` lists every run behind this table with its time.

# %% [markdown]
# ## Exercises
#
# 1. Pick the run with the highest 10-group accuracy in `results`. Is its balanced
#    accuracy also the highest? What does the confusion matrix of a run with high
#    accuracy but low balanced accuracy look like?
# 2. The interval of a 4,000-face validation set is about ±1.5 points at 45 % accuracy. How
#    many validation faces would you need to tell apart two runs 1 point apart? (Hint: the
#    width shrinks with the square root of the number of faces.)
# 3. Set `MIN_GROUP = 1` and look at the race gap again. Why is a gap over a group of three
#    faces meaningless, and what does the bootstrap say about it?
# 4. Run `python -m helpers replicate --profile smoke --backbones b0,b1` and come back:
#    does B1 beat B0 by more than the interval?
# 5. In section 4, which cell has the largest `seed_sd`? Take its three runs from `results`
#    and the verdict of one comparison it is part of: would that verdict change if only one
#    seed (any of the three) had been trained, as in the paper?
