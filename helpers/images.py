"""Decode images of any mode into RGB uint8 arrays, resize them, and cache the result on disk.

Grayscale, palette, CMYK, RGBA and 16-bit files are converted; truncated, empty and corrupt
files are reported by name and skipped, never a crash.

**Photos of any size.** ``read_photo`` and ``decode_photo`` take a path, the bytes of an
uploaded file, a PIL image or an array, and can bring the photo down to a working size
(``max_side``) before anything holds it at full size: a large JPEG is decoded at a reduced
scale straight from the file (Pillow's ``Image.draft``), other formats are shrunk as soon as
they are decoded. A file of more than ``max_pixels`` pixels (:data:`MAX_PIXELS` by default)
is refused with an :class:`ImageError` naming it and its size, before it is decoded.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

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
#: The most pixels an image file may have: twice Pillow's decompression-bomb threshold
#: (``PIL.Image.MAX_IMAGE_PIXELS``, about 89.5 million), about 179 million (e.g. 13000 x 13000).
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)


class _ModuleLimit:
    """The default of every ``max_pixels``: :data:`MAX_PIXELS` as it is when a file is opened, so that
    changing the module's value (``helpers.images.MAX_PIXELS = ...``) changes the limit everywhere."""

    def __repr__(self) -> str:
        return "MAX_PIXELS"


_MAX = _ModuleLimit()
#: EXIF orientation -> the turn or mirror that shows the photo as a viewer does.
EXIF_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                  4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                  7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


class ImageError(ValueError):
    """A file that cannot be read as an image; the message names the file and the problem."""


@dataclass
class ImageBatch:
    """Decoded images: ``images[i]`` came from ``paths[index[i]]``; ``errors`` maps skipped paths to why."""

    images: np.ndarray
    index: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)
    from_cache: bool = False


class Photo(NamedTuple):
    """A decoded photo: ``rgb`` (at most ``max_side`` on its long side when one was asked for), the
    photo's own ``width`` and ``height`` in pixels (upright), and its ``name`` for messages."""

    rgb: np.ndarray
    width: int
    height: int
    name: str

    @property
    def scale(self) -> tuple[float, float]:
        """(x, y): the photo's pixels per pixel of ``rgb`` (1.0 when it was not shrunk)."""
        return self.width / self.rgb.shape[1], self.height / self.rgb.shape[0]


def read_rgb(path: str | os.PathLike, *, max_pixels: int | None = _MAX) -> np.ndarray:
    """The image at ``path`` as an RGB uint8 array (H, W, 3); raises ImageError if unreadable."""
    return to_rgb(_open(path, max_pixels=max_pixels), path)


def read_photo(image, *, max_side: int | None = None, max_pixels: int | None = _MAX) -> np.ndarray:
    """An RGB uint8 array from a path, the bytes of an image file, a PIL image or an array.

    Files and bytes are turned upright by their EXIF orientation, as a photo viewer shows
    them. With ``max_side`` the photo comes back at most that many pixels on its long side
    (see :func:`decode_photo`). Raises ImageError (naming the file) for a missing, empty,
    undecodable or too large file.
    """
    return decode_photo(image, max_side=max_side, max_pixels=max_pixels).rgb


