import json
import re
import subprocess
import sys
import tarfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.datasets import (ages_from_datenum, index_dataset, index_imdb_wiki, index_utkface, label_arrays,
                              parse_utkface_name, read_imdb_wiki_mat)
from helpers.fetch import FetchError
from helpers.report import data_report
from helpers.sample import write_imdb_wiki_mat


def _jpg(path: Path, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (120, 80, 60)).save(path)


def test_parse_utkface_names():
    assert parse_utkface_name("26_0_1_20170117195838909.jpg.chip.jpg") == (26, 0, 1)
    assert parse_utkface_name("39_1_20170116174525125.jpg.chip.jpg") == (39, 1, None)  # race absent
    assert parse_utkface_name("x_1_2_2017.jpg") == (None, 1, 2)
    assert parse_utkface_name("30_7_2_2017.jpg") == (30, None, 2)  # gender out of range
    assert parse_utkface_name("30_1_9_2017.jpg") == (30, 1, None)  # race out of range
    assert parse_utkface_name("garbage.jpg") == (None, None, None)


def test_index_utkface_folder_counts_missing(tmp_path):
    names = ["26_0_1_20170117195838909.jpg.chip.jpg", "61_1_20170109142408075.jpg.chip.jpg",
             "5_1_4_20170103.jpg.chip.jpg", "oops.jpg"]
    for n in names:
        _jpg(tmp_path / "UTKFace" / n)
    (tmp_path / "UTKFace" / "notes.txt").write_text("not an image")
    df = index_utkface(tmp_path)
    rep = df.attrs["report"]
    assert rep["n_images"] == 4 and rep["n_kept"] == 3
    assert rep["excluded"] == {"age missing from name": 1}
    assert rep["missing_labels"]["race"] == 2  # the race-less name and the garbage name
    row = df[df["path"].str.contains("61_1_")].iloc[0]
    assert row["age"] == 61 and row["gender"] == 1 and row["race"] is pd_na()
    labels = label_arrays(df)
    assert sorted(labels["race"].tolist()) == [-1, 1, 4]


def pd_na():
    import pandas as pd
    return pd.NA


def test_index_utkface_from_archive(tmp_path):
    src = tmp_path / "src" / "UTKFace"
    for n in ["20_0_0_1.jpg.chip.jpg", "70_1_3_2.jpg.chip.jpg"]:
        _jpg(src / n)
    archive = tmp_path / "UTKFace.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="UTKFace")
    df = index_utkface(archive)
    assert sorted(df["age"].tolist()) == [20, 70]
    assert all(Path(p).is_file() for p in df["path"])
    again = index_utkface(archive)  # second call reuses the extraction
    assert again["path"].tolist() == df["path"].tolist()


def test_missing_source_is_clear(tmp_path):
    with pytest.raises(FetchError, match="nowhere"):
        index_utkface(tmp_path / "nowhere")


def test_ages_from_datenum_july_rule():
    def datenum(d):
        return d.toordinal() + 366

    dob = np.array([datenum(date(1980, 6, 30)), datenum(date(1980, 7, 1)), datenum(date(1980, 12, 31)), 0, np.nan])
    ages = ages_from_datenum(dob, np.array([2010, 2010, 2010, 2010, 2010]))
    assert ages[:3].tolist() == [30, 29, 29]
    assert np.isnan(ages[3]) and np.isnan(ages[4])


def _wiki_rows():
    def row(i, born, taken, gender, score, second):
        return {"dob": born.toordinal() + 366, "photo_taken": taken, "full_path": f"{i:02d}/{i}_x_{taken}.jpg",
                "gender": gender, "name": f"P{i}", "face_location": [1, 2, 3, 4],
                "face_score": score, "second_face_score": second}

    return [
        row(0, date(1950, 3, 1), 2000, 1.0, 3.0, np.nan),       # kept, 50, male
        row(1, date(1950, 8, 1), 2000, 0.0, 2.0, np.nan),       # kept, 49, female
        row(2, date(1950, 1, 1), 2000, 1.0, -np.inf, np.nan),   # no face
        row(3, date(1950, 1, 1), 2000, 1.0, 0.5, np.nan),       # face score too low
        row(4, date(1950, 1, 1), 2000, 1.0, 4.0, 1.5),          # second face
        row(5, date(1850, 1, 1), 2000, 1.0, 4.0, np.nan),       # age 150
        row(6, date(1950, 1, 1), 2000, np.nan, 4.0, np.nan),    # gender unknown
        row(7, date(1950, 1, 1), 2000, 1.0, 4.0, np.nan),       # image file missing
    ]


