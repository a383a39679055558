"""Age groups: the seed's 3, 5 and 10 groups over ages 1-80, any custom edges, or one per year.

A scheme maps an age in years to a class index; each class has a label ("27-52") and a
centre (its middle age, used to turn a predicted group into years for the MAE).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Lower bounds of each group; the last number is one past the oldest age (ages 1-80).
SEED_EDGES: dict[str, tuple[int, ...]] = {
    "3": (1, 27, 53, 81),
    "5": (1, 12, 24, 40, 56, 81),
    "10": (1, 9, 17, 25, 33, 41, 49, 57, 65, 73, 81),
}
SEED_AGE_RANGE = (1, 80)


@dataclass(frozen=True)
class AgeGroups:
    """A partition of ages into consecutive groups given by their edges."""

    name: str
    edges: tuple[int, ...]

    def __post_init__(self):
        e = self.edges
        if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:])):
            raise ValueError(f"age group edges must increase and name at least one group: {e}")

    @property
    def n(self) -> int:
        """Number of groups."""
        return len(self.edges) - 1

    @property
    def age_range(self) -> tuple[int, int]:
        """Youngest and oldest age covered (inclusive)."""
        return self.edges[0], self.edges[-1] - 1

    @property
    def labels(self) -> list[str]:
        """One label per group, e.g. '1-26'; a one-year group is just '27'."""
        return [f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(self.edges, self.edges[1:])]

    @property
    def centres(self) -> np.ndarray:
        """Middle age of each group in years (float)."""
        e = np.asarray(self.edges, dtype=float)
        return (e[:-1] + e[1:] - 1) / 2

    def assign(self, ages) -> np.ndarray:
        """Group index of each age (int64); -1 for ages outside the range or missing."""
        a = np.asarray(ages, dtype=float)
        idx = np.searchsorted(np.asarray(self.edges), np.floor(a), side="right") - 1
        ok = np.isfinite(a) & (a >= self.edges[0]) & (a < self.edges[-1])
        return np.where(ok, idx, -1).astype(np.int64)

    def counts(self, ages) -> list[int]:
        """Number of ages in each group, youngest first."""
        g = self.assign(ages)
        return np.bincount(g[g >= 0], minlength=self.n).astype(int).tolist()


def age_groups(scheme: str | int = "10", *, edges=None, age_range=SEED_AGE_RANGE) -> AgeGroups:
    """The seed's scheme '3', '5' or '10', 'year' (one class per year), or custom ``edges``."""
    if edges is not None:
        return AgeGroups(str(scheme) if scheme not in ("10", 10) else "custom", tuple(int(x) for x in edges))
    scheme = str(scheme)
    if scheme in SEED_EDGES:
        return AgeGroups(scheme, SEED_EDGES[scheme])
    if scheme == "year":
        lo, hi = age_range
        return AgeGroups("year", tuple(range(lo, hi + 2)))
    raise ValueError(f"unknown age-group scheme {scheme!r}; use 3, 5, 10, year or edges=[...]")
