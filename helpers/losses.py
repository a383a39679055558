"""Per-task losses that skip missing labels, and the ways to weigh tasks against each other.

A label below zero means "missing" (``-1``): a face from IMDB-WIKI has no race, so the race
loss must ignore it rather than call it White. Every loss here is the mean over the samples
*that have* the label (zero when none has), so a task's loss keeps its scale however rare
its labels are in a batch. Age losses take the age in years and encode it for their head.

Weighting: ``FixedWeighting`` (equal weights are the seed's sum) and ``UncertaintyWeighting``
(Kendall, Gal and Cipolla, 2018: one learned log-variance per task). Everything uses
``keras.ops`` only, so it runs on the TensorFlow and the JAX backend.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import ops

from .age_heads import AgeHead, true_group

EPSILON = 1e-7


def masked_crossentropy(labels, probs, label_smoothing: float = 0.0):
    """Mean cross-entropy of class ``labels`` (N,) under ``probs`` (N, k) over labels >= 0."""
    labels = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    probs = ops.convert_to_tensor(probs, dtype="float32")
    valid = labels >= 0
    k = ops.shape(probs)[-1]
    target = ops.one_hot(ops.cast(ops.where(valid, labels, 0), "int32"), k, dtype="float32")
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / k
    per_sample = -ops.sum(target * ops.log(ops.clip(probs, EPSILON, 1.0)), axis=-1)
    return _masked_mean(per_sample, valid)


def masked_age_group_crossentropy(years, probs, groups, label_smoothing: float = 0.0):
    """Cross-entropy of the age group (of ``groups``) holding each age in ``years``; -1 or outside skipped."""
    return masked_crossentropy(true_group(years, groups), probs, label_smoothing)


def masked_ordinal_loss(years, cumulative, first_age: int = 1):
    """Mean binary cross-entropy over the thresholds of P(age > t), t = first_age, first_age+1, ...

    ``cumulative`` is (N, K) with column j the probability that the age exceeds ``first_age + j``.
    """
    years = _years(years)
    cumulative = ops.clip(ops.convert_to_tensor(cumulative, dtype="float32"), EPSILON, 1.0 - EPSILON)
    k = ops.shape(cumulative)[-1]
    thresholds = first_age + ops.cast(ops.arange(k), "float32")
    above = ops.cast(years[:, None] > thresholds[None, :], "float32")
    bce = -(above * ops.log(cumulative) + (1.0 - above) * ops.log(1.0 - cumulative))
    valid = (years >= first_age) & (years <= first_age + k)
    return _masked_mean(ops.mean(bce, axis=-1), valid)


def masked_distribution_loss(years, probs, first_age: int = 1, sigma: float = 2.0):
    """Mean KL divergence from a Gaussian of width ``sigma`` years around each age to ``probs`` (one per year)."""
    years = _years(years)
    probs = ops.convert_to_tensor(probs, dtype="float32")
    k = ops.shape(probs)[-1]
    grid = first_age + ops.cast(ops.arange(k), "float32")
    target = age_distribution(years, grid, sigma)
    kl = ops.sum(target * (ops.log(ops.clip(target, EPSILON, 1.0)) - ops.log(ops.clip(probs, EPSILON, 1.0))), axis=-1)
    valid = (years >= first_age) & (years < first_age + k)
    return _masked_mean(kl, valid)


def masked_expected_age_l1(years, output, head: AgeHead, scale: float = 10.0):
    """Mean absolute error of the head's age in years (its expected value), divided by ``scale``
    years, over the ages the head covers: DLDL-v2's expectation loss (Gao et al., 2018), which
    trains the answer that MAE scores, beside the distribution's own loss."""
    years = _years(years)
    lo, hi = head.age_range
    error = ops.abs(head.predicted_years(output) - years) / scale
    return _masked_mean(error, (years >= lo) & (years <= hi))


def masked_huber(years, predicted, delta: float = 1.0, scale: float = 10.0):
    """Mean Huber loss of ``(predicted - years) / scale`` over ages >= 0 (scale in years)."""
    years = _years(years)
    predicted = ops.reshape(ops.convert_to_tensor(predicted, dtype="float32"), (-1,))
    error = ops.abs(predicted - years) / scale
    quadratic = ops.minimum(error, delta)
    per_sample = 0.5 * quadratic**2 + delta * (error - quadratic)
    return _masked_mean(per_sample, years >= 0)


def age_distribution(years, grid, sigma: float):
    """A discretised Gaussian over ``grid`` (k,) around each age (N,), normalised to sum to one: (N, k)."""
    d = (grid[None, :] - years[:, None]) / sigma
    w = ops.exp(-0.5 * d * d)
    return w / ops.maximum(ops.sum(w, axis=-1, keepdims=True), EPSILON)