@pytest.fixture
def wiki_folder(tmp_path):
    rows = _wiki_rows()
    root = tmp_path / "wiki_crop"
    write_imdb_wiki_mat(root / "wiki.mat", rows, key="wiki")
    for r in rows[:-1]:
        _jpg(root / r["full_path"])
    return root


def test_read_mat_in_real_layout(wiki_folder):
    meta = read_imdb_wiki_mat(wiki_folder / "wiki.mat")
    assert len(meta) == 8
    assert meta["full_path"][0] == "00/0_x_2000.jpg"
    assert meta["age"].tolist()[:2] == [50, 49]
    assert meta["gender"].tolist()[:2] == [0, 1]  # wiki 1 = male -> kit 0
    assert meta["gender"].isna().sum() == 1
    assert np.isneginf(meta["face_score"][2])


def test_wiki_filters_each_counted(wiki_folder):
    df = index_imdb_wiki(wiki_folder)
    rep = df.attrs["report"]
    assert rep["n_metadata"] == 8 and rep["n_images"] == 7 and rep["n_kept"] == 2
    assert list(rep["excluded"].values()) == [1, 2, 1, 1, 1]
    assert sorted(df["age"].tolist()) == [49, 50]
    assert df["race"].isna().all() and (df["source"] == "wiki").all()


def test_wiki_filters_are_parameters(wiki_folder):
    df = index_imdb_wiki(wiki_folder, min_face_score=None, single_face=False, age_range=None,
                         require_gender=False)
    assert len(df) == 7
    df = index_imdb_wiki(wiki_folder, min_face_score=2.5)
    assert df["age"].tolist() == [50]


def test_imdb_mat(tmp_path):
    rows = _wiki_rows()[:2]
    for r in rows:
        r["celeb_id"] = 3
    root = tmp_path / "imdb_crop"
    write_imdb_wiki_mat(root / "imdb.mat", rows, key="imdb")
    for r in rows:
        _jpg(root / r["full_path"])
    df = index_dataset("imdb", root)
    assert len(df) == 2 and (df["source"] == "imdb").all()


def test_bad_mat_is_named(tmp_path):
    bad = tmp_path / "wiki.mat"
    bad.write_bytes(b"not matlab at all")
    with pytest.raises(FetchError, match="wiki.mat"):
        read_imdb_wiki_mat(bad)


def test_real_utkface_report(shared_datasets):
    archive = shared_datasets / "utkface" / "UTKFace.tar.gz"
    out = subprocess.run([sys.executable, "-m", "helpers", "data", "--dataset", "utkface", "--source", str(archive),
                          "--json"], capture_output=True, text=True, check=True)
    rep = json.loads(out.stdout)
    with tarfile.open(archive) as tar:
        names = [Path(m.name).name for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")]
    assert rep["n_images"] == len(names) == 21352
    assert rep["missing_labels"]["race"] == 3 and rep["race"]["missing"] == 3
    ages = [int(n.split("_")[0]) for n in names]
    for k, edges in {"3": [1, 27, 53, 81], "10": list(range(1, 82, 8))}.items():
        expected = [sum(lo <= a < hi for a in ages) for lo, hi in zip(edges, edges[1:])]
        assert rep["groups"][k] == expected


def test_real_wiki_report(shared_datasets):
    archive = shared_datasets / "imdb-wiki" / "wiki_crop.tar.gz"
    df = index_imdb_wiki(archive)
    rep = data_report(df)
    assert rep["n_metadata"] == 62328
    assert rep["n_images"] > 40000
    with tarfile.open(archive) as tar:
        on_disk = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")}
    assert rep["n_images"] == len(on_disk)
    meta = read_imdb_wiki_mat(Path(df["path"].iloc[0]).parents[1] / "wiki.mat")
    assert rep["excluded"]["image file missing"] == int((~meta["full_path"].isin(on_disk)).sum()) > 0
    assert sum(rep["excluded"].values()) + rep["n_kept"] == 62328
    assert re.match(r"^face_score", list(rep["excluded"])[1])
