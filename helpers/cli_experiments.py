"""Commands ``replicate`` (the paper's whole grid), ``train-mix`` (one multi-source run),
``ablate`` (the accuracy ablation) and ``scorecard`` (a run's full evaluation). Keras loads only
inside the commands."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .ablation import ARMS, REPORT
from .profiles import PROFILES

BACKBONE_CHOICES = [f"b{i}" for i in range(8)]
ABLATION_ARMS = tuple(ARMS)


def register(sub, bench) -> None:
    """Add the experiment commands to the kit's parser (``sub``); they have no benchmarks."""
    p = sub.add_parser("replicate", help="run the paper's grid, skipping finished runs; write results.csv, "
                                         "report.md and figures")
    add_grid_arguments(p)
    p.add_argument("--weights", choices=["none", "imagenet"], default="none",
                   help="none trains from scratch (default); imagenet needs network access once")
    p.add_argument("--epochs", type=int, help="default: 1 in smoke, the profile's in cpu (12), each recipe's own in full")
    p.add_argument("--n-images", type=int, help="images drawn per dataset (default: the profile's)")
    p.add_argument("--image-size", type=int, help="input size in px (default: the profile's, 56)")
    p.add_argument("--batch-size", type=int, help="default: the profile's")
    p.add_argument("--workers", type=int,
                   help="runs trained at a time, each in its own process (default: 2 in smoke, where the CPU "
                        "spends most of each tiny run building its graph on one core; 1 in full)")
    p.add_argument("--utkface", help="UTKFace folder or archive (default: the kit's data)")
    p.add_argument("--wiki", help="wiki_crop folder or archive (default: the kit's data)")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: write results.csv, report.md and figures from the runs finished so far")
    p.set_defaults(func=cmd_replicate)

    p = sub.add_parser("ablate", help="the accuracy ablation: each regulariser (or more faces) against the kit "
                                      "recipe, same faces and schedule; skips finished arms")
    p.add_argument("--arms", help="comma-separated, from: " + ", ".join(ABLATION_ARMS) + " (default: all; "
                                  "the baseline is included unless --without-baseline); join arms with + to combine their changes, "
                                  "e.g. mixup+ema")
    p.add_argument("--out", required=True, help="folder for the arms' runs, ablation.csv and report.md")
    p.add_argument("--profile", choices=list(PROFILES), default="cpu", help="default: cpu (the seed split)")
    p.add_argument("--image-size", type=int, help="input size in px (default: 64)")
    p.add_argument("--epochs", type=int, help="default: 12")
    p.add_argument("--batch-size", type=int, help="default: 128")
    p.add_argument("--n-images", type=int, help="images drawn per dataset (default: the profile's)")
    p.add_argument("--utkface", help="UTKFace folder or archive (default: the kit's data)")
    p.add_argument("--wiki", help="wiki_crop folder or archive, for the more-faces arm (default: the kit's data)")
    p.add_argument("--report-only", action="store_true", help="train nothing: write the table of the finished arms")
    p.add_argument("--without-baseline", action="store_true",
                   help="train only the arms named (to confirm a winner at a scale whose baseline is known, e.g. "
                        "models/kit-b0-96 at 96 px); the folder's other finished arms at this size stay in the "
                        "table, whatever their epochs, and a baseline among them gives the paired changes")
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("train-mix", help="train one model on several sources with different labels")
    p.add_argument("--mix", choices=["paper", "full"], default="paper",
                   help="paper: wiki gives age+gender, UTKFace race only; full: UTKFace all, wiki age+gender")
    p.add_argument("--age-groups", default="10", choices=["3", "5", "10", "year"])
    p.add_argument("--recipe", choices=["seed", "kit"], default="kit")
    p.add_argument("--profile", choices=list(PROFILES), help="default: $AGEKIT_PROFILE or smoke")
    p.add_argument("--backbone", choices=BACKBONE_CHOICES, help="default: the profile's")
    p.add_argument("--weights", choices=["none", "imagenet"], default="none")
    p.add_argument("--epochs", type=int, help="default: the profile's (smoke) or the recipe's (full)")
    p.add_argument("--n-per-source", type=int, help="images drawn from each source (default: the profile's)")
    p.add_argument("--image-size", type=int, help="input size in px (default: the profile's, 56)")
    p.add_argument("--batch-size", type=int, help="default: the profile's")
    p.add_argument("--seed", type=int, help="split and initialisation seed (default: the kit's)")
    p.add_argument("--train-seed", type=int,
                   help="another seed for the initial weights, batch order and augmentation only, on the same split")
    p.add_argument("--learning-rate", type=float, help="replace the recipe's peak learning rate")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one setting of the recipe, as in train (e.g. --set ema=0.995; repeatable)")
    p.add_argument("--utkface", help="UTKFace folder or archive (default: the kit's data)")
    p.add_argument("--wiki", help="wiki_crop folder or archive (default: the kit's data)")
    p.add_argument("--out", help="run folder (default: a new folder under the runs folder)")
    p.set_defaults(func=cmd_train_mix)

    p = sub.add_parser("scorecard", help="a finished run's full evaluation: per task, per source, by race and gender")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the flat numbers as JSON")
    p.set_defaults(func=cmd_scorecard)


