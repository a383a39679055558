"""Commands for models: ``train``, ``evaluate``, ``predict``, ``ensemble``, ``ship`` and ``bench train``.

Keras loads only inside the commands, so ``python -m helpers --help`` stays fast.
"""
from __future__ import annotations

import json
import sys
import textwrap

from .profiles import PROFILES

BACKBONE_CHOICES = [f"b{i}" for i in range(8)]


def register(sub, bench) -> None:
    """Add the model commands to the kit's parser (``sub``) and its ``bench`` group."""
    p = sub.add_parser("train", help="train a multi-task model into a run folder (resumes an interrupted one)")
    p.add_argument("--dataset", choices=["utkface", "wiki", "imdb"], required=True)
    p.add_argument("--source", help="folder or archive (default: the kit's default data)")
    p.add_argument("--tasks", default="age", help="age, optionally with gender and race: age,gender,race")
    p.add_argument("--age-groups", default="10", choices=["3", "5", "10", "year"])
    p.add_argument("--backbone", choices=BACKBONE_CHOICES, help="EfficientNet B0-B7 (default: the profile's)")
    p.add_argument("--image-size", type=int, help="input size in px (default: the profile's, 56)")
    p.add_argument("--recipe", choices=["seed", "kit"], default="kit")
    p.add_argument("--profile", choices=list(PROFILES), help="default: $AGEKIT_PROFILE or smoke")
    p.add_argument("--weights", choices=["imagenet", "none"], default="imagenet",
                   help="ImageNet weights (needs network once) or none (train from scratch)")
    p.add_argument("--epochs", type=int, help="default: the profile's (smoke) or the recipe's (full)")
    p.add_argument("--batch-size", type=int, help="default: the profile's")
    p.add_argument("--n-images", type=int, help="images drawn before the split (default: the profile's)")
    p.add_argument("--seed", type=int, help="split and initialisation seed (default: the kit's)")
    p.add_argument("--train-seed", type=int,
                   help="another seed for the initial weights, batch order and augmentation only, on the same "
                        "split (default: --seed): a repeat that measures the noise of training")
    p.add_argument("--distribute", choices=["none", "auto"], default="none",
                   help="auto: every GPU or the TPU (tf.distribute on TensorFlow, keras.distribution on JAX)")
    p.add_argument("--precision", choices=["auto", "float32", "mixed_float16", "mixed_bfloat16"], default="auto",
                   help="auto: mixed precision on GPU/TPU, float32 on CPU")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from this run's or model's weights (a folder or .keras file): fine-tuning")
    p.add_argument("--learning-rate", type=float, help="replace the recipe's peak learning rate")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one setting of the recipe, e.g. --set mixup=0.2 --set ema=0.995 "
                        "--set augmentation.erasing=0.25 (repeatable; see helpers.recipes.Recipe)")
    p.add_argument("--out", help="run folder (default: a new folder under the runs folder)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a run's model on every readable image of a dataset")
    p.add_argument("run_dir")
    p.add_argument("--dataset", choices=["utkface", "wiki", "imdb"], required=True)
    p.add_argument("--source", help="folder or archive (default: the kit's default data)")
    p.add_argument("--model", choices=["best", "last"], default="best")
    p.add_argument("--limit", type=int, help="score this many images drawn at random instead of all")
    p.add_argument("--recrop", action="store_true",
                   help="find each image's face and cut it as the model's training faces were (margin, alignment)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="age group, years, gender and race for image files")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="[RUN_DIR] IMAGE ...: a run folder or .keras file "
                   "(default: $AGEKIT_MODEL, else models/kit-b0-128-e30), then image files or folders of them")
    p.add_argument("--detect", action="store_true", help="find faces with MTCNN and predict each one")
    p.add_argument("--model", choices=["best", "last"], default="best")
    p.add_argument("--json", action="store_true", help="print JSON (a list, one entry per image)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown on a terminal for many images)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("ship", help="copy a run's best model into a model folder with a model card "
                       "(validation metrics overall and by race and gender, commands, licence)")
    p.add_argument("run_dir")
    p.add_argument("dest", help="the model folder, e.g. models/NAME")
    p.add_argument("--test-flip", action="store_true",
                   help="predict each face as the mean of it and its mirror image (kept in the model)")
    p.add_argument("--note", default="", help="a sentence for the top of the model card")
    p.add_argument("--replace", action="store_true", help="replace a model folder that already exists")
    p.set_defaults(func=cmd_ship)

    p = sub.add_parser("ensemble", help="average the best models of several runs (or model folders) into one "
                                        "run folder, and measure it on the validation faces they share")
    p.add_argument("members", nargs="+", help="two or more run or model folders trained on the same split")
    p.add_argument("--out", required=True, help="the new run folder, e.g. runs/NAME (never overwritten)")
    p.add_argument("--test-flip", action="store_true",
                   help="also average each face with its mirror image (default: only if every member does)")
    p.set_defaults(func=cmd_ensemble)

    p = bench.add_parser("train", help="training images/s: real input pipeline against synthetic batches")
    p.add_argument("--backbone", choices=BACKBONE_CHOICES, default="b0")
    p.add_argument("--image-size", type=int, default=56)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=10, help="steps per measurement (the first is not timed)")
    p.add_argument("--recipe", choices=["seed", "kit"], default="kit")
    p.add_argument("--dataset", choices=["utkface", "wiki"], default="utkface")
    p.add_argument("--source", help="folder or archive (default: the kit's default data)")
    p.add_argument("--backbones", metavar="LIST",
                   help="several backbones in turn, e.g. b0,b1,b2,b3,b4,b5,b6,b7 (replaces --backbone): one line each")
    p.add_argument("--save", metavar="FILE.json",
                   help="also write the figures (a list, one entry per backbone, with this machine) to this file; "
                        "a replication folder's bench-train.json goes into its report")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_bench_train)


