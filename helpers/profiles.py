"""The run profiles, one setting: ``smoke`` (tiny, for CI and a first look), ``cpu`` (the seed's
data at the seed's 56 px, sized so a replication converges on two CPU cores) and ``full`` (the
seed's scale, for a GPU).

Pick one with ``profile("full")`` or the ``AGEKIT_PROFILE`` environment variable; every
notebook and command reads it from here, so switching is one word.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    """How big a run is: images drawn, epochs, input size, backbone and batch size."""

    name: str
    n_images: int | None  # images drawn per dataset before the split (None: all)
    epochs: int | None  # None: the recipe's own number of epochs
    image_size: int
    backbone: str
    batch_size: int

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", n_images=400, epochs=2, image_size=56, backbone="b0", batch_size=32),
    # the seed's split and input size; B0, batch 128 (twice the seed's steps per epoch) and 12 epochs:
    # measured ~90 s per epoch of 16,000 faces on two cores, the budget in results/paper-cpu/BUDGET.md
    "cpu": Profile("cpu", n_images=20_000, epochs=12, image_size=56, backbone="b0", batch_size=128),
    "full": Profile("full", n_images=20_000, epochs=None, image_size=56, backbone="b4", batch_size=256),
}


def profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$AGEKIT_PROFILE``, else ``smoke``."""
    name = name or os.environ.get("AGEKIT_PROFILE", "smoke")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose {' or '.join(PROFILES)}")
    return PROFILES[name]
