import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from helpers.fetch import REGISTRY, FetchError, download, fetch, safe_extract, sha256_of

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; the first request of a 'cut' server stops halfway."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append(self.headers.get("Range"))
        if self.path == "/page":
            body = b"<html>confirm</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and server.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_next:
            server.cut_next = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests, srv.cut_next, srv.ranges = [], False, True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv, path="/file.bin"):
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_download_whole_with_checksum(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    out = download(_url(server), tmp_path / "f.bin", sha256=digest, progress=False)
    assert out.read_bytes() == PAYLOAD
    # already there: no new request
    n = len(server.requests)
    download(_url(server), tmp_path / "f.bin", sha256=digest, progress=False)
    assert len(server.requests) == n


def test_download_cut_off_halfway_then_resumes(server, tmp_path):
    server.cut_next = True
    dest = tmp_path / "f.bin"
    with pytest.raises(FetchError, match="resume"):
        download(_url(server), dest, progress=False)
    part = tmp_path / "f.bin.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(PAYLOAD)
    have = part.stat().st_size
    download(_url(server), dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1] == f"bytes={have}-"


def test_server_ignoring_range_restarts(server, tmp_path):
    server.ranges = False
    (tmp_path / "f.bin.part").write_bytes(b"garbage")
    download(_url(server), tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_checksum_and_size_mismatch(server, tmp_path):
    with pytest.raises(FetchError, match="sha256"):
        download(_url(server), tmp_path / "a.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()
    with pytest.raises(FetchError, match="bytes"):
        download(_url(server), tmp_path / "b.bin", size=len(PAYLOAD) + 5, progress=False)


def test_html_page_and_unreachable(server, tmp_path):
    with pytest.raises(FetchError, match="web page"):
        download(_url(server, "/page"), tmp_path / "c.tar", progress=False)
    with pytest.raises(FetchError, match="cannot connect"):
        download("http://127.0.0.1:9/none", tmp_path / "d.tar", timeout=2, progress=False)


def _tar_with(tmp_path, add):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        add(tar)
    return path


def _file_member(tar, name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_safe_extract_refuses_escapes(tmp_path, name):
    archive = _tar_with(tmp_path, lambda tar: _file_member(tar, name))
    with pytest.raises(FetchError, match="outside"):
        safe_extract(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()
    assert not list(tmp_path.glob(".out-*"))  # no half-written temporary folder left


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_safe_extract_refuses_links(tmp_path, kind):
    def add(tar):
        _file_member(tar, "a/real.txt")
        link = tarfile.TarInfo("a/link")
        link.type, link.linkname = kind, "a/real.txt"
        tar.addfile(link)

    with pytest.raises(FetchError, match="link"):
        safe_extract(_tar_with(tmp_path, add), tmp_path / "out", progress=False)


def test_safe_extract_zip_and_idempotent(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/one.txt", "1")
    out = safe_extract(good, tmp_path / "out", progress=False)
    assert (out / "d" / "one.txt").read_text() == "1"
    (out / "d" / "one.txt").write_text("changed")
    safe_extract(good, tmp_path / "out", progress=False)  # already done: untouched
    assert (out / "d" / "one.txt").read_text() == "changed"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../up.txt", "x")
    with pytest.raises(FetchError, match="outside"):
        safe_extract(evil, tmp_path / "out2", progress=False)


def test_corrupt_archive_is_named(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b broken")
    with pytest.raises(FetchError, match="bad.tar.gz"):
        safe_extract(bad, tmp_path / "out", progress=False)


def _utk_archive(folder: Path) -> Path:
    folder.mkdir(parents=True)
    archive = folder / "UTKFace.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        _file_member(tar, "UTKFace/30_0_0_1.jpg.chip.jpg", b"jpeg")
    return archive


def test_fetch_from_mirror_then_does_nothing(tmp_path, monkeypatch):
    archive = _utk_archive(tmp_path / "mirror" / "utkface")
    monkeypatch.setenv("AGEKIT_MIRROR", str(tmp_path / "mirror"))
    root = fetch("utkface", progress=False)
    assert (root / "UTKFace" / "30_0_0_1.jpg.chip.jpg").is_file()
    archive.unlink()  # the work is done: the archive is not needed again
    assert fetch("utkface", progress=False) == root


def test_fetch_mirror_argument_checksum(tmp_path):
    archive = _utk_archive(tmp_path / "m")
    with pytest.raises(FetchError, match="sha256"):
        fetch("utkface", mirror=tmp_path / "m", sha256="1" * 64, progress=False)
    root = fetch("utkface", mirror=tmp_path / "m", sha256=sha256_of(archive), progress=False)
    assert root.is_dir()


def test_fetch_mirror_without_archive_and_unknown(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError, match="holds none"):
        fetch("wiki", mirror=tmp_path / "empty", progress=False)
    with pytest.raises(FetchError, match="unknown dataset"):
        fetch("celeba", progress=False)


def test_fetch_over_http(server, tmp_path):
    src = _utk_archive(tmp_path / "srv")
    data = src.read_bytes()
    global PAYLOAD
    old, PAYLOAD = PAYLOAD, data
    try:
        root = fetch("utkface", url=_url(server), dest=tmp_path / "utk", progress=False)
    finally:
        PAYLOAD = old
    assert (root / "UTKFace" / "30_0_0_1.jpg.chip.jpg").read_bytes() == b"jpeg"
    assert (tmp_path / "downloads" / "UTKFace.tar.gz").is_file()


def test_registry_defaults_are_public_urls():
    for entry in REGISTRY.values():
        assert entry.url.startswith("https://")
        assert entry.filenames


def test_located_source_finds_a_moved_runs_data_in_the_kits_copy(tmp_path, monkeypatch):
    from helpers.datasets import located_source
    from helpers.paths import data_dir, sample_dir

    here = tmp_path / "faces"
    here.mkdir()
    assert located_source("utkface", here) == str(here)  # where it still is, nothing changes
    gone = tmp_path / "another-clone" / "data" / "utkface"
    # real data is never replaced by the sample: without a copy of its own the kit says what to do
    with pytest.raises(FileNotFoundError, match="another-clone.*no copy of it here.*helpers fetch utkface"):
        located_source("utkface", gone)
    assert not sample_dir().exists()
    _utk_archive(tmp_path / "mirror" / "utkface")
    monkeypatch.setenv("AGEKIT_MIRROR", str(tmp_path / "mirror"))
    found = Path(located_source("utkface", gone))
    assert found == data_dir() / "utkface" and (found / "UTKFace" / "30_0_0_1.jpg.chip.jpg").is_file()
    # a run that trained on the offline sample finds the sample, drawn again here
    moved_sample = tmp_path / "another-clone" / "data" / "sample" / "UTKFace"
    assert Path(located_source("utkface", moved_sample)) == sample_dir() / "UTKFace"
    assert any((sample_dir() / "UTKFace").iterdir())


def test_located_source_never_downloads_nor_swaps_real_data_for_the_sample(tmp_path, monkeypatch):
    import importlib

    from helpers.datasets import located_source
    from helpers.paths import sample_dir

    def no_download(*args, **kwargs):
        raise AssertionError("located_source must not download")

    monkeypatch.setattr(importlib.import_module("helpers.fetch"), "download", no_download)
    elsewhere = tmp_path / "another-clone" / "data" / "sample"
    # the run's own record decides: real data at a path that looks like the sample is not replaced by it
    with pytest.raises(FileNotFoundError, match="no earlier fetch in"):
        located_source("utkface", elsewhere / "UTKFace", is_sample=False)
    assert not sample_dir().exists()
    # a sample run finds the sample whatever its recorded path, and so does a path into the sample's folder
    assert Path(located_source("utkface", tmp_path / "gone", is_sample=True)) == sample_dir() / "UTKFace"
    assert Path(located_source("wiki", elsewhere / "wiki_crop" / "wiki.mat")) == sample_dir() / "wiki_crop"
    assert Path(located_source("imdb", elsewhere / "wiki_crop")) == sample_dir() / "wiki_crop"  # default_source's
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "faces").mkdir()
    assert located_source("utkface", "~/faces") == str(tmp_path / "faces")
    with pytest.raises(ValueError, match="recorded no data folder"):
        located_source("utkface", None)
