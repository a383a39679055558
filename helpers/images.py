"""Decode images of any mode into RGB uint8 arrays, resize them, and cache the result on disk.

Grayscale, palette, CMYK, RGBA and 16-bit files are converted; truncated, empty and corrupt
files are reported by name and skipped, never a crash.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .paths import cache_dir

RESIZE_METHODS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
    "area": Image.Resampling.BOX,
}


class ImageError(ValueError):
    """A file that cannot be read as an image; the message names the file and the problem."""


@dataclass
class ImageBatch:
    """Decoded images: ``images[i]`` came from ``paths[index[i]]``; ``errors`` maps skipped paths to why."""

    images: np.ndarray
    index: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as an RGB uint8 array (H, W, 3); raises ImageError if unreadable."""
    return to_rgb(_open(path), path)


def to_rgb(img: Image.Image, name: str | os.PathLike = "image") -> np.ndarray:
    """Convert a PIL image of any mode (gray, palette, CMYK, RGBA, 16-bit) to RGB uint8."""
    try:
        if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            arr = np.asarray(img, dtype=np.float64)
            top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
            arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
            return np.repeat(arr[..., None], 3, axis=2)
        if img.mode == "F":
            arr = np.asarray(img, dtype=np.float64)
            arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
            return np.repeat(arr[..., None], 3, axis=2)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as err:
        raise ImageError(f"{name}: cannot decode image ({err})") from err
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name}: image has no pixels")
    return arr


def resize_square(arr: np.ndarray, size: int, method: str = "bilinear") -> np.ndarray:
    """Resize an RGB uint8 array to ``size`` x ``size`` with ``method``."""
    if method not in RESIZE_METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose from {sorted(RESIZE_METHODS)}")
    if arr.shape[:2] == (size, size):
        return arr
    return np.asarray(Image.fromarray(arr).resize((size, size), RESIZE_METHODS[method]), dtype=np.uint8)


def load_image(path: str | os.PathLike, size: int, method: str = "bilinear") -> np.ndarray:
    """One image decoded to RGB and resized to ``size`` x ``size`` (uint8)."""
    return resize_square(to_rgb(_open(path, draft=size * 2), path), size, method)


def load_images(
    paths,
    size: int,
    method: str = "bilinear",
    *,
    cache: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> ImageBatch:
    """Decode and resize many files to (N, size, size, 3) uint8, skipping unreadable ones.

    The result is cached under ``<data>/cache`` with a key of (file list, size, method), so a
    second call with the same arguments reads the cache instead of decoding again.
    """
    paths = [str(p) for p in paths]
    key = hashlib.sha1(json.dumps([paths, int(size), method]).encode()).hexdigest()[:16]
    cache_file = cache_dir() / f"images-{size}px-{method}-{key}.npz"
    if cache and cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as z:
                return ImageBatch(z["images"], z["index"], json.loads(str(z["errors"])), from_cache=True)
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # a damaged cache is rebuilt
    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    errors: dict[str, str] = {}

    def work(i: int) -> None:
        try:
            out[i] = load_image(paths[i], size, method)
            ok[i] = True
        except ImageError as err:
            errors[paths[i]] = str(err)

    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 2) * 2)) as pool:
        list(tqdm(pool.map(work, range(len(paths))), total=len(paths), desc=f"decode {size}px",
                  unit="img", disable=not progress))
    index = np.flatnonzero(ok)
    batch = ImageBatch(out[index], index, errors)
    if cache:
        tmp = cache_file.with_name(cache_file.name + ".tmp.npz")
        np.savez(tmp, images=batch.images, index=batch.index, errors=json.dumps(errors))
        tmp.replace(cache_file)
    return batch


# --- private details -------------------------------------------------------------------------


def _open(path: str | os.PathLike, draft: int | None = None) -> Image.Image:
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise ImageError(f"{p}: empty file")
        img = Image.open(p)
        if draft and img.format == "JPEG" and img.mode in ("RGB", "L"):
            img.draft(img.mode, (draft, draft))  # decode big JPEGs at a reduced scale: much faster
        img.load()  # force the decode here, so truncated data fails now
        return img
    except ImageError:
        raise
    except FileNotFoundError as err:
        raise ImageError(f"{p}: no such file") from err
    except Image.DecompressionBombError as err:
        raise ImageError(f"{p}: image too large to decode safely ({err})") from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{p}: not an image file (corrupt or unknown format)") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"{p}: cannot decode image, truncated or corrupt ({err})") from err
