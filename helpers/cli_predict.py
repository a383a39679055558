"""Commands for trying models: ``bench predict`` (photo to labels, milliseconds per photo and peak memory).

The ``predict`` command itself lives with the other model commands (:mod:`helpers.cli_models`);
without a run folder it uses the kit's default model (:func:`helpers.predict.default_model_dir`). The
benchmark itself is :mod:`helpers.predict_bench`.
"""
from __future__ import annotations

import json


def register(sub, bench) -> None:
    """Add ``bench predict`` to the kit's ``bench`` group."""
    p = bench.add_parser("predict", help="photo -> faces -> labels: milliseconds per photo with a model, warm")
    p.add_argument("--model", help="run folder or .keras file (default: $AGEKIT_MODEL, else models/kit-b0-128-e30)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per photo, after one warm-up call")
    p.add_argument("--photo", metavar="PATH",
                   help="time this photo instead of the shipped two (e.g. a large phone or camera photo)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text (key ms_per_photo)")
    p.set_defaults(func=cmd_bench_predict)


def cmd_bench_predict(args) -> int:
    from pathlib import Path

    from .predict_bench import bench_predict

    photos = {Path(args.photo).name: args.photo} if args.photo else None
    report = bench_predict(args.model, repeats=args.repeats, photos=photos)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['model']}: {'+'.join(report['tasks'])}, {report['backbone']} at {report['image_size']} px; "
          f"{report['threads']} threads on {report['cpus']} CPUs, median of {report['repeats']} warm calls")
    for name, r in report["photos"].items():
        steps = ", ".join(f"{k[3:]} {v:.1f}" for k, v in r.items()
                          if k.startswith("ms_") and k not in ("ms_min", "ms_first"))
        print(f"  {name:<10} {r['size'][0]}x{r['size'][1]}, {r['faces']} face(s): {r['ms']:7.1f} ms  ({steps}); "
              f"first call {r['ms_first']:.1f} ms; peak memory {_mb(r['peak_rss_mb'])}")
    verdict = "meets" if report["meets_target"] else "MISSES"
    print(f"ms per photo: {report['ms_per_photo']:.1f} ({verdict} the target of {report['target_ms']:.0f} ms); "
          f"peak memory {_mb(report['peak_rss_mb'])} (TensorFlow imported: {_mb(report['rss_mb_backend'])}, "
          f"model loaded: {_mb(report['rss_mb_model_loaded'])})")
    return 0


def _mb(value) -> str:
    return "unknown" if value is None else f"{value:.0f} MB RSS"
