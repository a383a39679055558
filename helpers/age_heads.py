"""Age heads: what the age output of a model means, and how to read groups and years from it.

Four kinds of age output, all trained from the age in years (``-1`` when missing):

- ``softmax``: one probability per age group (the seed's head); with the ``year`` scheme,
  one per year.
- ``regression``: one number, the age in years.
- ``ordinal``: cumulative probabilities P(age > t) for t = first age .. last age - 1, with
  one shared weight vector and one bias per threshold (CORAL, Cao et al., 2020).
- ``distribution``: one probability per year, trained towards a Gaussian around the true
  age (label-distribution learning, Gao et al., 2017).

A head *serves* an age-group scheme when its answer can be turned into that scheme
exactly: a per-year head serves every scheme, a group head serves its own groups and any
scheme whose edges are among its own. Every function works on NumPy arrays and on backend
tensors alike (it uses ``keras.ops`` only); NumPy in gives backend tensors out, see
:func:`to_numpy`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .age_groups import SEED_AGE_RANGE, SEED_EDGES, AgeGroups, age_groups

AGE_HEADS = ("softmax", "regression", "ordinal", "distribution")
#: The seed's schemes that evaluation reports whenever a head serves them.
REPORTED_SCHEMES = tuple(SEED_EDGES)  # "3", "5", "10"


@dataclass(frozen=True)
class AgeHead:
    """The age output of a model: its ``kind``, its reporting ``groups`` and the ages it covers."""

    kind: str
    groups: AgeGroups
    age_range: tuple[int, int] = SEED_AGE_RANGE

    def __post_init__(self):
        if self.kind not in AGE_HEADS:
            raise ValueError(f"unknown age head {self.kind!r}; choose from {', '.join(AGE_HEADS)}")

    @property
    def years(self) -> AgeGroups:
        """One group per year over ``age_range``."""
        return age_groups("year", age_range=self.age_range)

    @property
    def classes(self) -> AgeGroups | None:
        """The groups the output has one value for (per year for ordinal and distribution; None for regression)."""
        if self.kind == "softmax":
            return self.groups
        if self.kind in ("ordinal", "distribution"):
            return self.years
        return None

    @property
    def output_size(self) -> int:
        """Width of the model's age output."""
        if self.kind == "softmax":
            return self.groups.n
        if self.kind == "regression":
            return 1
        if self.kind == "ordinal":
            return self.years.n - 1
        return self.years.n

    @property
    def gives_years(self) -> bool:
        """Whether the head answers in years (every head but a softmax over coarse groups)."""
        return self.kind != "softmax" or self.groups.name == "year"

    def serves(self, scheme: AgeGroups) -> bool:
        """Whether this head's answer converts exactly into ``scheme``."""
        if self.kind == "regression":
            return True
        return set(scheme.edges) <= set(self.classes.edges)

    def served(self, candidates=REPORTED_SCHEMES) -> list[str]:
        """Names of the schemes among ``candidates`` ('3', '5', '10') that this head serves."""
        return [name for name in candidates if self.serves(age_groups(name))]

    # --- reading an output (keras.ops; works on NumPy arrays and tensors) ---------------

    def class_probabilities(self, output):
        """Probability of each class of :attr:`classes` (N, n); None for regression."""
        from keras import ops

        output = ops.convert_to_tensor(output, dtype="float32")
        if self.kind in ("softmax", "distribution"):
            return output
        if self.kind == "ordinal":
            n = ops.shape(output)[0]
            ones, zeros = ops.ones((n, 1), dtype="float32"), ops.zeros((n, 1), dtype="float32")
            above = ops.concatenate([ones, output], axis=1)  # P(age > t-1) for each year t
            beyond = ops.concatenate([output, zeros], axis=1)  # P(age > t)
            p = ops.maximum(above - beyond, 0.0)
            return p / ops.maximum(ops.sum(p, axis=1, keepdims=True), 1e-7)
        return None

    def predicted_years(self, output):
        """Age in years (N,): the expected value for probability heads, the output for regression."""
        from keras import ops

        output = ops.convert_to_tensor(output, dtype="float32")
        if self.kind == "regression":
            return ops.reshape(output, (-1,))
        if self.kind == "ordinal":
            return self.age_range[0] + ops.sum(output, axis=1)
        centres = ops.convert_to_tensor(self.classes.centres.astype("float32"))
        return ops.sum(output * centres[None, :], axis=1)

    def scheme_probabilities(self, output, scheme: AgeGroups):
        """Probability of each group of ``scheme`` (N, k), summed from the classes; None for regression."""
        from keras import ops

        if not self.serves(scheme):
            raise ValueError(f"a {self.kind} head over groups {self.groups.labels} cannot serve {scheme.labels}")
        p = self.class_probabilities(output)
        if p is None:
            return None
        return ops.matmul(p, ops.convert_to_tensor(membership(self.classes, scheme)))

    def predicted_group(self, output, scheme: AgeGroups):
        """Index of the predicted group of ``scheme`` (N,) int32."""
        from keras import ops

        if self.kind == "regression":
            lo, hi = self.age_range
            years = ops.clip(ops.round(self.predicted_years(output)), lo, hi)
            return true_group(years, scheme)
        return ops.cast(ops.argmax(self.scheme_probabilities(output, scheme), axis=1), "int32")

    def to_spec(self) -> dict:
        """A JSON-ready description (kind, scheme name, edges, age range)."""
        return {"kind": self.kind, "groups": self.groups.name, "edges": list(self.groups.edges),
                "age_range": list(self.age_range)}


def age_head(kind: str, groups: str | AgeGroups = "10", age_range=SEED_AGE_RANGE) -> AgeHead:
    """The age head ``kind`` reporting ``groups`` ('3', '5', '10', 'year' or an AgeGroups)."""
    if not isinstance(groups, AgeGroups):
        groups = age_groups(groups, age_range=tuple(age_range))
    return AgeHead(kind, groups, tuple(int(a) for a in age_range))


def age_head_from_spec(spec: dict) -> AgeHead:
    """The AgeHead described by :meth:`AgeHead.to_spec`."""
    name, edges = spec["groups"], tuple(spec["edges"])
    groups = AgeGroups(name, edges)
    return AgeHead(spec["kind"], groups, tuple(spec.get("age_range", SEED_AGE_RANGE)))


def true_group(years, scheme: AgeGroups):
    """Group index of each age in ``scheme`` (N,) int32; -1 where the age is missing or outside."""
    from keras import ops

    years = ops.floor(ops.reshape(ops.convert_to_tensor(years, dtype="float32"), (-1,)))
    inner = ops.convert_to_tensor(np.asarray(scheme.edges[1:-1], dtype="float32"))
    index = ops.sum(ops.cast(years[:, None] >= inner[None, :], "int32"), axis=1)
    inside = (years >= scheme.edges[0]) & (years < scheme.edges[-1])
    return ops.where(inside, index, -1)


def membership(classes: AgeGroups, scheme: AgeGroups) -> np.ndarray:
    """(n_classes, n_groups) float32 matrix with 1 where a class lies inside a group of ``scheme``."""
    lows = np.asarray(classes.edges[:-1])
    m = np.zeros((classes.n, scheme.n), dtype="float32")
    g = scheme.assign(lows)
    m[np.flatnonzero(g >= 0), g[g >= 0]] = 1.0
    return m


def to_numpy(x) -> np.ndarray:
    """A backend tensor (or array) as a NumPy array."""
    from keras import ops

    return np.asarray(ops.convert_to_numpy(x))
