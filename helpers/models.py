"""The multi-task model: one EfficientNet backbone shared by an age head and optional gender and race heads.

``build_model(...)`` returns a :class:`MultiTaskModel`. It takes RGB pixels in 0-255 (any
square size; the seed used 56 px) and returns a dict with one output per task. The model
carries its own losses (masked, see :mod:`helpers.losses`), the loss weighting and the
metrics, so ``compile`` needs only an optimizer. Saved ``.keras`` files load in Keras safe
mode with :func:`load_model`. Only ``keras`` and ``keras.ops`` are used, so the same code runs
on the TensorFlow and the JAX backend.

Keras' EfficientNets rescale and normalise their input themselves (they expect 0-255). The
seed also divided by 255 before the model, so its backbone saw pixels in 0-1/255:
``input_scale="seed"`` replicates that, ``"backbone"`` (the kit's) does not.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from .age_heads import REPORTED_SCHEMES, AgeHead, age_head, age_head_from_spec, true_group
from .losses import loss_weighting, task_loss

#: Backbone names and the keras.applications class each one builds.
BACKBONES: dict[str, str] = {f"b{i}": f"EfficientNetB{i}" for i in range(8)}
#: Parameters of each backbone without its ImageNet classifier (include_top=False), as published
#: by keras.applications (its table lists the sizes with the 1000-class top; these are without).
PUBLISHED_PARAMS: dict[str, int] = {
    "b0": 4_049_571, "b1": 6_575_239, "b2": 7_768_569, "b3": 10_783_535,
    "b4": 17_673_823, "b5": 28_513_527, "b6": 40_960_143, "b7": 64_097_687,
}
#: Channels of each backbone's last feature map.
FEATURE_CHANNELS: dict[str, int] = {
    "b0": 1280, "b1": 1280, "b2": 1408, "b3": 1536, "b4": 1792, "b5": 2048, "b6": 2304, "b7": 2560,
}
#: A few-layer stand-in for a backbone, for tests and quick checks only.
TEST_BACKBONE = "tiny"
TASKS = ("age", "gender", "race")
N_CLASSES = {"gender": 2, "race": 5}
HEAD_STYLES = ("seed", "kit")
INPUT_SCALES = ("backbone", "seed")
#: EfficientNet's stochastic depth rate in keras.applications (its last block's drop probability).
DEFAULT_DROP_CONNECT = 0.2
AUGMENTATIONS = ("flip", "rotation", "zoom", "translation", "contrast", "erasing")


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights could not be obtained (no network); the message names the fix."""


def build_model(
    tasks=("age",),
    *,
    age_head: str = "softmax",
    age_groups: str = "10",
    backbone: str = "b0",
    image_size: int = 56,
    head: str = "seed",
    weights: str | None = "imagenet",
    input_scale: str = "backbone",
    augmentation: dict | None = None,
    dropout: float = 0.2,
    bn_momentum: float | None = None,
    loss_weighting: str = "equal",
    loss_weights: dict | None = None,
    label_smoothing: float = 0.0,
    age_sigma: float = 2.0,
    test_flip: bool = False,
    drop_connect: float | None = None,
    any_size: bool = False,
    age_l1: float = 0.0,
) -> "MultiTaskModel":
    """A MultiTaskModel for ``tasks`` (age first, then gender and/or race) on ``backbone`` at ``image_size`` px.

    ``weights`` is 'imagenet' or None (train from scratch); ``head`` is 'seed' or 'kit';
    ``age_head`` is softmax, regression, ordinal or distribution; ``augmentation`` maps
    flip/rotation/zoom/translation/contrast/erasing to their strength (active in training only);
    ``test_flip`` makes every prediction the mean of the face and its mirror image;
    ``drop_connect`` is EfficientNet's stochastic depth rate (None: Keras' default, 0.2);
    ``age_l1`` weights an L1 loss on the expected age (in tens of years) added to a per-year age head's;
    ``any_size`` builds it for input of any size (``image_size`` stays the size it answers at),
    for training at several sizes in turn.
    """
    spec = model_spec(tasks=tasks, age_head=age_head, age_groups=age_groups, backbone=backbone,
                      image_size=image_size, head=head, input_scale=input_scale, augmentation=augmentation,
                      dropout=dropout, bn_momentum=bn_momentum, loss_weighting=loss_weighting,
                      loss_weights=loss_weights, label_smoothing=label_smoothing, age_sigma=age_sigma,
                      test_flip=test_flip, drop_connect=drop_connect, any_size=any_size, age_l1=age_l1)
    return MultiTaskModel(spec, weights=weights)