def train_config(args) -> dict:
    """The run configuration that ``train``'s arguments ask for (ValueError on a bad setting)."""
    from .recipes import recipe_with
    from .splits import SEED
    from .training import run_config

    rec = recipe_with(args.recipe, args.set)
    return run_config(dataset=args.dataset, source=args.source, tasks=args.tasks, age_groups=args.age_groups,
                      recipe=rec, profile=args.profile, backbone=args.backbone, image_size=args.image_size,
                      weights=None if args.weights == "none" else "imagenet", epochs=args.epochs,
                      batch_size=args.batch_size, n_images=args.n_images,
                      seed=SEED if args.seed is None else args.seed, distribute=args.distribute,
                      precision=args.precision, init_from=args.init_from, learning_rate=args.learning_rate,
                      train_seed=args.train_seed)


def cmd_train(args) -> int:
    from .training import new_run_dir, train

    try:
        config = train_config(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if config["is_sample"]:
        from .sample import SAMPLE_WARNING

        print(f"!!! {SAMPLE_WARNING}", file=sys.stderr)
    out = args.out or new_run_dir(f"{args.dataset}-{'+'.join(config['tasks'])}-{args.recipe}-{config['profile']}")
    run = train(config, out)
    print(run.path)
    return 0


def cmd_evaluate(args) -> int:
    from .datasets import default_source
    from .evaluation import evaluate_run, format_metrics, to_json

    source = args.source
    if source is None:
        source, is_sample = default_source(args.dataset)
        if is_sample:
            from .sample import SAMPLE_WARNING

            print(f"!!! {SAMPLE_WARNING}", file=sys.stderr)
    metrics = evaluate_run(args.run_dir, args.dataset, source, which=args.model, limit=args.limit,
                           progress=not args.json, recrop=args.recrop)
    print(to_json(metrics) if args.json else format_metrics(metrics))
    return 0


def cmd_ship(args) -> int:
    from .shipping import ship_model

    try:
        dest = ship_model(args.run_dir, args.dest, test_flip=args.test_flip, note=args.note, replace=args.replace)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    metrics = json.loads((dest / "metrics.json").read_text())
    figures = "  ".join(f"{k} {metrics[k]:.3f}" for k in ("age_3", "age_5", "age_10", "mae", "gender", "race")
                        if metrics.get(k) is not None)
    print(f"{dest}: validation {figures}")
    return 0


def cmd_ensemble(args) -> int:
    from .ensemble import ensemble_run

    try:
        run = ensemble_run(args.members, args.out, test_flip=True if args.test_flip else None)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    figures = "  ".join(f"{k} {run.metrics[k]:.3f}" for k in ("age_3", "age_5", "age_10", "mae", "gender", "race")
                        if run.metrics.get(k) is not None)
    flips = [m.get("test_flip") for m in run.config["members"]]
    print(f"test-time flip {'on' if run.config['model'].get('test_flip') else 'off'} "
          f"(members: {', '.join('on' if f else 'off' for f in flips)}"
          f"{'; --test-flip turns it on' if not run.config['model'].get('test_flip') else ''})")
    print(f"{run.path}: validation {figures}")
    return 0


def cmd_predict(args) -> int:
    """Print each image's answer as soon as it is done (text, or a JSON list); exit status 1 only
    when every image failed."""
    from tqdm.auto import tqdm

    from .predict import iter_predictions, load_predictor, photo_files, split_model_argument

    model, inputs = split_model_argument(args.inputs)
    files = photo_files(inputs)
    model = load_predictor(model, which=args.model)  # before any output: a missing model is the only message
    progress = len(files) > 1 and not args.no_progress and sys.stderr.isatty()
    done = failed = 0
    if args.json:
        print("[")
    for entry in iter_predictions(files, model, detect=args.detect, which=args.model, progress=progress):
        if args.json:
            text = ("" if not done else ",\n") + textwrap.indent(json.dumps(entry, indent=2), "  ")
            tqdm.write(text, end="")
        elif "error" in entry:
            tqdm.write(f"{entry['image']}: error: {entry['error']}")
        elif "faces" in entry:
            tqdm.write(f"{entry['image']}: {len(entry['faces'])} face(s)")
            for i, face in enumerate(entry["faces"]):
                tqdm.write(f"  face {i + 1}: {_describe(face)}")
        else:
            tqdm.write(f"{entry['image']}: {_describe(entry)}")
        done += 1
        failed += "error" in entry
    if args.json:
        print("\n]")
    elif done > 1:
        print(f"{done} image(s), {failed} unreadable")
    return 1 if done and failed == done else 0


def cmd_bench_train(args) -> int:
    from pathlib import Path

    from .training import measure_throughput

    backbones = _backbone_list(args.backbones) if args.backbones else [args.backbone]
    results = []
    for backbone in backbones:
        result = measure_throughput(backbone=backbone, image_size=args.image_size, batch_size=args.batch,
                                    steps=args.steps, recipe=args.recipe, dataset=args.dataset, source=args.source)
        results.append(result)
        if not args.json:
            _print_throughput(result, several=len(backbones) > 1)
    if args.save:
        import os
        import platform
        from datetime import datetime

        from .devices import device_summary

        machine = {"measured": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                   "cpu": platform.processor() or platform.machine(), **device_summary()}
        Path(args.save).write_text(json.dumps([{**r, "machine": machine} for r in results], indent=2) + "\n")
        if not args.json:
            print(f"wrote {args.save}")
    if args.json:
        print(json.dumps(results if args.backbones else results[0], indent=2))
    return 0


def _backbone_list(text: str) -> list[str]:
    names = [b.strip().lower() for b in text.split(",") if b.strip()]
    unknown = [b for b in names if b not in BACKBONE_CHOICES]
    if unknown or not names:
        raise SystemExit(f"--backbones: unknown backbone(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(BACKBONE_CHOICES)}")
    return names


def _print_throughput(result: dict, *, several: bool) -> None:
    if several:  # one line a backbone: the figure that sets a run's length
        print(f"{result['backbone']} at {result['image_size']} px, batch {result['batch_size']}: "
              f"{result['train_synthetic_images_per_s']:8.1f} training images/s "
              f"(real input pipeline {result['train_real_images_per_s']:.1f})")
        return
    print(f"{result['backbone']} at {result['image_size']} px, batch {result['batch_size']}, recipe "
          f"{result['recipe']}, backend {result['backend']} on {result['accelerator']} ({result['precision']})")
    for key, label in (("decode_images_per_s", "decode files (once, then cached)"),
                       ("pipeline_images_per_s", "input pipeline alone"),
                       ("train_real_images_per_s", "training, real input pipeline"),
                       ("train_synthetic_images_per_s", "training, synthetic in-memory batches")):
        print(f"  {label:<40} {result[key]:>10.1f} images/s")
    share = f"real pipeline at {100 * result['real_vs_synthetic']:.0f}% of synthetic speed"
    print(f"  input-bound: {'yes' if result['input_bound'] else 'no'} ({share})")


# --- private details -------------------------------------------------------------------------


def _describe(entry: dict) -> str:
    parts = []
    if entry.get("age_group") is not None:
        probs = entry.get("age_probabilities") or {}
        p = probs.get(entry["age_group"])
        parts.append(f"age {entry['age_group']}" + (f" ({p:.2f})" if p is not None else ""))
    if entry.get("age_years") is not None:
        parts.append(f"{entry['age_years']:.1f} years")
    for task in ("gender", "race"):
        if task in entry:
            parts.append(f"{entry[task]} ({entry[f'{task}_probabilities'][entry[task]]:.2f})")
    if "box" in entry:
        parts.append(f"box {entry['box']}")
    return ", ".join(parts)
