"""The paper's whole grid in one call: every run, ``results.csv``, a markdown report and the figures.

The grid, for each backbone and each recipe: datasets (IMDB-WIKI's wiki part, UTKFace) x
age groups (3, 5, 10) x tasks (age; age + gender; age + gender + race where the dataset has
race), plus the two multi-source mixes (the paper's and the full one, all three tasks). A
recipe whose age output is a group softmax (the seed's) trains one model per age-group
scheme, as the paper did; a recipe with a per-year age output (the kit's) serves the 3, 5 and
10 groups from one model, so it trains that model once and reports all three schemes.

Each run lives in ``<out>/runs/<name>``; a finished run whose configuration matches is
skipped, an interrupted one resumes. Then every run's validation predictions are scored
(:mod:`helpers.scorecard`) into ``results.csv``, one row per run, and ``report.md`` and
``figures/*.png`` are written from that table alone.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .age_heads import REPORTED_SCHEMES, age_head
from .recipes import recipe as get_recipe

#: Single-source experiments: dataset -> the task sets its labels allow (the seed's order).
SINGLE_SOURCE = {"wiki": (("age",), ("age", "gender")),
                 "utkface": (("age",), ("age", "gender"), ("age", "gender", "race"))}
#: Multi-source experiments: mix name -> tasks.
MULTI_SOURCE = {"paper": ("age", "gender", "race"), "full": ("age", "gender", "race")}
SOURCES = ("utkface", "wiki")
RECIPES = ("seed", "kit")
#: What a smoke replication changes in the smoke profile so the whole grid fits in half an hour
#: on two CPU cores: one epoch per run (a first epoch mostly compiles the model anyway).
SMOKE_SETTINGS = {"epochs": 1}
#: The columns of results.csv that say what a run was, in order; its scores follow.
IDENTITY = ("run", "kind", "dataset", "tasks", "n_tasks", "age_groups", "recipe", "backbone", "profile", "image_size",
            "repeat", "epochs", "best_epoch", "n_train", "train_seconds", "is_sample", "path")
#: The CPU replication (the ``cpu`` profile) trains these cells three times (other train seeds,
#: same faces): those that decide the paper's claims on tasks, datasets and the multi-source mix.
CLAIM_CELLS = (("utkface", ("age",)), ("utkface", ("age", "gender")), ("utkface", ("age", "gender", "race")),
               ("wiki", ("age",)), ("wiki", ("age", "gender")), ("mix-paper", ("age", "gender", "race")))
CPU_REPEATS = 3
#: ... and the UTKFace three-task cell once with each of these true backbones (the backbone question).
CPU_BACKBONES = ("b1", "b2", "b3")
#: Train seed of repeat k of a cell (repeat 0 keeps the split's seed, as every other run).
REPEAT_SEED_STEP = 1000
#: Runs a worker process trains before fresh ones take over (bounds the memory each one holds).
RUNS_PER_WORKER = 7
RESULTS, REPORT, FIGURES, RECORD = "results.csv", "report.md", "figures", "replication.json"
#: ``bench train --backbones ... --save`` figures kept in a replication folder: its report's backbone section.
BENCH_TRAIN = "bench-train.json"
#: What would settle "B4-B7 perform alike" where a GPU is: the kit recipe's grid on the true B4-B7
#: (and B0 to compare with), the seed's scale, under JAX where TensorFlow has no GPU build.
GPU_BACKBONE_COMMAND = ("KERAS_BACKEND=jax python -m helpers replicate --profile full "
                        "--backbones b0,b4,b5,b6,b7 --recipes kit --out runs/paper-full")


@dataclass(frozen=True)
class GridRun:
    """One cell of the grid: what is trained (dataset or mix, tasks, age groups) and how (recipe, backbone)."""

    dataset: str  # utkface | wiki | mix-paper | mix-full
    tasks: tuple[str, ...]
    age_groups: str
    recipe: str
    backbone: str
    repeat: int = 0  # > 0: the same cell again with another train seed

    @property
    def name(self) -> str:
        """The run folder's name, e.g. ``utkface-age+gender+race-g10-seed-b0`` (``-r1`` for repeat 1)."""
        name = f"{self.dataset}-{'+'.join(self.tasks)}-g{self.age_groups}-{self.recipe}-{self.backbone}"
        return f"{name}-r{self.repeat}" if self.repeat else name

    @property
    def mix(self) -> str | None:
        """The mix's name for a multi-source run, else None."""
        return self.dataset[len("mix-"):] if self.dataset.startswith("mix-") else None