def add_grid_arguments(p) -> None:
    """The options that choose a grid and its folder, shared by ``replicate`` and ``main``."""
    p.add_argument("--profile", choices=list(PROFILES), default=None, help="default: $AGEKIT_PROFILE or smoke")
    p.add_argument("--backbones", help="comma-separated, e.g. b0,b4 (default: the profile's)")
    p.add_argument("--recipes", help="comma-separated (default: seed,kit; the cpu profile given neither this "
                                     "nor --backbones runs its own plan)")
    p.add_argument("--out", help="folder for runs and results (default: <runs>/replication-<profile>)")


def split_names(text: str | None) -> list[str] | None:
    """'b0, B4' -> ['b0', 'b4']; None or '' -> None."""
    return [t.strip().lower() for t in text.split(",") if t.strip()] if text else None


def cmd_replicate(args) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from .replication import replicate

    result = replicate(args.profile, backbones=split_names(args.backbones),
                       recipes=split_names(args.recipes), out=args.out,
                       sources=_sources(args), weights=None if args.weights == "none" else "imagenet",
                       epochs=args.epochs, n_images=args.n_images, image_size=args.image_size,
                       batch_size=args.batch_size, workers=args.workers, train=not args.report_only)
    print(result.out)
    if result.failed:
        print(f"{len(result.failed)} run(s) failed: {', '.join(result.failed)}; see {result.report}", file=sys.stderr)
    return 1 if result.failed else 0


def cmd_ablate(args) -> int:
    from .ablation import ablate, arm_changes

    arms = split_names(args.arms)
    for arm in arms or ():
        try:
            arm_changes(arm)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    try:
        table = ablate(arms, out=args.out, profile=args.profile, sources=_sources(args), image_size=args.image_size,
                       epochs=args.epochs, batch_size=args.batch_size, n_images=args.n_images,
                       train=not args.report_only, baseline=not args.without_baseline)
    except ValueError as err:  # a setting the folder or the data cannot take (checked before training)
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not table.empty:
        import pandas as pd

        with pd.option_context("display.width", 160, "display.precision", 3):
            print(table[["age_3", "age_5", "age_10", "mae", "gender", "race", "train_minutes"]].to_string())
    failed = table.attrs.get("failed") or {}
    if failed:
        print(f"{len(failed)} arm(s) failed: {', '.join(failed)}; see {Path(args.out) / REPORT}", file=sys.stderr)
    return 1 if failed else 0


def train_mix_config(args) -> dict:
    """The run configuration that ``train-mix``'s arguments ask for (ValueError on a bad setting)."""
    from .experiments import mix_config
    from .recipes import recipe_with
    from .splits import SEED

    rec = recipe_with(args.recipe, args.set)
    return mix_config(args.mix, sources=_sources(args), n_per_source=args.n_per_source, age_groups=args.age_groups,
                      recipe=rec, profile=args.profile, backbone=args.backbone,
                      weights=None if args.weights == "none" else "imagenet", epochs=args.epochs,
                      image_size=args.image_size, batch_size=args.batch_size, learning_rate=args.learning_rate,
                      seed=SEED if args.seed is None else args.seed, train_seed=args.train_seed)


def cmd_train_mix(args) -> int:
    from .experiments import train_run
    from .training import new_run_dir

    try:
        config = train_mix_config(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if config["is_sample"]:
        from .sample import SAMPLE_WARNING

        print(f"!!! {SAMPLE_WARNING}", file=sys.stderr)
    out = args.out or new_run_dir(f"{config['dataset']}-{'+'.join(config['tasks'])}-{args.recipe}-{config['profile']}")
    run = train_run(config, out)
    print(run.path)
    return 0


def cmd_scorecard(args) -> int:
    from .experiments import read_predictions
    from .scorecard import fairness_table, scorecard, source_scores, task_scores, trained_view

    pred = read_predictions(args.run_dir)
    if args.json:
        print(json.dumps(scorecard(trained_view(pred)), indent=2))
        return 0
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 3):
        print("on the labels the run trained on:")
        print(task_scores(trained_view(pred)).to_string(), end="\n\n")
        print("on each source's validation images, every true label:")
        print(source_scores(pred).query("n > 0").to_string(), end="\n\n")
        for by in ("race", "gender"):
            if (pred[by] >= 0).any():
                print(f"every age metric by {by} (gap: best minus worst group of at least 5 images):")
                print(fairness_table(pred[pred[by] >= 0], by).to_string(), end="\n\n")
    return 0


# --- private details -------------------------------------------------------------------------


def _sources(args) -> dict:
    return {k: getattr(args, k) for k in ("utkface", "wiki") if getattr(args, k, None)}
