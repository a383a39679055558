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
