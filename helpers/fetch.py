"""Download, verify and safely extract the official dataset archives.

One registry names each dataset's archive, public URL and (where known) checksum.
A local mirror folder (``$AGEKIT_MIRROR`` or the ``mirror`` argument) replaces the URL:
that is how CI and the tests reach the data without a network.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .paths import data_dir, mirror_dir


@dataclass(frozen=True)
class Archive:
    """One dataset archive: accepted file names (the official first), public URL, checksum."""

    dataset: str
    filenames: tuple[str, ...]
    url: str
    sha256: str | None = None
    size: int | None = None
    note: str = ""


REGISTRY: dict[str, Archive] = {
    "utkface": Archive(
        "utkface",
        ("UTKFace.tar.gz",),
        "https://drive.google.com/uc?export=download&id=0BxYys69jI14kYVM3aVhKS1VhRUk",
        note="UTKFace 'Aligned & Cropped Faces' (https://susanqq.github.io/UTKFace/). Google Drive may "
        "answer with a confirmation page; then download UTKFace.tar.gz by hand into a folder and "
        "point AGEKIT_MIRROR at it.",
    ),
    "wiki": Archive(
        "wiki",
        ("wiki_crop.tar", "wiki_crop.tar.gz"),
        "https://data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki/static/wiki_crop.tar",
        note="IMDB-WIKI, Wikipedia part, faces only (about 0.8 GB).",
    ),
    "imdb": Archive(
        "imdb",
        ("imdb_crop.tar", "imdb_crop.tar.gz"),
        "https://data.vision.ee.ethz.ch/cvl/rrothe/imdb-wiki/static/imdb_crop.tar",
        note="IMDB-WIKI, IMDb part, faces only (about 7 GB).",
    ),
}


class FetchError(RuntimeError):
    """A download, checksum or extraction problem; the message names the file."""


def fetch(
    dataset: str,
    *,
    mirror: str | os.PathLike | None = None,
    url: str | None = None,
    sha256: str | None = None,
    dest: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Make ``dataset`` available and return the folder it was extracted into.

    Order: an earlier extraction into the destination folder (then it does nothing), else the
    mirror folder (argument, else ``$AGEKIT_MIRROR``), else a download from the registry URL (or
    ``url``), resuming a partial download.
    """
    if dataset not in REGISTRY:
        raise FetchError(f"unknown dataset {dataset!r}; known: {', '.join(REGISTRY)}")
    entry = REGISTRY[dataset]
    root = Path(dest) if dest else data_dir() / dataset
    if _is_complete(root):
        return root
    mirror_path = Path(mirror) if mirror else mirror_dir()
    archive = find_in_mirror(entry, mirror_path) if mirror_path else None
    if archive is None:
        if mirror_path is not None and url is None:
            raise FetchError(
                f"mirror folder {mirror_path} holds none of {', '.join(entry.filenames)} for {dataset!r}"
            )
        archive = root.parent / "downloads" / entry.filenames[0]
        download(url or entry.url, archive, sha256=sha256 or entry.sha256, size=entry.size, progress=progress)
    elif sha256 or entry.sha256:
        verify_sha256(archive, sha256 or entry.sha256)
    return safe_extract(archive, root, progress=progress)


