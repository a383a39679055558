"""Multi-source runs, the replication grid, its skip-what-is-finished rule, results, report and figures."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import replication
from helpers.experiments import mix_config, read_predictions, train_run
from helpers.paper_figures import (accuracy_cells, seed_means, backbone_figure, datasets_figure, group_figure,
                                   multi_source_figure, tasks_figure)
from helpers.replication import (GridRun, markdown_table, recipe_schemes, replicate, replication_grid,
                                 task_comparison, write_report)
from helpers.sample import make_sample
from helpers.scorecard import fairness_table
from helpers.splits import seed_split

TINY = dict(backbone="tiny", image_size=32, weights=None, epochs=1, batch_size=16)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = make_sample(tmp_path_factory.mktemp("sample"), n_utkface=120, n_wiki=120)
    return {"utkface": root / "UTKFace", "wiki": root / "wiki_crop"}


def test_the_grid_is_the_papers_for_each_backbone_and_recipe():
    assert recipe_schemes("seed") == ("3", "5", "10")  # a softmax over groups: one model per scheme
    assert recipe_schemes("kit") == ("10",)  # a per-year output serves 3, 5 and 10 from one model
    grid = replication_grid(["b0"])
    seed = [r for r in grid if r.recipe == "seed"]
    # (wiki: 2 task sets + UTKFace: 3 + two mixes) x 3 schemes for the seed; once for the kit
    assert len(seed) == 7 * 3 and len(grid) == 7 * 3 + 7
    assert len({r.name for r in grid}) == len(grid)
    assert GridRun("wiki", ("age", "gender", "race"), "3", "seed", "b0") not in grid  # wiki has no race
    assert {r.dataset for r in grid} == {"wiki", "utkface", "mix-paper", "mix-full"}
    assert len(replication_grid(["b0", "b4"], ["seed"])) == 2 * 21


def test_the_cpu_profile_runs_its_own_plan():
    from helpers.profiles import profile

    cpu = profile("cpu")
    assert (cpu.n_images, cpu.image_size, cpu.backbone) == (20_000, 56, "b0")  # the seed's data and input size
    grid = replication.cpu_grid()
    names = [r.name for r in grid]
    assert len(names) == len(set(names)) == 7 + 3 + 2 * 6 + 3
    paper = [r.name for r in replication_grid(["b0"], ["kit"])]
    assert names[:5] == paper[:5] and names[8:10] == paper[5:]  # every cell of the paper's grid comes first ...
    assert all(grid[i].recipe == "seed" for i in range(5, 8))  # ... with the seed's headline before the two mixes
    seed = [r for r in grid if r.recipe == "seed"]
    assert {(r.dataset, r.tasks, r.age_groups) for r in seed} == {("utkface", ("age", "gender", "race"), s)
                                                                  for s in ("3", "5", "10")}
    for cell in replication.CLAIM_CELLS:  # three seeds where the claims are decided
        assert sorted(r.repeat for r in grid if (r.dataset, r.tasks) == cell and r.backbone == "b0"
                      and r.recipe == "kit") == [0, 1, 2]
    assert {r.backbone for r in grid} == {"b0", "b1", "b2", "b3"}
    repeat = next(r for r in grid if r.repeat == 2)
    assert repeat.name.endswith("-r2")
    config = replication.grid_config(repeat, "cpu", sources={"utkface": "/x/UTKFace", "wiki": "/x/wiki_crop"})
    assert config["train_seed"] == 2021 + 2000 and config["seed"] == 2021 and config["epochs"] == cpu.epochs


def test_the_committed_cpu_results_are_whole_and_skipped_from_any_checkout(tmp_path, capsys):
    """results/paper-cpu: every finished run keeps its record and predictions (no weights), and a
    checkout anywhere else, whose data the kit fetched to its own data folder, finds them finished."""
    from helpers.paths import data_dir, results_dir

    folder = results_dir() / replication.CPU_RESULTS
    finished = [run for run in replication.cpu_grid()
                if json.loads(((folder / "runs" / run.name / "state.json").read_text()
                               if (folder / "runs" / run.name / "state.json").is_file() else "{}")).get("finished")]
    assert finished, "the committed CPU replication holds no finished run"
    # fetch() extracts each dataset into <data>/<dataset>: the same names as on the machine that trained them
    sources = {dataset: str(data_dir() / dataset) for dataset in replication.SOURCES}
    for run in finished:
        run_dir = folder / "runs" / run.name
        assert replication._finished(run_dir, replication.grid_config(run, "cpu", sources=sources)), run.name
        assert {p.name for p in run_dir.iterdir() if not p.name.endswith(".keras") and p.name != "split.csv"} >= {
            "config.json", "history.csv", "state.json", "metrics.json", "predictions.csv"}
    results = replication.load_results(folder)
    assert set(results["run"]) == {run.name for run in finished}
    assert all(str(folder) in path for path in results["path"])  # read from this checkout's copy
    assert "## The paper's claims" in (folder / "report.md").read_text()


def test_a_mix_trains_with_masked_labels_and_scores_each_source(sample, tmp_path):
    config = mix_config("paper", sources=sample, n_per_source=60, **TINY)
    assert config["dataset"] == "mix-paper" and config["tasks"] == ["age", "gender", "race"]
    assert config["mix"] == {"wiki": ["age", "gender"], "utkface": ["race"]}
    run = train_run(config, tmp_path / "mix", verbose=0)
    pred = read_predictions(run.path, create=False)
    utk, wiki = pred[pred["source"] == "utkface"], pred[pred["source"] == "wiki"]
    # UTKFace taught race only, but its true ages and genders are kept for evaluation
    assert not utk["trained_age"].any() and not utk["trained_gender"].any() and utk["trained_race"].all()
    assert utk["age"].notna().all() and (utk["gender"] >= 0).all()
    assert wiki["trained_age"].all() and not wiki["trained_race"].any() and (wiki["race"] == -1).all()
    assert {"pred_years", "pred_age_3", "pred_age_5", "pred_age_10", "pred_gender", "pred_race"} <= set(pred)
    # each source validates on exactly the images a run on that source alone validates on
    from helpers.datasets import index_dataset

    for source in ("utkface", "wiki"):
        alone = seed_split(index_dataset(source, sample[source]), n=60)
        assert sorted(pred.loc[pred["source"] == source, "path"]) == sorted(alone.loc[alone["split"] == "val", "path"])
    # the run's own metrics score only the labels it trained on: wiki ages, UTKFace races
    assert run.metrics["n_labelled"]["age_10"] == len(wiki) and run.metrics["n_labelled"]["race"] == len(utk)


def test_a_mix_must_contribute_every_task(sample):
    with pytest.raises(ValueError, match="contributes"):
        mix_config({"wiki": ("age",)}, tasks=["age", "race"], sources=sample, **TINY)
    with pytest.raises(ValueError, match="unknown mix"):
        mix_config("bogus", sources=sample, **TINY)


def test_replicate_writes_everything_then_skips_what_is_finished(sample, tmp_path, monkeypatch, capsys):
    # a two-run grid: UTKFace age alone and the paper's mix
    monkeypatch.setattr(replication, "SINGLE_SOURCE", {"utkface": (("age",),)})
    monkeypatch.setattr(replication, "MULTI_SOURCE", {"paper": ("age", "gender", "race")})
    args = dict(backbones=["tiny"], recipes=["kit"], sources=sample, image_size=32, n_images=60, batch_size=16,
                out=tmp_path / "rep")
    first = replicate("smoke", workers=2, **args)  # two worker processes, as on a 2-core CPU
    assert sorted(first.trained) == ["mix-paper-age+gender+race-g10-kit-tiny", "utkface-age-g10-kit-tiny"]
    assert first.skipped == []
    results = pd.read_csv(first.out / "results.csv")
    assert len(results) == 2 and set(results["kind"]) == {"single", "multi"}
    assert {"age_3", "age_3_low", "age_3_high", "age_3_balanced", "age_3_f1", "mae", "cs5",
            "mae_gap_gender", "utkface_age_3", "wiki_age_3", "utkface_race"} <= set(results)
    assert (results["epochs"] == 1).all()  # the smoke replication trains one epoch
    report = first.report.read_text()
    assert "## The paper's headline beside ours" in report and "0.717" in report and "Multi-source" in report
    assert first.figures and all(f.stat().st_size > 0 for f in first.figures)
    stamps = {p: p.stat().st_mtime_ns for p in (first.out / "runs").rglob("*.keras")}

    second = replicate("smoke", workers=2, **args)
    assert second.trained == [] and len(second.skipped) == 2
    assert {p: p.stat().st_mtime_ns for p in (first.out / "runs").rglob("*.keras")} == stamps
    assert "0 to train" in capsys.readouterr().out
    record = json.loads((first.out / "replication.json").read_text())
    assert record["skipped"] == second.skipped and record["trained"] == []
    assert [c["trained"] for c in record["calls"]] == [2, 0]  # every call is kept in the record
    assert "runs in the grid: 2, finished: 2 (" in second.report.read_text()

    # the command line's scorecard reads the same run folder
    from helpers.cli import main

    assert main(["scorecard", str(first.out / "runs" / "mix-paper-age+gender+race-g10-kit-tiny"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["age_10"] == pytest.approx(results.set_index("dataset").loc["mix-paper", "age_10"])

    # report only: trains nothing, writes the same table, says what is left
    monkeypatch.setattr(replication, "MULTI_SOURCE", {"paper": ("age", "gender", "race"), "full": ("age",)})
    third = replicate("smoke", workers=1, train=False, **args)
    assert third.trained == [] and len(third.results) == 2
    record = json.loads((first.out / "replication.json").read_text())
    assert record["not_yet_trained"] == ["mix-full-age-g10-kit-tiny"] and record["calls"][-1]["report_only"]
    assert "not trained yet (1" in third.report.read_text() and not (first.out / "runs" / "mix-full-age-g10-kit-tiny"
                                                                     / "state.json").exists()

    # a folder holding a run of another configuration is refused, never overwritten
    with pytest.raises(ValueError, match="another configuration"):
        replicate("smoke", workers=1, **{**args, "n_images": 80})


def test_a_failing_run_is_reported_and_the_grid_goes_on(sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(replication, "SINGLE_SOURCE", {"utkface": (("age",),)})
    monkeypatch.setattr(replication, "MULTI_SOURCE", {"paper": ("age", "gender", "race")})
    args = dict(backbones=["tiny"], recipes=["kit"], sources=sample, image_size=32, n_images=60, batch_size=16,
                out=tmp_path / "rep", workers=1, verbose=0)
    real = replication._train_job

    def broken(job, **kwargs):
        if job[0].startswith("mix-"):
            raise OSError(f"{job[0]}: disk full")
        return real(job, **kwargs)

    monkeypatch.setattr(replication, "_train_job", broken)
    first = replicate("smoke", **args)
    assert first.trained == ["utkface-age-g10-kit-tiny"]
    assert list(first.failed) == ["mix-paper-age+gender+race-g10-kit-tiny"] and "disk full" in first.failed[
        "mix-paper-age+gender+race-g10-kit-tiny"]
    assert len(first.results) == 1  # the finished run is scored; the failed one is left out
    report = first.report.read_text()
    assert "## Runs that failed" in report and "disk full" in report
    monkeypatch.setattr(replication, "_train_job", real)
    capsys.readouterr()
    second = replicate("smoke", **{**args, "verbose": 1})  # the next call retries only what failed
    # a grid trains its runs without progress bars, so its log shows each run's epochs as they finish
    epochs = [line for line in capsys.readouterr().out.splitlines()
              if line.strip().startswith("mix-paper-age+gender+race-g10-kit-tiny: epoch ")]
    assert len(epochs) == second.results["epochs"].max() and "val_loss" in epochs[-1]
    assert second.trained == ["mix-paper-age+gender+race-g10-kit-tiny"] and second.skipped == first.trained
    assert second.failed == {} and len(second.results) == 2


def _results():
    """A results table as replicate writes it, for two backbones, both recipes and a mix."""
    rows = []
    for backbone, boost in (("b0", 0.0), ("b4", 0.05)):
        for tasks, n in (("age", 1), ("age+gender", 2), ("age+gender+race", 3)):
            for dataset in ("utkface", "wiki"):
                if dataset == "wiki" and n == 3:
                    continue
                rows.append({"run": f"{dataset}-{tasks}-kit-{backbone}", "kind": "single", "dataset": dataset,
                             "tasks": tasks, "n_tasks": n, "age_groups": "10", "recipe": "kit", "backbone": backbone,
                             "is_sample": False, **{f"{dataset}_age_{s}": v + boost for s, v in
                                                    (("3", 0.7), ("5", 0.6), ("10", 0.4))},
                             **{f"{dataset}_age_{s}_{b}": np.nan for s in ("3", "5", "10") for b in ("low", "high")}})
                rows.append({"run": f"{dataset}-{tasks}-seed-{backbone}", "kind": "single", "dataset": dataset,
                             "tasks": tasks, "n_tasks": n, "age_groups": "3", "recipe": "seed", "backbone": backbone,
                             "is_sample": False, f"{dataset}_age_3": 0.5 + boost})
    rows.append({"run": "mix-paper-kit-b0", "kind": "multi", "dataset": "mix-paper", "tasks": "age+gender+race",
                 "n_tasks": 3, "age_groups": "10", "recipe": "kit", "backbone": "b0", "is_sample": False,
                 "wiki_age_3": 0.6, "utkface_age_3": 0.45, "wiki_trains_age": True, "utkface_trains_age": False})
    table = pd.DataFrame(rows)
    for key in ("age_3", "age_5", "age_10"):
        table[key] = table[[f"utkface_{key}", f"wiki_{key}"]].max(axis=1)
    return table


def test_task_comparison_gives_a_verdict_only_beyond_the_intervals():
    def row(tasks, acc, low, high, backbone):
        return {"run": f"{tasks}-{backbone}", "kind": "single", "dataset": "utkface", "tasks": tasks,
                "recipe": "kit", "backbone": backbone, "utkface_age_3": acc, "utkface_age_3_low": low,
                "utkface_age_3_high": high}

    results = pd.DataFrame([row("age", 0.60, 0.55, 0.65, "b0"), row("age+gender+race", 0.72, 0.68, 0.76, "b0"),
                            row("age+gender", 0.58, 0.53, 0.63, "b0"),
                            row("age", 0.60, 0.55, 0.65, "b4"), row("age+gender+race", 0.50, 0.45, 0.54, "b4")])
    table = task_comparison(results)
    assert table.loc[("utkface", "kit", "b0", "3"), "age+gender+race vs age"] == "better"
    assert table.loc[("utkface", "kit", "b0", "3"), "age+gender vs age"] == "no measurable difference"
    assert table.loc[("utkface", "kit", "b4", "3"), "age+gender+race vs age"] == "worse"
    assert pd.isna(table.loc[("utkface", "kit", "b4", "3"), "age+gender vs age"])  # no b4 age+gender run
    assert table.loc[("utkface", "kit", "b0", "3"), "age+gender+race"] == 0.72
    assert task_comparison(results[results["tasks"] == "nothing"]).empty


def test_accuracy_cells_are_long_and_mark_what_a_mix_never_trained():
    cells = accuracy_cells(_results())
    mix = cells[cells["kind"] == "multi"].set_index("on")
    assert mix.loc["wiki", "accuracy"] == 0.6 and mix.loc["wiki", "trained"]
    assert mix.loc["utkface", "accuracy"] == 0.45 and not mix.loc["utkface", "trained"]
    seed = cells[cells["recipe"] == "seed"]
    assert set(seed["scheme"]) == {"3"}  # a seed run serves only its own scheme
    assert len(cells[(cells["recipe"] == "kit") & (cells["kind"] == "single")]) == 2 * 5 * 3


def test_the_paper_figures_draw_from_a_results_table():
    table = _results()
    for make in (lambda: backbone_figure(table, "utkface"), lambda: backbone_figure(table, "wiki"),
                 lambda: tasks_figure(table, "utkface"), lambda: datasets_figure(table),
                 lambda: multi_source_figure(table, "3")):
        fig = make()
        assert fig is not None and fig.axes[0].get_ylabel()
        plt.close(fig)
    fig = backbone_figure(table, "utkface")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["B0", "B4", "B6"]  # B6 appears for the seed's reported 3-group value
    plt.close(fig)
    assert multi_source_figure(table[table["kind"] == "single"], "3") is None  # nothing to compare


def test_a_cell_with_several_train_seeds_is_one_bar_at_their_mean():
    table = _results()
    again = table[table["run"].isin(["utkface-age-kit-b0", "mix-paper-kit-b0"])].copy()
    again["run"] += "-r1"
    again["utkface_age_3"] -= 0.1  # utkface age: 0.7 and 0.6; the mix on utkface: 0.45 and 0.35
    again[["utkface_age_3_low", "utkface_age_3_high"]] = [[0.5, 0.65], [np.nan, np.nan]]
    both = pd.concat([table, again], ignore_index=True)
    cells = seed_means(accuracy_cells(both))
    cell = cells[(cells["run"] == "utkface-age-kit-b0") & (cells["scheme"] == "3")].iloc[0]
    assert cell["seeds"] == 2 and cell["accuracy"] == pytest.approx(0.65) and cell["low"] == 0.5
    assert len(cells) == len(seed_means(accuracy_cells(table)))  # no cell twice
    fig = tasks_figure(both, "utkface")  # utkface age at 3 groups with the kit recipe: the mean, 65 %
    heights = [round(b.get_height(), 6) for ax in fig.axes for b in ax.patches]
    assert 65.0 in heights  # (the best seed, 70 %, was drawn before)
    plt.close(fig)
    fig = backbone_figure(both, "utkface")
    for line in fig.axes[0].lines:  # one point per backbone on every line, not one per seed
        x = list(line.get_xdata())
        assert len(x) == len(set(x))
    plt.close(fig)
    fig = multi_source_figure(both, "3")
    bars = [round(b.get_height(), 6) for ax in fig.axes for b in ax.patches if np.isfinite(b.get_height())]
    assert 40.0 in bars and 45.0 not in bars and 35.0 not in bars  # the mix on UTKFace: mean of 45 and 35
    plt.close(fig)


def test_the_backbone_section_gives_measured_speeds_trained_accuracy_and_the_gpu_command(tmp_path):
    from helpers.replication import BENCH_TRAIN, GPU_BACKBONE_COMMAND, backbone_table, read_bench, write_report

    table = _results().assign(train_seconds=1200.0)  # B0 runs of 20 minutes
    bench = [{"backbone": b, "image_size": 56, "batch_size": 128, "train_synthetic_images_per_s": rate,
              "machine": {"cpus": 2, "accelerator": "cpu", "measured": "2026-12-05T20:00:00"}}
             for b, rate in (("b0", 200.0), ("b4", 50.0))]
    (tmp_path / BENCH_TRAIN).write_text(json.dumps(bench))
    assert read_bench(tmp_path / BENCH_TRAIN) == bench and read_bench(tmp_path / "none.json") is None
    rows = backbone_table(table, bench)
    assert list(rows.index) == [f"B{i}" for i in range(8)]
    assert rows.loc["B4", "time vs B0"] == 4.0 and rows.loc["B4", "minutes per run here"] == 80.0
    assert rows.loc["B4", "age_3"] == pytest.approx(0.75) and rows.loc["B0", "age_3"] == pytest.approx(0.7)
    assert np.isnan(rows.loc["B7", "training images/s (real input)"]) and rows.loc["B7", "seeds"] == 0
    # beside the estimate, the minutes a trained backbone's three-task run really took (median over seeds)
    slow = (table["backbone"] == "b4") & (table["tasks"] == "age+gender+race") & (table["dataset"] == "utkface")
    assert slow.any()
    rows = backbone_table(table.assign(train_seconds=np.where(slow, 3000.0, 1200.0)), bench)
    assert rows.loc["B4", "minutes measured (three-task cell)"] == pytest.approx(50.0)
    assert rows.loc["B4", "minutes per run here"] == 80.0  # the estimate still scales B0's runs
    assert np.isnan(rows.loc["B7", "minutes measured (three-task cell)"])
    real = [{**e, "train_real_images_per_s": e["train_synthetic_images_per_s"] / 2} for e in bench]
    real[1]["train_real_images_per_s"] = 12.5  # B4 input-bound: the real rate is what a run sees
    assert backbone_table(table, real).loc["B4", "time vs B0"] == 8.0
    text = write_report(table, tmp_path / "report.md", bench=bench).read_text()
    assert "## The backbone question" in text and GPU_BACKBONE_COMMAND in text and "80.000" in text
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.warns(UserWarning, match="bad.json"):
        assert read_bench(tmp_path / "bad.json") is None
    only_b0 = table[table["backbone"] == "b0"]
    assert "backbone question" not in write_report(only_b0, tmp_path / "r2.md").read_text()  # nothing to say yet


def test_group_figure_and_report_without_runs(tmp_path):
    pred = pd.DataFrame({"age": [20.0, 30, 40, 50], "gender": [0, 0, 1, 1], "race": [0, 0, 1, 1],
                         "pred_years": [22.0, 30, 45, 50], "pred_age_3": [0, 1, 1, 1]})
    fig = group_figure(fairness_table(pred, "gender", min_count=1), "mae")
    assert "gap 1.5 years" in fig.axes[0].get_title()  # MAE male (2 + 0) / 2 = 1, female (5 + 0) / 2 = 2.5
    plt.close(fig)
    path = write_report(pd.DataFrame(), tmp_path / "report.md", record=None)
    assert "No finished runs" in path.read_text()


def test_markdown_table():
    text = markdown_table(pd.DataFrame({"a": [0.12345, np.nan], "b": [True, False]}, index=["x", "y"]))
    assert text.splitlines() == ["| index | a | b |", "|---|---|---|", "| x | 0.123 | yes |", "| y |  | no |"]
