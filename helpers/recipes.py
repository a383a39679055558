"""Training recipes as data: the seed's, replicated as its notebooks ran it, and the kit's own.

A recipe fixes everything about *how* a model learns: head, age output, input scaling,
augmentation, losses and their weighting, optimizer, schedule and epochs. *What* it learns
(dataset, tasks, age groups) and *how big* the run is (profile: images, epochs, backbone,
image size, batch) are chosen separately, so any recipe runs on any data at any scale.

``seed``: the seed's notebooks, number for number (see ``docs/seed.md``). Note that
it divides pixels by 255 although Keras' EfficientNet rescales its 0-255 input itself, so the
backbone sees pixels in 0-1/255, squeezed into a 255 times smaller range than it was made for.

``kit``: what trains well from scratch on 16,000 faces (explained in notebook 03):
average pooling instead of max pooling, AdamW with a warm-up and cosine decay, mild
augmentation, label smoothing, and a per-year age distribution that serves the 3, 5 and 10
groups from one model and gives the age in years too.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class Recipe:
    """How a model learns; ``model_args()`` feeds :func:`helpers.models.build_model`."""

    name: str
    head: str  # "seed": BN -> max pool -> dropout; "kit": average pool -> dropout
    age_head: str  # softmax | regression | ordinal | distribution
    input_scale: str  # "seed": divide by 255 before the backbone's own rescaling; "backbone": don't
    augmentation: dict = field(default_factory=dict)
    dropout: float = 0.2
    bn_momentum: float | None = None  # None: Keras' EfficientNet default (0.99)
    label_smoothing: float = 0.0
    age_sigma: float = 2.0  # width in years of the target distribution (distribution head)
    loss_weighting: str = "equal"  # equal | fixed | uncertainty
    loss_weights: dict | None = None
    optimizer: str = "adam"  # adam | adamw
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "plateau"  # plateau | cosine
    warmup_fraction: float = 0.0  # cosine: share of all steps spent warming up from 0
    plateau_factor: float = 0.9
    plateau_patience: int = 5
    epochs: int = 40
    notes: str = ""
    # Regularisers measured by the accuracy ablation (helpers.ablation); each is off by default.
    mixup: float = 0.0  # alpha of the Beta(alpha, alpha) mixing weight; 0: no mixup
    cutmix: float = 0.0  # the same for CutMix (a box of one face pasted into another); both set: one per batch
    ema: float = 0.0  # momentum of an exponential moving average of the weights, validated and kept; 0: none
    drop_connect: float | None = None  # EfficientNet's stochastic depth rate; None: Keras' default (0.2)
    age_l1: float = 0.0  # weight of an L1 loss on the expected age in tens of years (DLDL-v2); 0: none
    progressive: tuple = ()  # smaller input sizes trained first, e.g. (48, 56): the epochs split evenly, the
    #                          run's own size last, one learning-rate curve over them all

    def model_args(self) -> dict:
        """The arguments of ``build_model`` this recipe fixes."""
        return {"head": self.head, "age_head": self.age_head, "input_scale": self.input_scale,
                "augmentation": dict(self.augmentation), "dropout": self.dropout, "bn_momentum": self.bn_momentum,
                "label_smoothing": self.label_smoothing, "age_sigma": self.age_sigma,
                "loss_weighting": self.loss_weighting, "loss_weights": self.loss_weights,
                "drop_connect": self.drop_connect, "any_size": bool(self.progressive), "age_l1": self.age_l1}

    def mixing(self) -> dict:
        """The batch mixing this recipe asks for: {'mixup': alpha, 'cutmix': alpha}, the ones set only."""
        return {k: float(v) for k, v in (("mixup", self.mixup), ("cutmix", self.cutmix)) if v}

    def as_dict(self) -> dict:
        """Every field, JSON-ready; a regulariser left at its default is left out, so that a run
        recorded before that option existed keeps the same recipe."""
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {k: v for k, v in fields.items() if not (k in OPTIONAL and v in (OPTIONAL[k], list(OPTIONAL[k] or [])))}

    def __post_init__(self):
        for name in ("mixup", "cutmix", "ema", "age_l1"):
            if getattr(self, name) < 0:
                raise ValueError(f"recipe {self.name!r}: {name} must be 0 (off) or positive, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"recipe {self.name!r}: ema is a momentum below 1 (e.g. 0.99), got {self.ema}")
        if self.drop_connect is not None and not 0 <= self.drop_connect < 1:
            raise ValueError(f"recipe {self.name!r}: drop_connect is a rate in [0, 1), got {self.drop_connect}")
        if isinstance(self.progressive, (int, float)) or not all(
                isinstance(s, int) and s >= 32 for s in self.progressive):
            raise ValueError(f"recipe {self.name!r}: progressive lists input sizes of at least 32 px, "
                             f"e.g. [48, 56]; got {self.progressive!r}")
        object.__setattr__(self, "progressive", tuple(self.progressive))

    def stages(self, image_size: int, epochs: int) -> list[tuple[int, int, int]]:
        """The input size of each part of a run of ``epochs`` at ``image_size``: (first epoch, end
        epoch, size) with epochs counted from 0, the end excluded; one stage unless ``progressive``."""
        sizes = [*self.progressive, int(image_size)]
        if any(s > image_size for s in self.progressive):
            raise ValueError(f"recipe {self.name!r}: progressive sizes {list(self.progressive)} must not exceed "
                             f"the run's image size {image_size}")
        if len(sizes) > epochs:
            raise ValueError(f"recipe {self.name!r}: {len(sizes)} sizes need at least as many epochs, got {epochs}")
        ends = [round(epochs * (i + 1) / len(sizes)) for i in range(len(sizes))]
        return [(0 if i == 0 else ends[i - 1], end, size) for i, (end, size) in enumerate(zip(ends, sizes))]


#: Recipe fields added after runs were recorded, with the default at which they are left out of records.
OPTIONAL = {"mixup": 0.0, "cutmix": 0.0, "ema": 0.0, "drop_connect": None, "progressive": (), "age_l1": 0.0}


RECIPES: dict[str, Recipe] = {
    "seed": Recipe(
        name="seed",
        head="seed",
        age_head="softmax",
        input_scale="seed",
        augmentation={},
        dropout=0.2,
        loss_weighting="equal",
        optimizer="adam",
        learning_rate=1e-3,
        schedule="plateau",
        plateau_factor=0.9,
        plateau_patience=5,
        epochs=40,
        notes="The seed notebooks: EfficientNet, BN -> GlobalMaxPool -> Dropout(0.2) -> softmax per task, "
              "categorical cross-entropy summed, Adam 1e-3, ReduceLROnPlateau on validation age accuracy "
              "(factor 0.9, patience 5), 40 epochs, batch 256, no augmentation, pixels divided by 255.",
    ),
    "kit": Recipe(
        name="kit",
        head="kit",
        age_head="distribution",
        input_scale="backbone",
        augmentation={"flip": 1.0, "rotation": 0.03, "zoom": 0.1, "translation": 0.05, "contrast": 0.1},
        dropout=0.2,
        bn_momentum=0.9,
        label_smoothing=0.1,
        age_sigma=2.0,
        loss_weighting="equal",
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=0.02,
        schedule="cosine",
        warmup_fraction=0.1,
        epochs=30,
        notes="Average pooling, AdamW with 10% warm-up then cosine decay, flips and mild geometric/contrast "
              "augmentation, label smoothing 0.1 for gender and race, a per-year age distribution "
              "(sigma 2 years) that serves 3, 5 and 10 groups and the age in years, BN momentum 0.9.",
    ),
}


def recipe(name: str, **changes) -> Recipe:
    """The recipe called ``name`` ('seed' or 'kit'), with any field replaced by ``changes``; a changed
    recipe is named after its changes (``kit+mixup=0.2``), so that no table takes it for the original."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose {' or '.join(RECIPES)}")
    if not changes:
        return RECIPES[name]
    changed = replace(RECIPES[name], **{k: v for k, v in changes.items() if k != "name"})
    words = recipe_changes(changed)
    return replace(changed, name="+".join([name, *words])) if words else changed


