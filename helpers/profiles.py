"""The two run profiles, one setting: ``smoke`` (tiny, for CI and a first look) and ``full`` (the seed's scale).

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
    "full": Profile("full", n_images=20_000, epochs=None, image_size=56, backbone="b4", batch_size=256),
}


def profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$AGEKIT_PROFILE``, else ``smoke``."""
    name = name or os.environ.get("AGEKIT_PROFILE", "smoke")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose {' or '.join(PROFILES)}")
    return PROFILES[name]