@dataclass
class Replication:
    """What :func:`replicate` did: the output folder, the results table and the runs trained and skipped."""

    out: Path
    results: pd.DataFrame
    trained: list[str]
    skipped: list[str]
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.out / REPORT

    @property
    def figures(self) -> list[Path]:
        return sorted((self.out / FIGURES).glob("*.png"))


def recipe_schemes(recipe: str) -> tuple[str, ...]:
    """The age-group schemes a recipe trains separate models for: all three for a group softmax,
    only '10' (which picks the best epoch) for an age output that serves every scheme."""
    head = age_head(get_recipe(recipe).age_head, "10")
    return ("10",) if head.served() == list(REPORTED_SCHEMES) else REPORTED_SCHEMES


def replication_grid(backbones=("b0",), recipes=RECIPES) -> list[GridRun]:
    """Every run of the paper's grid for ``backbones`` and ``recipes`` (see the module's text)."""
    runs = []
    for backbone in backbones:
        for rec in recipes:
            for scheme in recipe_schemes(rec):
                for dataset, task_sets in SINGLE_SOURCE.items():
                    runs += [GridRun(dataset, tasks, scheme, rec, backbone) for tasks in task_sets]
                runs += [GridRun(f"mix-{mix}", tasks, scheme, rec, backbone) for mix, tasks in MULTI_SOURCE.items()]
    return runs


def cpu_grid() -> list[GridRun]:
    """The CPU replication's cells, in the order they train: every single-source cell of the paper's
    grid with the kit recipe on B0; the seed recipe on the UTKFace three-task headline at 3, 5 and 10
    groups; the two mixes (each twice as long: two sources); repeats 1 and 2 of :data:`CLAIM_CELLS`;
    then the UTKFace three-task cell on :data:`CPU_BACKBONES`. Runs of about equal length come
    first, so a session's share of the plan ends close to a run's end."""
    first = replication_grid(("b0",), ("kit",))
    singles = [run for run in first if not run.mix]
    runs = singles + [GridRun("utkface", ("age", "gender", "race"), scheme, "seed", "b0") for scheme in REPORTED_SCHEMES]
    runs += [run for run in first if run.mix]
    runs += [replace(run, repeat=k) for k in range(1, CPU_REPEATS) for run in first
             if (run.dataset, run.tasks) in CLAIM_CELLS]
    return runs + [GridRun("utkface", ("age", "gender", "race"), "10", "kit", b) for b in CPU_BACKBONES]


#: A profile whose replication is a plan of its own rather than the whole grid per backbone and recipe.
PROFILE_GRIDS = {"cpu": cpu_grid}


def grid_config(run: GridRun, profile: str, *, sources: dict | None = None, weights: str | None = None,
                **overrides) -> dict:
    """The run configuration of a grid cell; ``overrides`` (epochs, n_images, image_size,
    batch_size) replace the profile's values."""
    from .experiments import mix_config
    from .training import run_config

    from .splits import SEED

    args = dict(tasks=list(run.tasks), age_groups=run.age_groups, recipe=run.recipe, profile=profile,
                backbone=run.backbone, weights=weights, **{k: v for k, v in overrides.items() if v is not None})
    if run.repeat:
        args["train_seed"] = SEED + REPEAT_SEED_STEP * run.repeat
    if run.mix:
        args["n_per_source"] = args.pop("n_images", None)
        return mix_config(run.mix, sources=sources, **args)
    return run_config(dataset=run.dataset, source=(sources or {}).get(run.dataset), **args)