def task_loss(task: str, head: AgeHead | None = None, *, label_smoothing: float = 0.0, age_sigma: float = 2.0,
              age_l1: float = 0.0):
    """The masked loss function ``f(y_true, y_pred) -> scalar`` for ``task`` (age needs its ``head``).

    ``age_l1`` adds ``age_l1`` times :func:`masked_expected_age_l1` to the age loss of a per-year
    head (distribution or ordinal), whose expected age is the answer in years."""
    if task in ("gender", "race"):
        return lambda y, p: masked_crossentropy(y, p, label_smoothing)
    if task != "age":
        raise ValueError(f"unknown task {task!r}; choose age, gender or race")
    if age_l1:
        if head.kind not in ("distribution", "ordinal"):
            raise ValueError(f"age_l1 needs a distribution or ordinal age head (an expected age), not {head.kind!r}")
        base = task_loss("age", head, label_smoothing=label_smoothing, age_sigma=age_sigma)
        return lambda y, p: base(y, p) + age_l1 * masked_expected_age_l1(y, p, head)
    lo = head.age_range[0]
    if head.kind == "softmax":
        return lambda y, p: masked_age_group_crossentropy(y, p, head.groups, label_smoothing)
    if head.kind == "regression":
        return lambda y, p: masked_huber(y, p)
    if head.kind == "ordinal":
        return lambda y, p: masked_ordinal_loss(y, p, lo)
    return lambda y, p: masked_distribution_loss(y, p, lo, age_sigma)


@keras.saving.register_keras_serializable(package="agekit")
class FixedWeighting(keras.layers.Layer):
    """Total loss = sum of ``weights[task] * loss[task]``; all ones is the seed's equal weighting."""

    def __init__(self, weights: dict[str, float], **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.task_weights = {str(k): float(v) for k, v in weights.items()}

    def combine(self, losses: dict):
        """The weighted sum of the per-task scalar ``losses``."""
        return sum(ops.cast(losses[t], "float32") * self.task_weights.get(t, 1.0) for t in losses)

    def current_weights(self) -> dict[str, float]:
        """The weight of each task now (fixed)."""
        return dict(self.task_weights)

    def get_config(self):
        return {**super().get_config(), "weights": self.task_weights}


@keras.saving.register_keras_serializable(package="agekit")
class UncertaintyWeighting(keras.layers.Layer):
    """Learned weighting (Kendall et al., 2018): one log-variance ``s`` per task, trained with the model.

    Total = sum over tasks of ``c * exp(-s) * loss + s / 2`` with ``c = 1`` for a
    classification task and ``1/2`` for a regression task, i.e. ``loss / sigma^2 + log sigma``
    and ``loss / (2 sigma^2) + log sigma``. A task whose loss stays high gets a larger sigma,
    so a smaller weight; the ``log sigma`` term stops every sigma from growing without bound.
    """

    def __init__(self, tasks, regression=(), **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.tasks = [str(t) for t in tasks]
        self.regression = [str(t) for t in regression]
        self.log_vars = self.add_weight(shape=(len(self.tasks),), initializer="zeros", name="log_vars",
                                        trainable=True)

    def combine(self, losses: dict):
        """The weighted total of the per-task scalar ``losses``, regulariser included."""
        total = 0.0
        for i, task in enumerate(self.tasks):
            if task not in losses:
                continue
            s = self.log_vars[i]
            c = 0.5 if task in self.regression else 1.0
            total = total + c * ops.exp(-s) * ops.cast(losses[task], "float32") + 0.5 * s
        return total

    def current_weights(self) -> dict[str, float]:
        """The factor ``c * exp(-s)`` that multiplies each task's loss now."""
        s = np.asarray(ops.convert_to_numpy(self.log_vars), dtype=float)
        return {t: float((0.5 if t in self.regression else 1.0) * np.exp(-v)) for t, v in zip(self.tasks, s)}

    def get_config(self):
        return {**super().get_config(), "tasks": self.tasks, "regression": self.regression}


def loss_weighting(mode: str, tasks, weights: dict | None = None, regression=()):
    """The weighting layer for ``mode``: 'equal' (the seed's), 'fixed' (``weights``) or 'uncertainty'."""
    tasks = list(tasks)
    if mode == "equal":
        return FixedWeighting({t: 1.0 for t in tasks}, name="loss_weighting")
    if mode == "fixed":
        if not weights:
            raise ValueError("fixed loss weighting needs weights, e.g. {'age': 1.0, 'gender': 0.5}")
        return FixedWeighting({t: float(weights.get(t, 1.0)) for t in tasks}, name="loss_weighting")
    if mode == "uncertainty":
        return UncertaintyWeighting(tasks, regression=regression, name="loss_weighting")
    raise ValueError(f"unknown loss weighting {mode!r}; choose equal, fixed or uncertainty")


# --- private details -------------------------------------------------------------------------


def _years(years):
    return ops.reshape(ops.convert_to_tensor(years, dtype="float32"), (-1,))


def _masked_mean(per_sample, valid):
    mask = ops.cast(valid, "float32")
    return ops.sum(per_sample * mask) / ops.maximum(ops.sum(mask), 1.0)
