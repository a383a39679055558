"""Averaging trained models: one model file whose answer is the mean of its members' answers.

Two networks trained from different random starts make partly different mistakes, so the mean of
their output distributions is usually a little better than either alone. The price is paid at
prediction time (each face goes through every member), which is why the kit measures both: the
accuracy on the validation faces (``python -m helpers ensemble``) and the milliseconds per photo
(``python -m helpers bench predict --model``).

An average is saved as an ordinary run folder (``config.json``, ``best.keras``, ``metrics.json``,
``predictions.csv``, ``split.csv``), so ``evaluate``, ``predict``, ``ship`` and the scorecard use it
as they use any run. Its members must answer the same question on the same faces: the same tasks,
age head, input size and input scaling, and no member may have trained on a face the average is
scored on.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

#: What every member's model must share for their answers to be averaged.
SHARED_SPEC = ("tasks", "age_head", "image_size", "input_scale")
#: The sub-folder of an average's run folder with each member's answers on the average's faces.
MEMBER_PREDICTIONS = "members"


def average_models(models, *, test_flip: bool | None = None):
    """One :class:`helpers.models.MultiTaskModel` whose outputs are the mean of ``models``' outputs
    (each model's trained weights copied in). ``test_flip`` (default: every member had it) also
    averages each face with its mirror image."""
    from .models import MultiTaskModel

    models = list(models)
    if len(models) < 2:
        raise ValueError(f"an average needs at least two models, got {len(models)}")
    first = models[0].spec
    for i, model in enumerate(models):
        if model.spec.get("members"):
            raise ValueError(f"model {i + 1} is already an average; average its members instead")
        for key in SHARED_SPEC:
            if model.spec.get(key) != first.get(key):
                raise ValueError(f"model {i + 1} differs from model 1 in {key} ({model.spec.get(key)!r} against "
                                 f"{first.get(key)!r}): only models that answer alike can be averaged")
    members = [{k: v for k, v in model.spec.items() if k != "test_flip"} for model in models]
    flip = all(model.spec.get("test_flip", False) for model in models) if test_flip is None else bool(test_flip)
    spec = {**members[0], "members": members, "test_flip": flip}
    averaged = MultiTaskModel(spec, weights=None)
    for network, model in zip(averaged.members, models):
        network.set_weights(model.network.get_weights())
    return averaged


def ensemble_run(sources, out, *, test_flip: bool | None = None, progress: bool = True):
    """Average the best models of the run (or shipped model) folders ``sources`` into the new run
    folder ``out`` and measure it on the validation faces they share; returns the
    :class:`helpers.training.Run`. The folder is written beside ``out`` and moved into place when
    complete; an existing ``out`` is never overwritten."""
    from .datasets import face_names
    from .evaluation import evaluate_outputs, predict_outputs
    from .experiments import prepare, validation_predictions, write_predictions
    from .models import load_model
    from .training import load_run, train_seconds

    folders = [Path(s) for s in sources]
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder; choose another folder")
    configs = [_member_config(folder) for folder in folders]
    scored = split_faces(folders[0], configs[0])[1]  # the average is scored on its first member's validation faces
    for folder, config in zip(folders[1:], configs[1:]):
        seen = scored & split_faces(folder, config)[0]
        if seen:
            raise ValueError(f"{folder}: it trained on {len(seen)} of the {len(scored)} validation faces of "
                             f"{folders[0]} (e.g. {sorted(seen)[0]}); averaged models must share their "
                             "validation faces, unseen by every member")
    models = []
    for folder in folders:
        models.append(load_model(folder / "best.keras", compile=False))
    model = average_models(models, test_flip=test_flip)
    config = {k: v for k, v in configs[0].items() if k != "shipped"}
    config.update(model=model.spec, members=[
        {"from": str(folder.resolve()), "train_seconds": train_seconds(folder),
         "test_flip": bool(m.spec.get("test_flip", False)),
         "config": {k: v for k, v in c.items() if k not in ("environment", "shipped")}}
        for folder, c, m in zip(folders, configs, models)])
    config["environment"] = {**configs[0].get("environment", {}),
                             "created": datetime.now().isoformat(timespec="seconds")}
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _write_json(work / "config.json", config)
        if (folders[0] / "split.csv").is_file():
            shutil.copy2(folders[0] / "split.csv", work / "split.csv")
        model.save(work / "best.keras")
        data = prepare(config, progress=progress)
        if data.split is not None:
            drawn = face_names(data.split.loc[data.split["split"] == "val", "path"])
            _same_faces(folders[0], scored, set(drawn), "split or predictions")
        outputs = predict_outputs(model, data.val.images)  # once, for both the metrics and the predictions
        metrics = evaluate_outputs(outputs, data.val.labels, model.spec)
        metrics.update(split="val", model="best", members=[str(f.resolve()) for f in folders], data=data.report)
        _write_json(work / "metrics.json", metrics)
        _write_json(work / "state.json", {"finished": True, "members": len(folders),
                                          "updated": datetime.now().isoformat(timespec="seconds")})
        run = load_run(work)
        write_predictions(run, data, outputs=outputs)
        # each member's own answers on the same faces, so the average is set against them wherever it goes
        (work / MEMBER_PREDICTIONS).mkdir()
        for i, (folder, member) in enumerate(zip(folders, models)):
            validation_predictions(run, data, model=member).to_csv(
                work / MEMBER_PREDICTIONS / f"{i + 1}-{folder.name}.csv", index=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return load_run(out)


def split_faces(folder, config: dict) -> tuple[set[str], set[str]]:
    """The file names of a run's training and validation faces: from its ``split.csv``, or drawn
    again from its configuration (a shipped model folder keeps none; the draw needs only the index)."""
    from .datasets import face_names, index_dataset, located_source
    from .experiments import PREDICTIONS, is_mix, mixed_split
    from .splits import seed_split

    path = Path(folder) / "split.csv"
    if path.is_file():
        split = pd.read_csv(path)
    elif is_mix(config):
        split = mixed_split(config)
    else:
        source = located_source(config["dataset"], config["source"], is_sample=config.get("is_sample"))
        split = seed_split(index_dataset(config["dataset"], source), n=config["n_images"],
                           val_fraction=config["val_fraction"], seed=config["seed"])
    names = face_names(split["path"])
    train, val = set(names[split["split"] == "train"]), set(names[split["split"] == "val"])
    scored = Path(folder) / PREDICTIONS
    if not path.is_file() and scored.is_file():  # drawn again: the faces it was scored on must be among them
        _same_faces(folder, val, set(face_names(pd.read_csv(scored)["path"])), PREDICTIONS)
    return train, val


def _same_faces(folder, among: set[str], needed: set[str], record: str) -> None:
    """Refuse validation faces drawn again (e.g. from the kit's copy of a moved run's data) that differ from
    the ones the run's ``record`` names: every name of ``needed`` must be ``among`` the others."""
    odd = sorted(needed - among)
    if odd:
        raise ValueError(f"{folder}: {len(odd)} validation faces (e.g. {odd[0]}) differ between its {record} and "
                         "the faces drawn again from the data found for it, so that copy of the dataset is not the "
                         "one it trained on; point it at the same copy")


def members(run_dir) -> list[dict]:
    """The members of an average made by :func:`ensemble_run` ([] for a trained run), each with its
    ``name``, ``train_seconds`` (None where its folder did not say), ``test_flip`` and ``predictions``
    (its own answers on the average's validation faces, a predictions table)."""
    path = Path(run_dir)
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
    found = []
    for i, member in enumerate(config.get("members", [])):
        name = Path(member["from"]).name
        table = path / MEMBER_PREDICTIONS / f"{i + 1}-{name}.csv"
        if not table.is_file():
            raise FileNotFoundError(f"{table}: the answers of member {i + 1} ({name}) of the average {path} are "
                                    "missing; build the average again with python -m helpers ensemble")
        found.append({"name": name, "train_seconds": member.get("train_seconds"),
                      "test_flip": member.get("test_flip"), "predictions": pd.read_csv(table)})
    return found


def _member_config(folder: Path) -> dict:
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: not a run or model folder (no config.json)")
    if not (folder / "best.keras").is_file():
        raise FileNotFoundError(f"{folder}: no best.keras; a member must have finished training")
    return json.loads((folder / "config.json").read_text())


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))
