"""Training recipes as data: the seed's, replicated as its notebooks ran it, and the kit's own.

A recipe fixes everything about *how* a model learns: head, age output, input scaling,
augmentation, losses and their weighting, optimizer, schedule and epochs. *What* it learns
(dataset, tasks, age groups) and *how big* the run is (profile: images, epochs, backbone,
image size, batch) are chosen separately, so any recipe runs on any data at any scale.

``seed``: the seed's notebooks, number for number (see ``REPLICATION_NOTES.md``). Note that
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

    def model_args(self) -> dict:
        """The arguments of ``build_model`` this recipe fixes."""
        return {"head": self.head, "age_head": self.age_head, "input_scale": self.input_scale,
                "augmentation": dict(self.augmentation), "dropout": self.dropout, "bn_momentum": self.bn_momentum,
                "label_smoothing": self.label_smoothing, "age_sigma": self.age_sigma,
                "loss_weighting": self.loss_weighting, "loss_weights": self.loss_weights}

    def as_dict(self) -> dict:
        """Every field, JSON-ready."""
        return asdict(self)


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
    """The recipe called ``name`` ('seed' or 'kit'), with any field replaced by ``changes``."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose {' or '.join(RECIPES)}")
    return replace(RECIPES[name], **changes) if changes else RECIPES[name]


def recipe_table(names=("seed", "kit")):
    """A pandas table with one column per recipe and one row per setting, for side-by-side reading."""
    import pandas as pd

    rows = {n: {k: v for k, v in recipe(n).as_dict().items() if k not in ("name", "notes")} for n in names}
    table = pd.DataFrame(rows)
    return table.map(lambda v: ", ".join(f"{k} {x}" for k, x in v.items()) if isinstance(v, dict) else v)
