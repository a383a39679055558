"""The kit's command line. Each command is a small function over the library; heavy modules
(TensorFlow, Keras, MTCNN) load only inside the commands that need them."""
from __future__ import annotations

import argparse
import importlib
import json
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run one command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(title="commands")

    p = sub.add_parser("data", help="index a dataset and print its report")
    p.add_argument("--dataset", choices=["utkface", "wiki", "imdb"], required=True)
    p.add_argument("--source", help="folder, archive or .mat file (default: the kit's default data)")
    p.add_argument("--min-face-score", type=float, default=1.0, help="IMDB-WIKI: lowest face_score kept")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("fetch", help="download (or copy from the mirror) and extract a dataset")
    p.add_argument("dataset", choices=["utkface", "wiki", "imdb"])
    p.add_argument("--mirror", help="folder of archives that replaces the public URL")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("main", help="the kit's main job in one command")
    p.add_argument("--profile", choices=["smoke", "full"], default=None)
    p.set_defaults(func=cmd_main)

    bench = sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(title="benchmarks")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, bench)
    return parser


#: Modules that add their own commands: each has ``register(subparsers, bench_subparsers)``
#: and must import nothing heavy at module level.
COMMAND_MODULES: list[str] = ["helpers.cli_faces", "helpers.cli_models", "helpers.cli_predict"]


def cmd_data(args) -> int:
    from .datasets import default_source, index_dataset
    from .report import data_report, format_report

    source = args.source
    if source is None:
        source, _ = default_source(args.dataset)
    filters = {} if args.dataset == "utkface" else {"min_face_score": args.min_face_score}
    df = index_dataset(args.dataset, source, **filters)
    report = data_report(df)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_fetch(args) -> int:
    from .fetch import fetch

    print(fetch(args.dataset, mirror=args.mirror))
    return 0


def cmd_main(args) -> int:
    from .datasets import default_source, index_dataset
    from .profiles import profile
    from .report import data_report, format_report
    from .sample import SAMPLE_WARNING

    prof = profile(args.profile)
    print(f"profile: {prof.name}")
    sources = {}
    for dataset in ("utkface", "wiki"):
        sources[dataset], is_sample = default_source(dataset)
        if is_sample:
            print(f"!!! {SAMPLE_WARNING}")
        print(format_report(data_report(index_dataset(dataset, sources[dataset]))), end="\n\n")

    # the paper's headline model: age + gender + race on UTKFace, with the kit's recipe
    from .training import new_run_dir, run_config, train

    config = run_config(dataset="utkface", source=str(sources["utkface"]), tasks=("age", "gender", "race"),
                        age_groups="year", recipe="kit", profile=prof.name, weights="none")
    run = train(config, new_run_dir(f"main-utkface-age+gender+race-kit-{prof.name}"))
    metrics = run.metrics or {}
    print(f"\nrun folder: {run.path}")
    print("validation accuracy      3 groups   5 groups  10 groups")
    print("  seed paper (pretrained)  0.7165     0.6790     0.4787")
    print("  this run (from scratch)  " + "     ".join(f"{metrics.get(k, float('nan')):.4f}"
                                                     for k in ("age_3", "age_5", "age_10")))
    print(f"  age MAE {metrics.get('mae', float('nan')):.2f} years, gender {metrics.get('gender', float('nan')):.3f}, "
          f"race {metrics.get('race', float('nan')):.3f}")
    return 0