def replicate(profile: str | None = None, *, backbones=None, recipes=None, out=None, sources: dict | None = None,
              weights: str | None = None, epochs: int | None = None, n_images: int | None = None,
              image_size: int | None = None, batch_size: int | None = None, workers: int | None = None,
              train: bool = True, verbose: int = 1) -> Replication:
    """Run the grid (skipping finished runs), then write ``results.csv``, ``report.md`` and the figures.

    ``profile`` defaults to ``$AGEKIT_PROFILE`` or smoke; ``backbones`` to the profile's and ``recipes``
    to both, except that the cpu profile, given neither, runs its own plan (:func:`cpu_grid`); ``out`` to
    ``<runs>/replication-<profile>``;
    ``sources`` maps 'utkface'/'wiki' to a folder or archive (default: the kit's data);
    ``weights`` None trains from scratch ('imagenet' needs network access once). In the smoke
    profile :data:`SMOKE_SETTINGS` apply unless given. ``workers`` > 1 trains that many runs
    at a time in separate processes; the default is 2 in smoke (a tiny run spends most of its
    time building its graph, on one core) and 1 otherwise (one accelerator, or two cores that one
    run already fills). ``train=False`` trains nothing: it writes the results, report and figures
    of the runs finished so far (e.g. while another call is still training the grid).
    """
    from .datasets import default_source
    from .paths import runs_dir
    from .profiles import profile as get_profile

    start = time.time()
    prof = get_profile(profile)
    plan = PROFILE_GRIDS.get(prof.name) if backbones is None and recipes is None else None
    recipes = list(recipes or RECIPES)
    backbones = [b.lower() for b in (backbones or [prof.backbone])]
    out = Path(out) if out is not None else runs_dir() / f"replication-{prof.name}"
    (out / "runs").mkdir(parents=True, exist_ok=True)
    settings = SMOKE_SETTINGS if prof.name == "smoke" else {}
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if prof.name == "smoke" else 1
    overrides = {"epochs": epochs or settings.get("epochs"), "n_images": n_images or settings.get("n_images"),
                 "image_size": image_size, "batch_size": batch_size}
    sources = dict(sources or {})
    for dataset in SOURCES:
        if dataset not in sources:
            sources[dataset], is_sample = default_source(dataset)
            if is_sample and verbose:
                from .sample import SAMPLE_WARNING

                print("!" * 80 + f"\n{dataset}: {SAMPLE_WARNING}\n" + "!" * 80, flush=True)
    grid = plan() if plan else replication_grid(backbones, recipes)
    if plan:
        backbones = list(dict.fromkeys(run.backbone for run in grid))
        recipes = list(dict.fromkeys(run.recipe for run in grid))
    jobs, skipped = [], []
    for run in grid:
        config = grid_config(run, prof.name, sources=sources, weights=weights, **overrides)
        folder = out / "runs" / run.name
        if _finished(folder, config):
            skipped.append(run.name)
        else:
            jobs.append((run.name, str(folder), config))
    if verbose:
        print(f"{len(grid)} runs in the grid: {len(skipped)} already finished, {len(jobs)} "
              f"{'to train' if train else 'not trained yet (report only)'} "
              f"({', '.join(backbones)}; recipes {', '.join(recipes)}; {prof.name} profile) -> {out}", flush=True)
    trained, failed = _train_all(jobs, workers, verbose) if train else ([], {})
    results = results_table([out / "runs" / run.name for run in grid])
    results.to_csv(out / RESULTS, index=False)
    figures = write_figures(results, out / FIGURES)
    seconds = time.time() - start
    finished = datetime.now().isoformat(timespec="seconds")
    earlier = json.loads((out / RECORD).read_text()).get("calls", []) if (out / RECORD).is_file() else []
    call = {"finished": finished, "seconds": round(seconds, 1), "trained": len(trained), "skipped": len(skipped),
            "failed": len(failed), "workers": workers, **({} if train else {"report_only": True})}
    record = {"profile": prof.name, "backbones": backbones, "recipes": list(recipes), "runs": len(grid),
              "trained": trained, "skipped": skipped, "failed": failed, "seconds": round(seconds, 1),
              "not_yet_trained": [] if train else [name for name, _, _ in jobs],
              "workers": workers,
              "settings": {k: v for k, v in overrides.items() if v is not None}, "weights": weights,
              "sources": {k: str(v) for k, v in sources.items()}, "finished": finished, "calls": earlier + [call]}
    (out / RECORD).write_text(json.dumps(record, indent=2))
    write_report(results, out / REPORT, record=record, figures=figures, bench=read_bench(out / BENCH_TRAIN))
    if verbose:
        print(f"{len(trained)} trained, {len(skipped)} skipped, {len(failed)} failed in {seconds / 60:.1f} min; "
              f"wrote {out / RESULTS}, {out / REPORT} and {len(figures)} figures", flush=True)
    return Replication(out, results, trained, skipped, seconds, failed)