def model_spec(**kwargs) -> dict:
    """The JSON-ready description of a model (the arguments of :func:`build_model` but weights), validated."""
    tasks = list(kwargs.get("tasks") or ["age"])
    if isinstance(kwargs.get("tasks"), str):
        tasks = [t.strip() for t in kwargs["tasks"].split(",") if t.strip()]
    if "age" not in tasks or any(t not in TASKS for t in tasks) or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must include age and may add gender and race, got {tasks}")
    tasks = [t for t in TASKS if t in tasks]
    backbone = str(kwargs.get("backbone", "b0")).lower()
    if backbone not in BACKBONES and backbone != TEST_BACKBONE:
        raise ValueError(f"unknown backbone {backbone!r}; choose from {', '.join(BACKBONES)}")
    head = kwargs.get("head", "seed")
    if head not in HEAD_STYLES:
        raise ValueError(f"unknown head style {head!r}; choose seed or kit")
    input_scale = kwargs.get("input_scale", "backbone")
    if input_scale not in INPUT_SCALES:
        raise ValueError(f"unknown input scale {input_scale!r}; choose backbone or seed")
    augmentation = {k: float(v) for k, v in (kwargs.get("augmentation") or {}).items() if v}
    unknown = set(augmentation) - set(AUGMENTATIONS)
    if unknown:
        raise ValueError(f"unknown augmentation {sorted(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    image_size = int(kwargs.get("image_size", 56))
    if image_size < 32:
        raise ValueError(f"image size must be at least 32 px, got {image_size}")
    ah = age_head(kwargs.get("age_head", "softmax"), str(kwargs.get("age_groups", "10")))
    weighting = kwargs.get("loss_weighting", "equal")
    loss_weighting(weighting, tasks, kwargs.get("loss_weights"))  # validates
    momentum = kwargs.get("bn_momentum")
    age_l1 = float(kwargs.get("age_l1") or 0.0)
    if age_l1 < 0:
        raise ValueError(f"age_l1 must be 0 or positive, got {age_l1}")
    if age_l1:
        task_loss("age", ah, age_l1=age_l1)  # validates the head: it needs an expected age
    return {
        "tasks": tasks,
        "age_head": ah.to_spec(),
        "backbone": backbone,
        "image_size": image_size,
        "head": head,
        "input_scale": input_scale,
        "augmentation": augmentation,
        "dropout": float(kwargs.get("dropout", 0.2)),
        "bn_momentum": None if momentum is None else float(momentum),
        "loss_weighting": weighting,
        "loss_weights": kwargs.get("loss_weights"),
        "label_smoothing": float(kwargs.get("label_smoothing", 0.0)),
        "age_sigma": float(kwargs.get("age_sigma", 2.0)),
        # only when set, so that the specs of runs made before this option stay identical
        **({"test_flip": True} if kwargs.get("test_flip") else {}),
        **({"drop_connect": float(kwargs["drop_connect"])} if kwargs.get("drop_connect") is not None else {}),
        **({"any_size": True} if kwargs.get("any_size") else {}),
        **({"age_l1": age_l1} if age_l1 else {}),
    }


def build_backbone(name: str, image_size: int | None, weights: str | None = None, *,
                   drop_connect: float | None = None) -> keras.Model:
    """EfficientNet ``name`` ('b0'..'b7') without its classifier, for ``image_size`` px input in 0-255
    (None: any size); ``drop_connect`` sets its stochastic depth rate (None: Keras' default, 0.2)."""
    if name == TEST_BACKBONE:
        return _tiny_backbone(image_size)
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    constructor = getattr(keras.applications, BACKBONES[name])
    try:
        backbone = constructor(include_top=False, weights=weights, input_shape=(image_size, image_size, 3))
    except Exception as err:  # a failed download raises several types, depending on the cause
        if weights != "imagenet":
            raise
        raise WeightsUnavailableError(
            f"could not load the ImageNet weights of {BACKBONES[name]} ({type(err).__name__}: {err}). "
            "Without network access, train from scratch: weights=None in Python, --weights none on "
            "the command line."
        ) from err
    if drop_connect is not None:
        # Keras builds block i of n with stochastic depth 0.2 * i / n (a Dropout dropping whole
        # samples' residual branches); the constructors do not take the rate, so scale it here.
        for layer in backbone.layers:
            if isinstance(layer, layers.Dropout):
                layer.rate = layer.rate * float(drop_connect) / DEFAULT_DROP_CONNECT
    return backbone


def augmentation_layers(augmentation: dict) -> list:
    """Keras random layers for ``augmentation`` (name -> strength); they do nothing at inference."""
    out = []
    if augmentation.get("flip"):
        out.append(layers.RandomFlip("horizontal", name="flip"))
    if augmentation.get("rotation"):
        out.append(layers.RandomRotation(augmentation["rotation"], fill_mode="reflect", name="rotation"))
    if augmentation.get("zoom"):
        out.append(layers.RandomZoom(augmentation["zoom"], fill_mode="reflect", name="zoom"))
    if augmentation.get("translation"):
        t = augmentation["translation"]
        out.append(layers.RandomTranslation(t, t, fill_mode="reflect", name="translation"))
    if augmentation.get("contrast"):
        out.append(layers.RandomContrast(augmentation["contrast"], value_range=(0, 255), name="contrast"))
    if augmentation.get("erasing"):
        # random erasing: with this probability, a box of 2-33% of the face is replaced by noise
        # (Keras draws it from a normal distribution scaled to 0-255 and clipped: dark on average)
        out.append(layers.RandomErasing(factor=(augmentation["erasing"], augmentation["erasing"]),
                                        value_range=(0, 255), name="erasing"))
    if keras.backend.backend() == "jax":
        # Keras marks rotation, zoom and translation as not compilable because TensorFlow's XLA
        # lacks their image transform; on JAX they are plain JAX code and compile fine. Left
        # marked, they would make Keras run every JAX training step uncompiled.
        for layer in out:
            layer.supports_jit = True
    return out


class ModelFileError(ValueError):
    """A model file that cannot be read; the message names the file and says what is wrong with it."""


def check_model_file(path) -> Path:
    """``path`` if it looks like a whole ``.keras`` file; else FileNotFoundError (missing) or
    :class:`ModelFileError` saying whether it is not a Keras model at all or a damaged/truncated one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model file missing (no such file)")
    if path.is_dir():
        raise ModelFileError(f"{path}: a folder, not a model file (a run or model folder holds best.keras)")
    with open(path, "rb") as f:
        head = f.read(4)
    if not zipfile.is_zipfile(path):
        if head == b"PK\x03\x04":  # a zip that lost its end, where the archive's directory is kept
            raise ModelFileError(f"{path}: damaged or truncated model file ({path.stat().st_size:,} bytes, its zip "
                                 "archive is incomplete); copy or download it again")
        raise ModelFileError(f"{path}: not a Keras model file (a .keras file is a zip archive; this one is not)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{path}: damaged model file ({err}); copy or download it again") from err
    if broken is not None:
        raise ModelFileError(f"{path}: damaged model file ({broken} inside it is corrupt); copy or download it again")
    if not {"config.json", "model.weights.h5"} <= names:
        raise ModelFileError(f"{path}: not a Keras model file (a zip archive without config.json and "
                             "model.weights.h5)")
    return path


def load_model(path, *, compile: bool = True) -> "MultiTaskModel":
    """A MultiTaskModel saved with ``model.save(path)`` (safe mode); ``compile`` restores the optimizer state too.

    A file that cannot be read raises FileNotFoundError (missing) or :class:`ModelFileError` (not a
    Keras model, damaged or truncated, or not one of this kit's), each naming the file."""
    path = check_model_file(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds; all mean the file is unusable here
        raise ModelFileError(f"{path}: damaged model file, Keras cannot read it ({type(err).__name__}: {err})") from err
    if not isinstance(model, MultiTaskModel):
        raise ModelFileError(f"{path}: a Keras model, but not a model of this kit")
    return model


@keras.saving.register_keras_serializable(package="agekit")
class MultiTaskModel(keras.Model):
    """A shared backbone with one output per task; computes its own masked losses and metrics.

    ``model.spec`` describes it (see :func:`model_spec`); ``model.network`` is the functional
    graph; ``model.age_head`` says how to read the age output; ``model.weighting`` combines
    the per-task losses. Metrics: ``<task>_loss``, ``gender_acc``, ``race_acc``,
    ``age_acc_3/5/10`` for the schemes the age head serves, and ``age_mae`` in years.
    """

    def __init__(self, spec: dict, weights: str | None = None, **kwargs):
        super().__init__(name=kwargs.pop("name", "multitask"), **kwargs)
        self.spec = dict(spec)
        self.tasks = list(spec["tasks"])
        self.age_head = age_head_from_spec(spec["age_head"])
        if spec.get("members"):  # an average of several trained networks (see helpers.ensemble)
            self.members = [_build_network(member, None, name=f"member_{i}")
                            for i, member in enumerate(spec["members"])]
            self.network = self.members[0]
        else:
            self.network = _build_network(spec, weights)
        regression = ["age"] if self.age_head.kind == "regression" else []
        self.weighting = loss_weighting(spec["loss_weighting"], self.tasks, spec.get("loss_weights"), regression)
        self._task_losses = {
            t: task_loss(t, self.age_head, label_smoothing=spec["label_smoothing"], age_sigma=spec["age_sigma"],
                         age_l1=spec.get("age_l1", 0.0))
            for t in self.tasks
        }
        self.age_schemes = _metric_schemes(self.age_head)
        trackers = [Ratio(name=f"{t}_loss") for t in self.tasks]
        trackers += [Ratio(name=f"age_acc_{s.name}") for s in self.age_schemes]
        trackers.append(Ratio(name="age_mae"))
        trackers += [Ratio(name=f"{t}_acc") for t in self.tasks if t != "age"]
        self.trackers = trackers
        self.built = True

    @property
    def monitor(self) -> tuple[str, str]:
        """The validation metric that picks the best epoch and its mode: age accuracy, or MAE for 'year'."""
        if self.age_head.groups.name == "year":
            return "val_age_mae", "min"
        return f"val_age_acc_{self.age_head.groups.name}", "max"

    def call(self, inputs, training=None):
        if self.spec.get("members"):
            if training:
                raise ValueError("an average of trained models is not trained further; train its members")
            answers = [self._answer(network, inputs) for network in self.members]
            return {k: sum(answer[k] for answer in answers) / len(answers) for k in answers[0]}
        if training:
            return self.network(inputs, training=True)
        return self._answer(self.network, inputs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        from .devices import replicas_in_sync

        losses = {t: self._task_losses[t](y[t], y_pred[t]) for t in self.tasks if t in y}
        if "mix_lambda" in y:  # a mixed batch (mixup or CutMix): each face is lam of one, 1 - lam of another
            lam = ops.cast(ops.reshape(y["mix_lambda"], (-1,))[0], "float32")
            for t in losses:
                partner = self._task_losses[t](y[f"{t}_mix"], y_pred[t])
                losses[t] = lam * ops.cast(losses[t], "float32") + (1.0 - lam) * ops.cast(partner, "float32")
        for t, value in losses.items():
            n = self._valid_count(t, y[t])
            self._metric(f"{t}_loss").update_state(ops.cast(value, "float32") * n, n)
        total = self.weighting.combine(losses)
        if self.losses:
            total = total + ops.sum([ops.cast(v, "float32") for v in self.losses])
        replicas = replicas_in_sync()
        return total / replicas if replicas > 1 else total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if "age" in y:
            years = ops.reshape(ops.cast(y["age"], "float32"), (-1,))
            for scheme in self.age_schemes:
                truth = true_group(years, scheme)
                guess = self.age_head.predicted_group(y_pred["age"], scheme)
                valid = truth >= 0
                self._metric(f"age_acc_{scheme.name}").update_state(
                    ops.sum(ops.cast((truth == guess) & valid, "float32")), ops.sum(ops.cast(valid, "float32")))
            lo, hi = self.age_head.age_range
            valid = ops.cast((years >= lo) & (years <= hi), "float32")
            error = ops.abs(self.age_head.predicted_years(y_pred["age"]) - years)
            self._metric("age_mae").update_state(ops.sum(error * valid), ops.sum(valid))
        for t in self.tasks:
            if t == "age" or t not in y:
                continue
            labels = ops.reshape(ops.cast(y[t], "int32"), (-1,))
            guess = ops.cast(ops.argmax(y_pred[t], axis=-1), "int32")
            valid = labels >= 0
            self._metric(f"{t}_acc").update_state(
                ops.sum(ops.cast((labels == guess) & valid, "float32")), ops.sum(ops.cast(valid, "float32")))
        return self.get_metrics_result()

    def get_config(self):
        return {"spec": self.spec, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(config["spec"], weights=None, name=config.get("name", "multitask"))

    # --- private details ---

    def _answer(self, network, inputs):
        outputs = network(inputs, training=False)
        if not self.spec.get("test_flip"):
            return outputs
        # test-time flip: a face and its mirror image are the same person, so average the two answers
        mirrored = network(ops.flip(inputs, axis=2), training=False)
        return {k: (v + mirrored[k]) / 2 for k, v in outputs.items()}

    def _metric(self, name: str) -> "Ratio":
        return next(m for m in self.trackers if m.name == name)

    def _valid_count(self, task, labels):
        labels = ops.reshape(ops.cast(labels, "float32"), (-1,))
        if task == "age":
            lo, hi = self.age_head.age_range
            valid = (labels >= lo) & (labels <= hi)
        else:
            valid = labels >= 0
        return ops.sum(ops.cast(valid, "float32"))


@keras.saving.register_keras_serializable(package="agekit")
class Ratio(keras.metrics.Metric):
    """A running ratio: the sum of numerators over the sum of denominators (0 while that is 0)."""

    def __init__(self, name="ratio", **kwargs):
        super().__init__(name=name, **kwargs)
        self.numerator = self.add_variable(shape=(), initializer="zeros", name="numerator")
        self.denominator = self.add_variable(shape=(), initializer="zeros", name="denominator")

    def update_state(self, numerator, denominator):
        self.numerator.assign_add(ops.cast(numerator, self.dtype))
        self.denominator.assign_add(ops.cast(denominator, self.dtype))

    def result(self):
        return ops.divide_no_nan(self.numerator, self.denominator)


@keras.saving.register_keras_serializable(package="agekit")
class OrdinalOutput(layers.Layer):
    """CORAL output: P(age > t_k) = sigmoid(w . x + b_k), one shared ``w`` and one bias per threshold."""

    def __init__(self, thresholds: int, **kwargs):
        super().__init__(**kwargs)
        self.thresholds = int(thresholds)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 1), initializer="glorot_uniform", name="kernel")
        # Start from a flat prior over ages: P(age > t_k) = (K - k) / (K + 1).
        k = np.arange(self.thresholds, dtype="float64")
        prior = (self.thresholds - k) / (self.thresholds + 1)
        self.bias = self.add_weight(shape=(self.thresholds,), name="bias",
                                    initializer=keras.initializers.Constant(np.log(prior / (1 - prior))))

    def call(self, x):
        return ops.sigmoid(ops.matmul(x, ops.cast(self.kernel, x.dtype)) + ops.cast(self.bias, x.dtype))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds}


# --- private details -------------------------------------------------------------------------


def _build_network(spec: dict, weights: str | None, name: str = "network") -> keras.Model:
    size = spec["image_size"]
    inputs = keras.Input((None, None, 3) if spec.get("any_size") else (size, size, 3), name="pixels")
    x = inputs
    for layer in augmentation_layers(spec["augmentation"]):
        x = layer(x)
    if spec["input_scale"] == "seed":
        x = layers.Rescaling(1.0 / 255, name="seed_divide_by_255")(x)
    backbone = build_backbone(spec["backbone"], None if spec.get("any_size") else size, weights,
                              drop_connect=spec.get("drop_connect"))
    if spec.get("bn_momentum") is not None:
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = spec["bn_momentum"]
    x = backbone(x)
    if spec["head"] == "seed":
        x = layers.BatchNormalization(name="head_bn")(x)
        x = layers.GlobalMaxPooling2D(name="head_max_pool")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="head_average_pool")(x)
    if spec["dropout"]:
        x = layers.Dropout(spec["dropout"], name="head_dropout")(x)
    outputs = {"age": _age_output(age_head_from_spec(spec["age_head"]), x)}
    for task in spec["tasks"]:
        if task != "age":
            outputs[task] = layers.Dense(N_CLASSES[task], activation="softmax", dtype="float32", name=task)(x)
    return keras.Model(inputs, outputs, name=name)


def _age_output(head: AgeHead, x):
    if head.kind in ("softmax", "distribution"):
        return layers.Dense(head.output_size, activation="softmax", dtype="float32", name="age")(x)
    if head.kind == "ordinal":
        return OrdinalOutput(head.output_size, dtype="float32", name="age")(x)
    lo, hi = head.age_range  # regression: a unit-scale output mapped onto years
    z = layers.Dense(1, dtype="float32", name="age_unit")(x)
    return layers.Rescaling((hi - lo) / 4.0, offset=(hi + lo) / 2.0, dtype="float32", name="age")(z)


def _metric_schemes(head: AgeHead) -> list:
    from .age_groups import age_groups

    names = head.served(REPORTED_SCHEMES)
    schemes = [age_groups(n) for n in names]
    own = head.groups
    if own.name != "year" and own.name not in names:
        schemes.append(own)
    return schemes


def _tiny_backbone(image_size: int) -> keras.Model:
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (8, 16):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("swish")(x)
    return keras.Model(inputs, x, name="tiny")
