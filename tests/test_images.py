from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.images import ImageError, load_image, load_images, read_rgb, resize_square


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    paths = {}
    paths["rgb"] = tmp_path / "rgb.jpg"
    Image.fromarray(rgb).save(paths["rgb"], quality=95)
    paths["gray"] = tmp_path / "gray.png"
    Image.fromarray(rgb[..., 0]).save(paths["gray"])
    paths["rgba"] = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.zeros((40, 30), np.uint8)])).save(paths["rgba"])  # fully transparent
    paths["cmyk"] = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(paths["cmyk"])
    paths["png16"] = tmp_path / "deep.png"
    Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16)).save(paths["png16"])
    paths["palette"] = tmp_path / "pal.gif"
    Image.fromarray(rgb).convert("P").save(paths["palette"])
    big = tmp_path / "big.jpg"
    Image.fromarray(rgb).save(big)
    paths["truncated"] = tmp_path / "trunc.jpg"
    paths["truncated"].write_bytes(big.read_bytes()[: len(big.read_bytes()) // 2])
    paths["empty"] = tmp_path / "empty.jpg"
    paths["empty"].write_bytes(b"")
    paths["corrupt"] = tmp_path / "corrupt.jpg"
    paths["corrupt"].write_bytes(b"this is not an image at all" * 10)
    paths["missing"] = tmp_path / "nope.jpg"
    return paths


@pytest.mark.parametrize("kind", ["rgb", "gray", "rgba", "cmyk", "png16", "palette"])
def test_modes_become_rgb_uint8(files, kind):
    arr = read_rgb(files[kind])
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3


def test_conversions_keep_meaning(files):
    assert (read_rgb(files["rgba"]) == 255).all()  # transparent pixels land on white
    assert (read_rgb(files["png16"]) == 255).all()  # 16-bit white stays white
    gray = read_rgb(files["gray"])
    assert (gray[..., 0] == gray[..., 1]).all()


@pytest.mark.parametrize("kind,words", [("truncated", "truncated"), ("empty", "empty"), ("corrupt", "not an image"),
                                        ("missing", "no such file")])
def test_bad_files_raise_named_error(files, kind, words):
    with pytest.raises(ImageError) as err:
        read_rgb(files[kind])
    assert str(files[kind]) in str(err.value) and words in str(err.value)


def test_resize_and_load_image(files):
    assert load_image(files["rgb"], 16).shape == (16, 16, 3)
    arr = np.zeros((10, 20, 3), np.uint8)
    assert resize_square(arr, 8, "area").shape == (8, 8, 3)
    with pytest.raises(ValueError, match="resize method"):
        resize_square(arr, 8, "magic")


def test_load_images_skips_bad_and_caches(files):
    order = list(files.values())
    batch = load_images(order, 12, progress=False)
    good = {"rgb", "gray", "rgba", "cmyk", "png16", "palette"}
    assert batch.images.shape == (len(good), 12, 12, 3)
    kept = {k for k, p in files.items() if order.index(p) in set(batch.index.tolist())}
    assert kept == good
    assert set(batch.errors) == {str(files[k]) for k in files if k not in good}
    assert not batch.from_cache
    again = load_images(order, 12, progress=False)
    assert again.from_cache
    np.testing.assert_array_equal(again.images, batch.images)
    assert again.errors == batch.errors
    other = load_images(order, 12, "nearest", progress=False)  # another method: another cache entry
    assert not other.from_cache


# --- photos of any size: decode_photo / read_photo ---------------------------------------------


def _gradient(width, height):
    """A smooth RGB picture (compresses well, so large test files stay small and quick)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return np.dstack([x + 0 * y, y + 0 * x, (x + y) / 2]).astype(np.uint8)


def huge_png_header(path, width=20000, height=20000):
    """A tiny file that says it is a ``width`` x ``height`` PNG (header only): far more pixels than a photo may have."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    return path


def test_large_jpeg_is_drafted_and_shrunk_to_max_side(tmp_path, monkeypatch):
    import helpers.images as images_module
    from helpers.images import decode_photo, read_photo

    path = tmp_path / "big.jpg"
    Image.fromarray(_gradient(3000, 2000)).save(path, quality=90)
    decoded_sizes = []
    real_shrink = images_module._shrink

    def spy(img, max_side, full):  # what the decoder handed over, before the kit's own resize
        decoded_sizes.append(img.size)
        return real_shrink(img, max_side, full)

    monkeypatch.setattr(images_module, "_shrink", spy)
    photo = decode_photo(path, max_side=500)
    assert photo.rgb.shape == (333, 500, 3) and photo.rgb.dtype == np.uint8
    assert (photo.width, photo.height) == (3000, 2000)  # the photo's own size, not the array's
    assert photo.scale == pytest.approx((3000 / 500, 2000 / 333))
    assert photo.name == str(path)
    # Pillow's draft decoded the JPEG at 1/4 scale (750 x 500 still covers 500 px): never at full size
    assert decoded_sizes == [(750, 500)]
    assert read_photo(path, max_side=500).shape == (333, 500, 3)
    # without max_side the photo comes back whole
    full = decode_photo(path)
    assert full.rgb.shape == (2000, 3000, 3) and full.scale == (1.0, 1.0)


def test_large_png_is_shrunk_too(tmp_path):
    from helpers.images import decode_photo

    path = tmp_path / "big.png"
    Image.fromarray(_gradient(1200, 800)).save(path)
    photo = decode_photo(path, max_side=300)
    assert photo.rgb.shape == (200, 300, 3) and (photo.width, photo.height) == (1200, 800)
    assert photo.scale == pytest.approx((4.0, 4.0))
    small = decode_photo(path, max_side=5000)  # already small enough: untouched
    assert small.rgb.shape == (800, 1200, 3)


def test_exif_orientation_6_swaps_width_and_height(tmp_path):
    from helpers.images import decode_photo

    path = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer turns it 90 degrees clockwise
    Image.fromarray(_gradient(1500, 1000)).save(path, exif=exif)
    photo = decode_photo(path)
    assert photo.rgb.shape == (1500, 1000, 3) and (photo.width, photo.height) == (1000, 1500)
    small = decode_photo(path, max_side=300)  # drafted and shrunk, then turned
    assert small.rgb.shape == (300, 200, 3) and (small.width, small.height) == (1000, 1500)
    assert small.scale == pytest.approx((5.0, 5.0))


@pytest.mark.parametrize("reader", ["read_photo", "decode_photo", "read_rgb"])
def test_pixel_limit_names_the_file_and_its_size(tmp_path, reader):
    import helpers.images as images_module

    path = tmp_path / "hundred.png"
    Image.fromarray(_gradient(100, 100)).save(path)
    with pytest.raises(ImageError) as err:
        getattr(images_module, reader)(path, max_pixels=1000)
    message = str(err.value)
    assert str(path) in message and "100 x 100" in message and "10,000 pixels" in message and "1,000" in message
    at_the_limit = getattr(images_module, reader)(path, max_pixels=10_000)  # exactly the limit: fine
    assert np.asarray(getattr(at_the_limit, "rgb", at_the_limit)).shape == (100, 100, 3)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    from helpers.images import decode_photo

    path = tmp_path / "cut.png"
    Image.fromarray(_gradient(100, 100)).save(path)
    path.write_bytes(path.read_bytes()[:200])  # the header survives, the pixels do not
    with pytest.raises(ImageError, match="too large"):
        decode_photo(path, max_pixels=1000)
    with pytest.raises(ImageError, match="truncated"):
        decode_photo(path)
    with pytest.raises(ImageError, match="uploaded file.*100 x 100"):
        decode_photo(path.read_bytes(), max_pixels=1000)


def test_default_pixel_limit_is_at_least_pillows():
    from helpers.images import MAX_PIXELS

    assert MAX_PIXELS >= (Image.MAX_IMAGE_PIXELS or 0) > 0


def test_too_large_files_are_reported_by_name_and_the_rest_go_on(tmp_path, files):
    huge = huge_png_header(tmp_path / "huge.png")  # says 20000 x 20000: 400 million pixels
    with pytest.raises(ImageError) as err:
        read_rgb(huge)
    assert str(huge) in str(err.value) and "too large" in str(err.value)
    batch = load_images([files["rgb"], huge, files["gray"]], 12, progress=False, cache=False)
    assert batch.images.shape == (2, 12, 12, 3) and batch.index.tolist() == [0, 2]
    assert list(batch.errors) == [str(huge)] and "too large" in batch.errors[str(huge)]


def test_changing_the_module_limit_changes_every_reader(tmp_path, monkeypatch):
    import helpers.images as images_module

    path = tmp_path / "hundred.png"
    Image.fromarray(_gradient(100, 100)).save(path)
    monkeypatch.setattr(images_module, "MAX_PIXELS", 5_000)
    for reader in ("read_photo", "decode_photo", "read_rgb"):
        with pytest.raises(ImageError, match="more than the 5,000"):
            getattr(images_module, reader)(path)
    assert images_module.read_photo(path, max_pixels=None).shape == (100, 100, 3)  # None: no limit of the kit's


def test_two_writers_of_one_cache_both_succeed_and_leave_it_whole(files, monkeypatch):
    """The replication's two workers can decode the same images at once: while one writes the cache,
    the other finishes writing it. Neither may fail, and no temporary file may be left behind."""
    import helpers.images as images_module

    order = [files["rgb"], files["gray"]]
    real_savez, calls = np.savez, []

    def savez_while_another_writes(path, **arrays):
        calls.append(path)
        if len(calls) == 1:  # the other worker writes and renames its copy in the middle of ours
            assert images_module.load_images(order, 10, progress=False).images.shape == (2, 10, 10, 3)
        real_savez(path, **arrays)

    monkeypatch.setattr(images_module.np, "savez", savez_while_another_writes)
    batch = images_module.load_images(order, 10, progress=False)
    assert len(calls) == 2 and calls[0] != calls[1]  # each writer had its own temporary file
    monkeypatch.setattr(images_module.np, "savez", real_savez)
    again = images_module.load_images(order, 10, progress=False)
    assert again.from_cache
    np.testing.assert_array_equal(again.images, batch.images)
    assert not list(Path(str(calls[0])).parent.glob("*.tmp.npz"))


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(files, monkeypatch):
    import helpers.images as images_module

    def full_disk(path, **arrays):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images_module.np, "savez", full_disk)
    with pytest.warns(UserWarning, match="could not write the decoded-image cache.*No space left"):
        batch = images_module.load_images([files["rgb"]], 9, progress=False)
    assert batch.images.shape == (1, 9, 9, 3)