def results_table(run_dirs, *, create: bool = True) -> pd.DataFrame:
    """One row per finished run folder: what it was, its scorecard on its own validation labels, and
    its scores on each source's validation images (``<source>_<key>``); unfinished folders are left out.

    A finished folder without ``predictions.csv`` has it written first (loading its model); with
    ``create=False`` nothing is written, and such a folder is left out with a message naming it."""
    from .experiments import is_mix, read_predictions
    from .scorecard import scorecard, source_scores, trained_view
    from .training import load_run, run_summary

    rows = []
    for folder in run_dirs:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            continue
        run = load_run(folder)
        if not run.finished:
            continue
        summary = run_summary(run)
        config, metrics = run.config, run.metrics or {}
        try:
            pred = read_predictions(folder, create=create)
        except FileNotFoundError as error:
            print(f"{folder}: left out of the table: {error}", file=sys.stderr, flush=True)
            continue
        row = {k: summary[k] for k in IDENTITY if k in summary}
        repeat = (config.get("train_seed", config["seed"]) - config["seed"]) // REPEAT_SEED_STEP
        row.update(kind="multi" if is_mix(config) else "single", n_tasks=len(config["tasks"]), repeat=repeat,
                   n_train=metrics.get("data", {}).get("n_train"), train_seconds=metrics.get("train_seconds"))
        row.update(scorecard(trained_view(pred)))
        mix = config.get("mix") or {config["dataset"]: config["tasks"]}
        for (source, key), values in source_scores(pred).iterrows():
            if values["n"] > 0:
                row[f"{source}_{key}"] = values["value"]
                if key != "mae":
                    row[f"{source}_{key}_low"], row[f"{source}_{key}_high"] = values["low"], values["high"]
        for source in mix:
            row[f"{source}_trains_age"] = "age" in mix[source]
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in IDENTITY if c in table]
    headline = [c for c in table if c not in first and "_gap_" not in c and not c.startswith(SOURCES)]
    gaps = sorted(c for c in table if "_gap_" in c)
    per_source = sorted(c for c in table if c.startswith(SOURCES))
    return table[first + headline + gaps + per_source]


