from helpers.datasets import index_imdb_wiki, index_utkface
from helpers.images import load_images
from helpers.sample import make_sample


def test_sample_is_in_real_formats(tmp_path):
    root = make_sample(tmp_path / "s", n_utkface=60, n_wiki=60)
    utk = index_utkface(root / "UTKFace")
    rep = utk.attrs["report"]
    assert rep["n_images"] == 60 and rep["missing_labels"]["race"] == 2
    wiki = index_imdb_wiki(root / "wiki_crop")
    wrep = wiki.attrs["report"]
    assert wrep["n_metadata"] == 60 and wrep["excluded"]["image file missing"] == 4
    assert wrep["excluded"]["face_score not finite or < 1.0"] > 0
    assert 0 < len(wiki) < 60
    batch = load_images(utk["path"], 32, progress=False)
    assert batch.images.shape == (60, 32, 32, 3) and not batch.errors
    # a second call does nothing
    stamp = (root / ".complete").stat().st_mtime_ns
    make_sample(tmp_path / "s")
    assert (root / ".complete").stat().st_mtime_ns == stamp


def test_default_source_falls_back_to_sample(tmp_path, monkeypatch):
    import warnings

    import pytest

    from helpers.datasets import default_source

    with pytest.warns(UserWarning, match="OFFLINE SAMPLE"):
        path, is_sample = default_source("utkface", allow_download=False)
    assert is_sample and path.name == "UTKFace" and any(path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wpath, _ = default_source("wiki", allow_download=False)
    assert (wpath / "wiki.mat").is_file()
