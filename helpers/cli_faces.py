"""Commands ``crop`` (MTCNN face crops of images and folders) and ``bench crop`` (its speed)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers, bench_subparsers) -> None:
    """Add ``crop`` and ``bench crop`` to the kit's command line."""
    p = subparsers.add_parser(
        "crop",
        help="detect faces with MTCNN and write a crop of each",
        description="Detect every face in the images (folders are searched recursively), write one crop per "
        "face into --out and print one entry per input image. Exit status 1 when an input could not be read.",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--out", required=True, help="folder for the crops (<file stem>_face<k>.png, k=1 the largest)")
    p.add_argument("--margin", type=float, default=0.4, help="margin around the box, share of its side (default 0.4)")
    p.add_argument("--min-confidence", type=float, default=0.9, help="lowest MTCNN confidence kept (default 0.9)")
    p.add_argument("--size", type=int, default=None, help="crop side in pixels (default: the profile's input size)")
    p.add_argument("--align", action="store_true", help="rotate each crop so the eyes are level")
    p.add_argument("--min-face-size", type=int, default=20, help="smallest face searched for, in pixels (default 20)")
    p.add_argument("--json", action="store_true", help="print the JSON list instead of one line per image")
    p.set_defaults(func=cmd_crop)

    b = bench_subparsers.add_parser("crop", help="images per second of MTCNN detect + crop on the CPU")
    b.add_argument("--n", type=int, default=48, help="images per size (default 48)")
    b.add_argument("--json", action="store_true", help="print JSON instead of text")
    b.set_defaults(func=cmd_bench_crop)


def cmd_crop(args) -> int:
    from .faces import IMAGE_SUFFIXES, FaceResult, crop_faces

    slots: list[list[str] | FaceResult] = []  # per argument: its files, or why it has none
    for name in args.inputs:
        path = Path(name)
        if path.is_dir():
            slots.append(sorted(str(p) for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                                and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            slots.append([str(path)])
        else:
            slots.append(FaceResult(str(path), error=f"{path}: no such file or folder"))
    files = [f for slot in slots if isinstance(slot, list) for f in slot]
    done = iter(crop_faces(files, margin=args.margin, size=args.size, align=args.align, out_dir=args.out,
                           min_confidence=args.min_confidence, min_face_size=args.min_face_size,
                           progress=sys.stderr.isatty()))
    results = [r for slot in slots for r in ([next(done) for _ in slot] if isinstance(slot, list) else [slot])]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        for r in results:
            if r.error:
                print(f"error: {r.error}")
            else:
                crops = ", ".join(r.crop_files)
                print(f"{r.file}: {len(r.faces)} face(s)" + (f" -> {crops}" if crops else ""))
        n_faces = sum(len(r.faces) for r in results)
        n_err = sum(r.error is not None for r in results)
        print(f"{len(results)} image(s), {n_faces} face(s), {n_err} error(s); crops in {args.out}")
    return 1 if any(r.error for r in results) else 0


def cmd_bench_crop(args) -> int:
    from .faces import bench_crop

    report = bench_crop(n_images=args.n)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"MTCNN detect + crop on the {report['device']} ({report['threads']} threads), {report['n_images']} images per size")
    for size, row in report["sizes"].items():
        print(f"  {size:>6}: {row['one_at_a_time_images_per_s']:8.1f} images/s one at a time, "
              f"{row['batched_images_per_s']:8.1f} images/s batched  (face found in {row['share_with_a_face']:.0%})")
    return 0