def decode_photo(image, *, max_side: int | None = None, max_pixels: int | None = _MAX) -> Photo:
    """A :class:`Photo`: the RGB array, at most ``max_side`` pixels on its long side, and the photo's own size.

    A JPEG is decoded at the smallest of Pillow's reduced scales (1/2, 1/4, 1/8) that still
    gives ``max_side``, then shrunk; nothing ever holds a large photo at full size. A file
    above ``max_pixels`` pixels is refused before it is decoded (None: no limit of the kit's;
    Pillow itself still refuses more than twice ``PIL.Image.MAX_IMAGE_PIXELS``).
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, name = bytes(image), "uploaded file"
        if not data:
            raise ImageError(f"{name}: empty file")
        source = io.BytesIO(data)
    elif isinstance(image, (str, os.PathLike)):
        source = name = Path(image)
        if not source.is_file():
            raise ImageError(f"{name}: {'a folder, not an image file' if source.is_dir() else 'no such file'}")
        if source.stat().st_size == 0:
            raise ImageError(f"{name}: empty file")
    elif isinstance(image, Image.Image):
        name = f"<{type(image).__name__}>"
        width, height = image.size
        with _errors_named(name):
            return Photo(to_rgb(_shrink(image, max_side, image.size), name), width, height, name)
    else:
        name = f"<{type(image).__name__}>"
        rgb = as_rgb(image, name)
        height, width = rgb.shape[:2]
        if max_side and max(width, height) > max_side:
            rgb = np.asarray(_shrink(Image.fromarray(rgb), max_side, (width, height)), dtype=np.uint8)
        return Photo(rgb, width, height, name)
    with _errors_named(name), _quiet_bombs():
        with Image.open(source) as img:
            _check_pixels(img, name, max_pixels)
            width, height = img.size
            turn = EXIF_TRANSPOSE.get(img.getexif().get(0x0112, 1))
            _draft(img, max_side)
            img.load()
            small = _shrink(img, max_side, (width, height))
            if turn is not None:  # stored turned or mirrored: show it as a viewer would
                small = small.transpose(turn)
                if turn in (Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90,
                            Image.Transpose.ROTATE_270):
                    width, height = height, width
            return Photo(to_rgb(small, name), width, height, str(name))


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


def as_rgb(image, name: str = "image") -> np.ndarray:
    """An RGB uint8 array from a path, a PIL image or an array (gray, RGBA, 16-bit, float in [0, 1])."""
    if isinstance(image, (str, os.PathLike)):
        return read_rgb(image)
    if isinstance(image, Image.Image):
        return to_rgb(image, name)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or 0 in arr.shape:
        raise ImageError(f"{name}: expected an (H, W) or (H, W, 1|3|4) image array, got shape {arr.shape}")
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        top = 255.0 if np.nanmax(arr) <= 1.0 else 1.0
        arr = np.clip(np.nan_to_num(arr) * top + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        return to_rgb(Image.fromarray(arr, "RGBA"), name)
    return np.ascontiguousarray(arr)


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
        _write_cache(cache_file, batch)
    return batch


def _write_cache(cache_file: Path, batch: ImageBatch) -> None:
    """Write ``batch`` to ``cache_file`` through a temporary file of this process's own, then replace the
    cache in one step: two processes that decode the same images at once (the replication's workers)
    each write their own file, and the cache is always whole. A cache that cannot be written is only a
    warning: the images are decoded, the next call decodes them again."""
    tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp.npz")
    try:
        np.savez(tmp, images=batch.images, index=batch.index, errors=json.dumps(batch.errors))
        os.replace(tmp, cache_file)
    except OSError as err:
        warnings.warn(f"{cache_file}: could not write the decoded-image cache ({err}); the images were decoded "
                      "and are used, the next call decodes them again")
    finally:
        tmp.unlink(missing_ok=True)


# --- private details -------------------------------------------------------------------------


def _open(path: str | os.PathLike, draft: int | None = None, max_pixels: int | None = _MAX) -> Image.Image:
    p = Path(path)
    with _errors_named(p), _quiet_bombs():
        if p.stat().st_size == 0:
            raise ImageError(f"{p}: empty file")
        img = Image.open(p)
        _check_pixels(img, p, max_pixels)
        if draft and img.format == "JPEG" and img.mode in ("RGB", "L"):
            img.draft(img.mode, (draft, draft))  # decode big JPEGs at a reduced scale: much faster
        img.load()  # force the decode here, so truncated data fails now
        return img


@contextmanager
def _errors_named(name):
    """Any decoding failure inside becomes an ImageError that names the file and the problem."""
    try:
        yield
    except ImageError:
        raise
    except FileNotFoundError as err:
        raise ImageError(f"{name}: no such file") from err
    except PermissionError as err:
        raise ImageError(f"{name}: cannot read the file (permission denied)") from err
    except Image.DecompressionBombError as err:  # above Pillow's own ceiling
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(f"{name}: image too large: {size}, more than the {2 * (Image.MAX_IMAGE_PIXELS or 0):,} "
                         "a photo may have (Pillow's limit against decompression bombs); shrink it first") from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{name}: not an image file (corrupt or unknown format)") from err
    except MemoryError as err:
        raise ImageError(f"{name}: not enough memory to decode the image") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"{name}: cannot decode image, truncated or corrupt ({err})") from err


@contextmanager
def _quiet_bombs():
    """Pillow warns of any image above ``MAX_IMAGE_PIXELS``; the kit checks sizes itself (``_check_pixels``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _check_pixels(img: Image.Image, name, max_pixels) -> None:
    width, height = img.size
    if isinstance(max_pixels, _ModuleLimit):
        max_pixels = MAX_PIXELS
    if max_pixels is not None and width * height > max_pixels:
        img.close()
        raise ImageError(f"{name}: image too large: {width} x {height} = {width * height:,} pixels, more than "
                         f"the {int(max_pixels):,} a photo may have; shrink it first")


def _draft(img: Image.Image, max_side: int | None) -> None:
    """Ask a JPEG to decode at the smallest reduced scale that keeps ``max_side`` on the long side."""
    if not max_side or img.format != "JPEG" or max(img.size) <= max_side:
        return
    width, height = img.size
    longest = max(width, height)
    img.draft(None, (max(1, -(-width * max_side // longest)), max(1, -(-height * max_side // longest))))


def _shrink(img: Image.Image, max_side: int | None, full: tuple[int, int]) -> Image.Image:
    """``img`` (maybe drafted from a photo of size ``full``) at most ``max_side`` px on its long side."""
    width, height = full
    if not max_side or max(width, height) <= max_side:
        return img
    factor = max_side / max(width, height)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    if img.size == size:
        return img
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("P", "PA"):  # a palette resizes only by nearest neighbour: its colours first
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
