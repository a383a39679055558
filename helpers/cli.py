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
    if args.func not in (cmd_data, cmd_fetch):  # every other command loads TensorFlow (MTCNN, Keras)
        _load_tensorflow()
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

    p = sub.add_parser("main", help="the kit's main job: the data reports, then the paper's whole grid "
                                    "(replicate), then its headline beside the seed's")
    from .cli_experiments import add_grid_arguments

    add_grid_arguments(p)
    p.set_defaults(func=cmd_main)

    bench = sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(title="benchmarks")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, bench)
    return parser


#: Modules that add their own commands: each has ``register(subparsers, bench_subparsers)``
#: and must import nothing heavy at module level.
COMMAND_MODULES: list[str] = ["helpers.cli_faces", "helpers.cli_models", "helpers.cli_predict",
                               "helpers.cli_experiments"]


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
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    from .datasets import default_source, index_dataset
    from .replication import replicate
    from .report import data_report, format_report
    from .sample import SAMPLE_WARNING

    print_committed_results()
    prof = main_profile(args.profile)
    print(f"\nnow running what this machine affords: the {prof.name} profile")
    sources = {}
    for dataset in ("utkface", "wiki"):
        sources[dataset], is_sample = default_source(dataset)
        if is_sample:
            print(f"!!! {SAMPLE_WARNING}")
        print(format_report(data_report(index_dataset(dataset, sources[dataset]))), end="\n\n", flush=True)

    from .cli_experiments import split_names

    result = replicate(prof.name, backbones=split_names(args.backbones),
                       recipes=split_names(args.recipes), out=args.out,
                       sources={k: str(v) for k, v in sources.items()})
    if prof.name == "smoke":
        print("\nPIPELINE CHECK: the smoke grid below trains a few hundred faces for one epoch per run. Its numbers "
              "show that every step runs, not how well anything learns; the results are the committed ones above.")
    print_headline(result.results, f"this call's {prof.name} grid")
    print(f"\nresults: {result.out / 'results.csv'}\nreport:  {result.report}")
    if result.failed:
        print(f"{len(result.failed)} run(s) failed: {', '.join(result.failed)}; see {result.report}", file=sys.stderr)
    return 1 if result.failed else 0


def main_profile(name: str | None):
    """The main job's profile: the one asked for (option or ``$AGEKIT_PROFILE``), else full where an
    accelerator is present and smoke on a CPU."""
    import os

    from .profiles import profile

    if name is None and not os.environ.get("AGEKIT_PROFILE"):
        from .devices import accelerator

        name = "smoke" if accelerator() == "cpu" else "full"
    return profile(name)


def print_committed_results() -> None:
    """The committed CPU replication's headline beside the seed's, and its claims table."""
    from .claims import claims_table
    from .paths import results_dir
    from .replication import CPU_RESULTS, load_results

    folder = results_dir() / CPU_RESULTS
    results = load_results(folder)
    if results is None or not len(results):
        print(f"no committed replication results in {folder}")
        return
    print(f"The committed CPU replication ({folder}, {len(results)} finished runs, B0 at 56 px from scratch "
          "on two CPU cores; report.md there):")
    print_headline(results, "the committed CPU replication")
    import pandas as pd

    claims = claims_table(results)
    with pd.option_context("display.width", 200, "display.max_columns", 10, "display.max_colwidth", 70):
        print("\nThe paper's claims, answered by those runs (every comparison and interval: report.md):")
        print(claims[["claim", "verdict", "why"]].to_string(index=False))


def print_headline(results, what: str) -> None:
    """The seed paper's headline beside a results table's best runs."""
    from .replication import headline_table

    print(f"\nThe seed paper's headline (pretrained) beside {what} (from scratch):")
    print("UTKFace, age + gender + race, validation accuracy of the age groups")
    if len(results):
        import pandas as pd

        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 4):
            print(headline_table(results).to_string())


def _load_tensorflow() -> None:
    """TensorFlow without its start-up lines (``AGEKIT_TF_LOGS=1`` shows them); where it is not installed
    (JAX alone on a GPU machine), the command goes on without it."""
    from .tf_logs import import_tensorflow_if_installed

    import_tensorflow_if_installed()