def write_figures(results: pd.DataFrame, folder) -> list[Path]:
    """The paper's Figures 4, 6, 7 and 9 (their kind) from a results table, as PNG files in ``folder``."""
    import matplotlib.pyplot as plt

    from .paper_figures import backbone_figure, datasets_figure, multi_source_figure, tasks_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "fig4_wiki_by_backbone": lambda: backbone_figure(results, "wiki"),
        "fig6_utkface_by_backbone": lambda: backbone_figure(results, "utkface"),
        "fig6_utkface_by_tasks": lambda: tasks_figure(results, "utkface"),
        "fig7_two_datasets": lambda: datasets_figure(results),
        "fig9_multi_source": lambda: multi_source_figure(results, "3"),
    }
    written = []
    for name, make in makers.items():
        fig = make()
        if fig is None:
            continue
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def headline_table(results: pd.DataFrame) -> pd.DataFrame:
    """The paper's headline (UTKFace, age + gender + race) beside ours: per scheme, the seed's
    reported value and backbone, and for each recipe our best backbone's accuracy (the mean over its
    train seeds), its 95% interval (seeds and bootstrap, :func:`helpers.claims.cell_estimates`) and seeds."""
    from .claims import cell_estimates
    from .paper_figures import SEED_REPORTED_BACKBONE
    from .run_plots import SEED_UTKFACE_3TASK

    cells = cell_estimates(results)
    mine = cells[(cells["kind"] == "single") & (cells["dataset"] == "utkface") & (cells["on"] == "utkface")
                 & (cells["tasks"] == "age+gender+race")]
    rows = []
    for key, value in SEED_UTKFACE_3TASK.items():
        named = SEED_REPORTED_BACKBONE[key].upper()
        scheme = key.split("_")[1]
        row = {"age groups": scheme, "paper": value,
               "paper backbone": named if named == "B4" else f"{named} (as reported; really a B4)"}
        for rec in RECIPES:
            candidates = mine[(mine["recipe"] == rec) & (mine["scheme"] == scheme)]
            if len(candidates):
                best = candidates.loc[candidates["accuracy"].idxmax()]
                row[f"{rec}"] = best["accuracy"]
                row[f"{rec} 95% interval"] = f"{best['low']:.3f}-{best['high']:.3f}"
                row[f"{rec} backbone"] = best["backbone"].upper()
                row[f"{rec} seeds"] = int(best["n"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("age groups")


def task_comparison(results: pd.DataFrame, baseline: str = "age") -> pd.DataFrame:
    """Single- against multi-task: the age accuracy of each task set per dataset, recipe, backbone and
    age-group scheme (single-source runs), and for each other task set a verdict against ``baseline``:
    'better' or 'worse' when the 95% intervals do not overlap, else 'no measurable difference'."""
    from .paper_figures import accuracy_cells

    cells = accuracy_cells(results)
    single = cells[(cells["kind"] == "single") & (cells["on"] == cells["dataset"])]
    if not len(single):
        return pd.DataFrame()
    wide = single.pivot_table(index=["dataset", "recipe", "backbone", "scheme"], columns="tasks",
                              values=["accuracy", "low", "high"], aggfunc="max")
    table = wide["accuracy"].copy()
    table.columns.name = None
    if baseline not in table:
        return table
    for tasks in [t for t in table.columns if t != baseline]:
        verdicts = []
        for _, row in wide.iterrows():
            low, high = row[("low", tasks)], row[("high", tasks)]
            base_low, base_high = row[("low", baseline)], row[("high", baseline)]
            if pd.isna([low, high, base_low, base_high]).any():
                verdicts.append(None)
            else:
                verdicts.append("better" if low > base_high else "worse" if high < base_low
                                else "no measurable difference")
        table[f"{tasks} vs {baseline}"] = verdicts
    return table


def write_report(results: pd.DataFrame, path, *, record: dict | None = None, figures=(),
                 bench: list[dict] | None = None) -> Path:
    """``report.md``: the set-up, the paper's headline beside ours, the claims, the backbone question
    (with ``bench``, :func:`backbone_section`), every run, the multi-source runs per source, the
    fairness gaps, and the figures."""
    from .sample import SAMPLE_WARNING

    path = Path(path)
    record = record or {}
    lines = [f"# Replication report: {record.get('profile', '?')} profile", ""]
    if len(results) and results["is_sample"].astype(bool).any():
        lines += [f"> **{SAMPLE_WARNING}**", ""]
    if record:
        hours = (float(results["train_seconds"].sum()) / 3600 if len(results) and "train_seconds" in results
                 else 0.0)
        lines += [f"- runs in the grid: {record['runs']}, finished: {len(results)} ({hours:.1f} h of training in "
                  f"all); this report written {record.get('finished', '?')}",
                  f"- backbones: {', '.join(record['backbones'])}; recipes: {', '.join(record['recipes'])}; "
                  f"weights: {record['weights'] or 'none (from scratch)'}",
                  f"- changed from the profile: {record['settings'] or 'nothing'}",
                  f"- data: " + "; ".join(f"{k} from `{v}`" for k, v in record["sources"].items()), ""]
    if record.get("not_yet_trained"):
        lines += [f"- not trained yet ({len(record['not_yet_trained'])}; the next training call trains them): "
                  + ", ".join(f"`{n}`" for n in record["not_yet_trained"]), ""]
    if record.get("failed"):
        lines += ["## Runs that failed", "", "Left out of every table below; the next call retries them.", ""]
        lines += [f"- `{name}`: {why}" for name, why in record["failed"].items()] + [""]
    if record.get("profile") == "smoke":
        lines += ["The smoke profile trains a few hundred images for one epoch: these numbers show that the "
                  "whole pipeline runs, not how well anything learns. `--profile full` is the paper's scale.", ""]
    if not len(results):
        path.write_text("\n".join(lines + ["No finished runs."]) + "\n")
        return path
    trained_backbones = ", ".join(sorted({str(b).upper() for b in results["backbone"]}, key=lambda b: (len(b), b)))
    lines += ["## The paper's headline beside ours", "",
              "UTKFace, age + gender + race, validation accuracy of the age groups. The paper's backbones "
              "B5-B7 were all B4 (the seed's notebooks imported EfficientNetB4 under those names); ours is the "
              f"best of the backbones trained so far ({trained_backbones}), its accuracy the mean over its train "
              "seeds with a 95 % interval for seeds and validation faces together (a single run: its bootstrap "
              "half-width either side).", "",
              markdown_table(headline_table(results)), ""]
    lines += claims_section(results)
    lines += backbone_section(results, bench)
    keys = [k for k in ("age_3", "age_5", "age_10", "mae", "cs5", "gender", "race") if k in results]
    runs = results.sort_values(["kind", "dataset", "n_tasks", "recipe", "backbone", "age_groups"])
    runs = runs.assign(minutes=runs["train_seconds"] / 60) if "train_seconds" in runs else runs
    lines += ["## Every run", "", "Validation scores on the labels each run trained on (age groups: accuracy; "
              "MAE in years; CS@5: share within 5 years); `repeat` > 0: the same cell with another train seed; "
              "minutes: its training time.", "",
              markdown_table(runs.set_index("run")[[c for c in ("repeat", "epochs", "best_epoch", "minutes")
                                                    if c in runs] + keys]), ""]
    multi = results[results["kind"] == "multi"]
    if len(multi):
        keys = ("age_3", "age_5", "age_10", "mae", "gender", "race")
        columns = [f"{s}_{k}" for s in ("wiki", "utkface") for k in keys if f"{s}_{k}" in results]
        every_label = results["n_tasks"] == results["dataset"].map({"wiki": 2, "utkface": 3})
        alone = results[(results["kind"] == "single") & every_label]
        table = pd.concat([multi, alone]).sort_values(["recipe", "backbone", "age_groups", "kind", "dataset"])
        lines += ["## Multi-source: each source's validation images", "",
                  "Each source keeps its own split, so these are the very images the single-source runs validate "
                  "on (listed below each mix). In the paper's mix UTKFace gives race only: its age and gender "
                  "columns measure what transfers from wiki faces.", "",
                  markdown_table(table.set_index("run")[columns]), ""]
    gaps = [c for c in results if "_gap_" in c]
    if gaps:
        lines += ["## Fairness: worst-group gaps", "", "Best minus worst group (groups of at least 5 validation "
                  "images) for each age metric; race only on UTKFace.", "",
                  markdown_table(runs.set_index("run")[gaps].dropna(how="all")), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{Path(f).stem}]({FIGURES}/{Path(f).name})" for f in figures] + [""]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_bench(path) -> list[dict] | None:
    """The ``bench train --save`` figures at ``path`` (a list, one entry per backbone), or None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        entries = json.loads(path.read_text())
    except ValueError as err:
        warnings.warn(f"{path}: not readable as JSON ({err}); the report leaves the backbone speeds out")
        return None
    return entries if isinstance(entries, list) else [entries]


def backbone_table(results: pd.DataFrame, bench: list[dict] | None) -> pd.DataFrame:
    """Per true backbone: parameters, measured training images/s and time against B0, what one run of the
    grid would take on the machine that measured it (B0's median single-source run, scaled), and where
    the backbone was trained on the UTKFace three-task cell (kit recipe): the minutes that run really
    took (median over its train seeds) and its age accuracy (mean over train seeds)."""
    from .claims import cell_estimates
    from .models import PUBLISHED_PARAMS

    # the real input pipeline's rate: what a run of the grid sees (synthetic batches only where it is missing)
    speed = {e["backbone"]: float(e.get("train_real_images_per_s") or e["train_synthetic_images_per_s"])
             for e in bench or [] if e.get("train_real_images_per_s") or e.get("train_synthetic_images_per_s")}
    singles = results[(results.get("kind") == "single") & (results.get("backbone") == "b0")] if len(results) else results
    b0_minutes = (float(singles["train_seconds"].median()) / 60
                  if len(singles) and "train_seconds" in singles else np.nan)
    cells = cell_estimates(results) if len(results) else pd.DataFrame()
    if len(results) and "train_seconds" in results:
        cell = results[(results["kind"] == "single") & (results["dataset"] == "utkface")
                       & (results["tasks"] == "age+gender+race") & (results["recipe"] == "kit")]
        measured = (cell.groupby("backbone")["train_seconds"].median() / 60).to_dict()
    else:
        measured = {}
    rows = []
    for name, params in PUBLISHED_PARAMS.items():
        row = {"backbone": name.upper(), "parameters (M)": params / 1e6,
               "training images/s (real input)": speed.get(name, np.nan)}
        row["time vs B0"] = speed["b0"] / speed[name] if "b0" in speed and name in speed else np.nan
        row["minutes per run here"] = b0_minutes * row["time vs B0"]
        row["minutes measured (three-task cell)"] = float(measured.get(name, np.nan))
        for scheme in ("3", "5", "10"):
            hit = (cells[(cells["kind"] == "single") & (cells["on"] == "utkface") & (cells["dataset"] == "utkface")
                         & (cells["tasks"] == "age+gender+race")
                         & (cells["recipe"] == "kit") & (cells["backbone"] == name) & (cells["scheme"] == scheme)]
                   if len(cells) else cells)
            row[f"age_{scheme}"] = float(hit["accuracy"].iloc[0]) if len(hit) else np.nan
            if scheme == "3":
                row["seeds"] = int(hit["n"].iloc[0]) if len(hit) else 0
        rows.append(row)
    return pd.DataFrame(rows).set_index("backbone")


def backbone_section(results: pd.DataFrame, bench: list[dict] | None) -> list[str]:
    """The report's lines on "B4-B7 perform alike": the import flaw, the true backbones' measured speed
    and what has been trained of them, and the command that settles it on a GPU."""
    if not bench and not (len(results) and (results["backbone"] != "b0").any()):
        return []
    machine = (bench or [{}])[0].get("machine", {})
    measured = (f"measured on {machine.get('cpus', '?')} CPU(s), {machine.get('accelerator', '?')}, "
                f"{machine.get('measured', '?')[:10]}, at {bench[0]['image_size']} px and batch "
                f"{bench[0]['batch_size']} (`bench train --backbones ... --save {BENCH_TRAIN}`)" if bench else
                "not measured yet")
    return ["## The backbone question", "",
            "The paper finds B4-B7 alike, but its notebooks built EfficientNetB4 under the names B5, B6 and B7: that "
            "evidence compares B4 with itself. Below, the true backbones: their training speed " + measured + "; "
            "what one run of this grid would take here at that speed (B0's median single-source run, scaled); and, "
            "for each backbone trained so far on the UTKFace age + gender + race cell (kit recipe), the minutes its "
            "run really took (median over train seeds: validation and the rest of an epoch grow with the backbone "
            "too, so this exceeds the scaled estimate) and its age accuracy (mean over train seeds).", "", markdown_table(backbone_table(results, bench)), "",
            "B4-B7 cost several times B0 per run on two CPU cores; on a GPU this settles the claim:", "",
            f"    {GPU_BACKBONE_COMMAND}", ""]


def claims_section(results: pd.DataFrame) -> list[str]:
    """The report's lines on the paper's claims: one verdict per claim, then every comparison behind it."""
    from .claims import claims_table, comparisons

    table = comparisons(results)
    if not len(table):
        return []
    claims = claims_table(results)
    detail = table[["claim", "scheme", "a", "a_accuracy", "a_low", "a_high", "a_n", "relation", "b", "b_accuracy",
                    "b_low", "b_high", "b_n", "verdict"]]
    return ["## The paper's claims", "",
            "Kit recipe, B0, each cell's accuracy the mean over its train seeds with a 95 % interval that "
            "combines the seeds' spread (Student's t: with two seeds its factor is 12.7, so two seeds widen a "
            "cell's interval more than one does) and the bootstrap of the validation faces, as the root of the "
            "sum of their squared half-widths (`helpers.claims`). \"A above B\" holds only when the intervals "
            "are apart; \"about equal\" holds when they overlap, i.e. when no difference was measured.", "", markdown_table(claims.set_index("claim")[["paper's evidence", "verdict", "why"]]),
            "", "Every comparison behind the verdicts:", "", markdown_table(detail.set_index("claim")), ""]


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pandas table as a GitHub markdown table (numbers rounded, missing values blank)."""
    frame = frame.reset_index()

    def cell(v):
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{v:.{digits}f}"
        return "" if v is None or v is pd.NA else str(v)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def load_results(out=None, *, profile: str | None = None) -> pd.DataFrame | None:
    """The ``results.csv`` of a replication folder (default ``<runs>/replication-<profile>``), or None.

    Each run's path is the folder's own ``runs/<name>`` when that exists (a folder copied from
    another machine or checkout), else the path recorded."""
    from .paths import runs_dir

    out = Path(out) if out is not None else runs_dir() / f"replication-{profile or 'smoke'}"
    if not (out / RESULTS).is_file():
        return None
    results = pd.read_csv(out / RESULTS)
    # a folder copied from another machine: find each run under this folder instead
    here = [str(out / "runs" / name) for name in results["run"]]
    results["path"] = [h if Path(h).is_dir() else p for p, h in zip(results["path"], here)]
    return results


#: The committed CPU replication, under :func:`helpers.paths.results_dir`.
CPU_RESULTS = "paper-cpu"


def best_results() -> tuple[pd.DataFrame | None, str, Path | None]:
    """The most telling replication results on this machine, with where they come from and their folder:
    a full run here (``<runs>/replication-full``), else the committed CPU replication
    (``results/paper-cpu``), else a smoke run here (a pipeline check). (None, reason, None) when none."""
    from .paths import results_dir, runs_dir

    candidates = ((runs_dir() / "replication-full", "a full replication run on this machine"),
                  (results_dir() / CPU_RESULTS, f"the committed CPU replication (results/{CPU_RESULTS})"),
                  (runs_dir() / "replication-smoke",
                   "a smoke replication on this machine (a pipeline check: its numbers mean nothing)"))
    for folder, origin in candidates:
        results = load_results(folder)
        if results is not None and len(results):
            return results, origin, folder
    return None, "no replication results here", None


# --- private details -------------------------------------------------------------------------


def _finished(folder: Path, config: dict) -> bool:
    """Whether ``folder`` holds a finished run of ``config``; raises if it holds another run."""
    from .training import DEFINING_KEYS, config_changes

    state_path, config_path = folder / "state.json", folder / "config.json"
    if not config_path.is_file():
        return False
    before = json.loads(config_path.read_text())
    now = json.loads(json.dumps(config))
    changed = config_changes(before, now, (*DEFINING_KEYS, "mix"))
    if changed:
        raise ValueError(f"{folder} holds a run of another configuration (differs in {', '.join(changed)}); "
                         "choose another --out folder")
    return state_path.is_file() and bool(json.loads(state_path.read_text()).get("finished"))


def _train_all(jobs: list, workers: int, verbose: int) -> tuple[list[str], dict[str, str]]:
    """Train every job; a run that fails is reported and recorded, and the others go on.
    Returns the names trained and {name: what went wrong} for the failures."""
    done, failed = [], {}

    def report(name, outcome):
        if isinstance(outcome, BaseException):
            failed[name] = f"{type(outcome).__name__}: {outcome}"
            if verbose:
                print(f"[{len(done) + len(failed)}/{len(jobs)}] {name}: FAILED - {failed[name]} "
                      "(the other runs go on; the next call retries it)", flush=True)
            return
        _, seconds, headline = outcome
        done.append(name)
        if verbose:
            print(f"[{len(done) + len(failed)}/{len(jobs)}] {name}: {headline} ({seconds:.0f} s)", flush=True)

    if workers <= 1:
        for job in jobs:
            try:
                outcome = _train_job(job, epoch_lines=verbose > 0)
            except Exception as error:  # noqa: BLE001 - one bad run must not stop the grid
                outcome = error
            report(job[0], outcome)
        return done, failed
    from concurrent.futures import as_completed

    batch = workers * RUNS_PER_WORKER
    for first in range(0, len(jobs), batch):  # fresh processes for each batch: TensorFlow keeps memory of each model
        with worker_pool(workers) as pool:
            futures = {pool.submit(_train_job, job, verbose > 0): job[0] for job in jobs[first:first + batch]}
            for future in as_completed(futures):
                error = future.exception()
                report(futures[future], error if error is not None else future.result())
    return done, failed


def worker_pool(workers: int):
    """Fresh processes that train runs side by side; each imports TensorFlow as the command line does,
    without its start-up lines (``AGEKIT_TF_LOGS=1`` shows them)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_quiet_worker)


def _quiet_worker() -> None:
    from .tf_logs import import_tensorflow_if_installed

    import_tensorflow_if_installed()


_DATA: dict[str, object] = {}


def _train_job(job, epoch_lines: bool = False) -> tuple[str, float, str]:
    """Train one grid run (in this process or a worker), reusing decoded data between runs;
    ``epoch_lines`` prints a line per finished epoch (the run itself trains without progress bars)."""
    import keras

    from .experiments import prepare, train_run
    from .training import EpochLine

    name, folder, config = job
    start = time.time()
    key = json.dumps({k: config.get(k) for k in ("dataset", "source", "mix", "n_images", "val_fraction", "seed",
                                                  "image_size")}, sort_keys=True)
    if key not in _DATA:  # at most four data sets: wiki, UTKFace and the two mixes
        _DATA[key] = prepare(config, progress=False)
    run = train_run(config, folder, data=_DATA[key], verbose=0,
                    callbacks=[EpochLine(name, config["epochs"])] if epoch_lines else ())
    keras.backend.clear_session()
    m = run.metrics or {}
    keys = [k for k in ("age_3", "age_5", "age_10", "gender", "race") if m.get(k) is not None]
    headline = "  ".join(f"{k} {m[k]:.3f}" for k in keys)
    return name, time.time() - start, headline