def base_name(rec: Recipe | dict) -> str:
    """The recipe a (possibly changed) recipe started from: 'kit' for ``kit+mixup=0.2``."""
    name = rec["name"] if isinstance(rec, dict) else rec.name
    return str(name).split("+", 1)[0]


def recipe_changes(rec: Recipe | dict, *, skip=("learning_rate",)) -> list[str]:
    """The ``--set`` words that make ``rec`` from the recipe it started from (``FIELD=VALUE``, and
    ``FIELD.KEY=VALUE`` within a dict field); ``skip`` leaves out fields with options of their own."""
    import json

    values = rec if isinstance(rec, dict) else rec.as_dict()
    base = RECIPES.get(base_name(values))
    if base is None:
        return []
    original, words = asdict(base), []
    for key, value in values.items():
        if key in ("name", "notes", *skip):
            continue
        was = original.get(key, OPTIONAL.get(key))
        if isinstance(was, tuple):
            was = list(was)
        if isinstance(value, dict) and isinstance(was, dict):
            words += [f"{key}.{k}={json.dumps(v)}" for k, v in value.items() if was.get(k) != v]
        elif value != was:
            words.append(f"{key}={json.dumps(value, separators=(',', ':'))}")
    return words


def parse_changes(items, base: Recipe | None = None) -> dict:
    """``["mixup=0.2", "ema=0.995", "augmentation.erasing=0.25"]`` (the command line's ``--set``) as
    typed recipe changes; ``FIELD.KEY=VALUE`` changes one entry of a dict field of ``base``."""
    import dataclasses

    kinds = {f.name: str(f.type) for f in dataclasses.fields(Recipe) if f.name not in ("name", "notes")}
    changes = {}
    for item in items or ():
        name, sep, text = str(item).partition("=")
        name, dot, key = name.strip().replace("-", "_").partition(".")
        if not sep or name not in kinds:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(kinds)}")
        value = _typed(text, kinds[name])
        if dot:
            if "dict" not in kinds[name] or not key.strip():
                raise ValueError(f"--set {item!r}: only a dict field (augmentation, loss_weights) takes "
                                 "FIELD.KEY=VALUE")
            current = changes.get(name) or (getattr(base, name, None) if base is not None else None) or {}
            value = {**current, key.strip(): _typed(text, "float")}
        changes[name] = value
    return changes


def recipe_with(name: str, items=None) -> Recipe:
    """The recipe ``name`` with the command line's ``--set`` changes applied (:func:`parse_changes`);
    ValueError names the bad name, change or value."""
    base = recipe(name)
    try:
        return recipe(name, **parse_changes(items, base))
    except TypeError as err:  # a value of the wrong kind, e.g. mixup=abc
        raise ValueError(f"--set {' '.join(map(str, items or ()))}: a value of the wrong type for recipe "
                         f"{name!r} ({err})") from err


def _typed(text: str, kind: str):
    """A ``--set`` value as its field's type: JSON where it parses (numbers, dicts), else the bare word."""
    import json

    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word, e.g. optimizer=adam
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind.startswith("int") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def recipe_table(names=("seed", "kit")):
    """A pandas table with one column per recipe and one row per setting, for side-by-side reading."""
    import pandas as pd

    rows = {n: {k: v for k, v in recipe(n).as_dict().items() if k not in ("name", "notes")} for n in names}
    table = pd.DataFrame(rows)
    return table.map(lambda v: ", ".join(f"{k} {x}" for k, x in v.items()) if isinstance(v, dict) else v)