def find_in_mirror(entry: Archive, mirror: Path) -> Path | None:
    """The first archive of ``entry`` found in ``mirror`` or one folder below it, else None."""
    if not mirror.is_dir():
        raise FetchError(f"mirror folder {mirror} does not exist")
    for name in entry.filenames:
        hits = [mirror / name, *sorted(mirror.glob(f"*/{name}"))]
        for hit in hits:
            if hit.is_file():
                return hit
    return None


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` with a progress bar, resuming ``dest.part`` if present.

    Checks the size (expected or announced by the server) and the sha256 when given.
    Returns at once when ``dest`` already exists (and its checksum matches).
    """
    dest = Path(dest)
    if dest.is_file():
        if sha256:
            verify_sha256(dest, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "mtl-age-kit"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the part file is already whole
            response = None
        else:
            raise FetchError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise FetchError(f"{url}: cannot connect ({err}); set AGEKIT_MIRROR to a folder of archives") from err

    if response is not None:
        with response:
            if "text/html" in (response.headers.get("Content-Type") or ""):
                raise FetchError(
                    f"{url}: the server sent a web page, not an archive; download {dest.name} by hand "
                    f"and point AGEKIT_MIRROR at its folder"
                )
            if response.status == 206:
                total = have + int(response.headers.get("Content-Length", 0))
                mode = "ab"
            else:  # the server ignored the range: start again
                have, mode = 0, "wb"
                total = int(response.headers.get("Content-Length", 0))
            total = size or total or None
            with open(part, mode) as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                try:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        bar.update(len(chunk))
                except (OSError, ValueError) as err:
                    raise FetchError(
                        f"{url}: transfer cut off after {part.stat().st_size} bytes ({err}); run again to resume"
                    ) from err
    got = part.stat().st_size
    expected = size or (total if response is not None else None)
    if expected and got != expected:
        raise FetchError(f"{dest.name}: got {got} bytes of {expected}; run again to resume")
    if sha256:
        try:
            verify_sha256(part, sha256)
        except FetchError:
            part.unlink()
            raise
    part.rename(dest)
    return dest


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise FetchError when the sha256 of ``path`` differs from ``expected``."""
    digest = sha256_of(path)
    if digest != expected.lower():
        raise FetchError(f"{path}: sha256 {digest} does not match the expected {expected}")


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, *, progress: bool = True) -> Path:
    """Extract a .tar, .tar.gz or .zip archive into ``dest`` and return ``dest``.

    Refuses links, devices and members that would land outside ``dest``. Extracts into a
    temporary folder first, so an interrupted extraction leaves nothing half-written.
    Does nothing when ``dest`` already holds a completed extraction.
    """
    archive, dest = Path(archive), Path(dest)
    if _is_complete(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp, progress)
        else:
            _extract_tar(archive, tmp, progress)
        (tmp / ".complete").write_text(json.dumps({"archive": archive.name, "size": archive.stat().st_size}))
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def extracted_copy(archive: str | os.PathLike, *, progress: bool = True) -> Path:
    """Extract ``archive`` once into ``<data>/extracted/`` (keyed by its path, size and time)."""
    archive = Path(archive).resolve()
    if not archive.is_file():
        raise FetchError(f"{archive}: no such archive")
    stat = archive.stat()
    key = hashlib.sha1(f"{archive}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    stem = archive.name.split(".")[0]
    return safe_extract(archive, data_dir() / "extracted" / f"{stem}-{key}", progress=progress)


# --- private details -------------------------------------------------------------------------


def _is_complete(folder: Path) -> bool:
    return (folder / ".complete").is_file()


def _check_member_name(archive: Path, name: str, dest: Path) -> Path:
    target = (dest / name).resolve()
    if os.path.isabs(name) or not target.is_relative_to(dest.resolve()):
        raise FetchError(f"{archive}: member {name!r} would land outside {dest}; refusing to extract")
    return target


def _extract_tar(archive: Path, dest: Path, progress: bool) -> None:
    try:
        tar = tarfile.open(archive)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise FetchError(f"{archive}: not a readable tar archive ({err})") from err
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise FetchError(f"{archive}: damaged archive ({err})") from err
        for member in members:
            _check_member_name(archive, member.name, dest)
            if member.issym() or member.islnk():
                raise FetchError(f"{archive}: member {member.name!r} is a link; refusing to extract")
            if not (member.isfile() or member.isdir()):
                raise FetchError(f"{archive}: member {member.name!r} is not a plain file; refusing to extract")
        try:
            for member in tqdm(members, desc=f"extract {archive.name}", unit="file", disable=not progress):
                tar.extract(member, dest, filter="data")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise FetchError(f"{archive}: damaged archive ({err})") from err


def _extract_zip(archive: Path, dest: Path, progress: bool) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_member_name(archive, info.filename, dest)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise FetchError(f"{archive}: member {info.filename!r} is a link; refusing to extract")
        for info in tqdm(infos, desc=f"extract {archive.name}", unit="file", disable=not progress):
            zf.extract(info, dest)
