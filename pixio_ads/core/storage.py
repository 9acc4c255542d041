"""Object storage: wherever a run takes a path, an fsspec URL works too (``s3://bucket/key``,
``gs://…``, ``file://…``).

Inputs are fetched once into a local cache (``PIXIO_ADS_CACHE``, default
``~/.cache/pixio-ads``): a campaign file comes with its folder, so the images, brand kits and
templates it names by relative path come too. Outputs are written into a local working copy
of the output location (a ``Workspace``) and uploaded from it: each object is uploaded whole
under its final key (an S3, GCS or Azure upload is visible only once complete, so a reader
never sees half a creative), creatives before the rows that name them, the manifest last.
A rerun pulls the location back into its working copy, where resume checks every creative's
sha256 as it does for a local folder.

Credentials and endpoint come the standard way of each filesystem: for S3,
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL / AWS_PROFILE.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pixio_ads.core.errors import PixioError
from pixio_ads.core.fileio import atomic_write_bytes, replace_folder

LOCAL_PROTOCOLS = ("file", "local")
FETCHED = ".pixio-ads-fetched"  # in a cached input folder: the version of the objects it holds
SYNC_STATE = ".pixio-ads-sync.json"  # in a working copy: what each file was when last synced
LAST_KEYS = ("manifest.parquet",)  # uploaded after everything else: its presence means "whole"
ROWS_PREFIX = "shards/"  # rows name creatives: uploaded after them


class StorageError(PixioError):
    """An object-storage location cannot be read or written: which one, why, and the fix."""


def is_remote(location: str | os.PathLike) -> bool:
    """Whether ``location`` is a URL of a filesystem other than this machine's."""
    text = str(location)
    return "://" in text and text.split("://", 1)[0].lower() not in LOCAL_PROTOCOLS


def as_local(location: str | os.PathLike) -> Path:
    """A local location as a path (``file:///x`` -> ``/x``)."""
    text = str(location)
    return Path(text.split("://", 1)[1]) if "://" in text else Path(text)


def filesystem(url: str):
    """The fsspec filesystem of ``url`` and the path inside it."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        protocol = url.split("://", 1)[0]
        raise StorageError(
            f"{url}: no filesystem for {protocol}:// ({exc}); install its fsspec package "
            "(s3fs for s3://, gcsfs for gs://, adlfs for az://)"
        ) from None


def absolute(location: str | os.PathLike) -> str:
    """A URL as it is, a path made absolute (for runs that start in another folder)."""
    return str(location) if is_remote(location) else str(as_local(location).resolve())


def join(location: str, *parts: str) -> str:
    """A key below a location, for URLs and paths alike."""
    if is_remote(location):
        return "/".join([location.rstrip("/"), *parts])
    return str(Path(location, *parts))


def explain(exc: BaseException, url: str, doing: str) -> StorageError:
    """A storage failure as a message naming the location and the fix (never a traceback)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        hint = "check the bucket and key exist (and are spelled as the store has them)"
    elif isinstance(exc, PermissionError) or "AccessDenied" in text or "Forbidden" in text or "credentials" in text:
        hint = "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) may do this"
    elif "connect" in text.lower() or "endpoint" in text.lower():
        hint = "check the store is reachable (AWS_ENDPOINT_URL for an S3-compatible server)"
    else:
        hint = "check the location and the credentials"
    return StorageError(f"{url}: could not {doing} ({text}); {hint}")


def cache_root() -> Path:
    return Path(os.environ.get("PIXIO_ADS_CACHE") or Path.home() / ".cache" / "pixio-ads")


def _url_key(url: str) -> str:
    return hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


def fetch_input(location: str | os.PathLike, with_folder: bool = False) -> Path:
    """A local path for an input: itself when local; else a fresh copy in the cache of the
    object (``with_folder``: of the folder holding it, for the relative paths it names)."""
    if not is_remote(location):
        return as_local(location)
    url = str(location).rstrip("/")
    if with_folder:
        folder_url, name = url.rsplit("/", 1)
        local = fetch_folder(folder_url) / name
    else:
        local = _fetch(url, lambda fs, path, staging: fs.get_file(path, str(staging / PurePosixPath(path).name)))
        local = local / PurePosixPath(url).name
    if not local.exists():
        raise StorageError(f"{url}: no such object; check the bucket and key")
    return local


def fetch_folder(folder_url: str) -> Path:
    """A fresh local copy of every object under ``folder_url``, in the cache."""
    return _fetch(folder_url.rstrip("/"), _download_tree)


def _fetch(url: str, download) -> Path:
    """``download(fs, path, staging)`` into a new cache folder swapped in whole for the old
    one, unless the cached copy is of the same objects (one listing, no download: processes
    sharing the cache do not swap a folder another is reading)."""
    fs, path = filesystem(url)
    target = cache_root() / "inputs" / _url_key(url)
    try:
        version = _version(fs, path)
        if (target / FETCHED).is_file() and (target / FETCHED).read_text() == version:
            return target

        def build(staging: Path) -> None:
            download(fs, path, staging)
            (staging / FETCHED).write_text(version)

        replace_folder(target, build)
    except Exception as exc:  # botocore's connection and credential errors are no OSErrors
        raise explain(exc, url, "read it") from None
    return target


def _version(fs, path: str) -> str:
    """What the objects under ``path`` are now (keys, ETags, sizes), as one digest."""
    found = fs.find(path, detail=True) or {path: fs.info(path)}
    listing = "\n".join(f"{key} {_signature(info)}" for key, info in sorted(found.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def _download_tree(fs, path: str, dest: Path) -> None:
    for key in fs.find(path):
        rel = PurePosixPath(key).relative_to(PurePosixPath(path))
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(dest / rel))


def input_folders(location: str | os.PathLike) -> dict[str, str]:
    """{local folder: URL} of a remote campaign's fetched folder (for workers that fetch it
    into their own cache and re-root the plan's paths); empty for a local campaign."""
    if not is_remote(location):
        return {}
    folder_url = str(location).rstrip("/").rsplit("/", 1)[0]
    return {str(cache_root() / "inputs" / _url_key(folder_url)): folder_url}


@dataclass
class Workspace:
    """A local working copy of an output location: the run reads and writes ``local``;
    ``pull`` brings objects down, ``push`` uploads what changed since (and removes the objects
    whose files the run removed). For a local location ``local`` is the folder itself and
    both do nothing. ``purpose`` keeps apart the copies of one location on one machine (the
    campaign's run, and each shard a worker there renders)."""

    location: str
    local: Path
    remote: bool = False
    # rel -> [object's signature, file's signature] when last synced
    _synced: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def open(cls, location: str | os.PathLike, purpose: str = "run") -> Workspace:
        if not is_remote(location):
            return cls(str(location), as_local(location))
        url = str(location).rstrip("/")
        local = cache_root() / "outputs" / _url_key(url) / purpose
        local.mkdir(parents=True, exist_ok=True)
        workspace = cls(url, local, remote=True)
        workspace._load_state()
        return workspace

    def location_of(self, path: str | os.PathLike) -> str:
        """Where a file of the working copy is (or will be, once pushed) in the location."""
        try:
            rel = Path(path).relative_to(self.local)
        except ValueError:  # outside the working copy (e.g. an export written elsewhere)
            return str(path)
        return join(self.location, rel.as_posix()) if self.remote else str(path)

    def pull(self, keys: list[str] | None = None) -> None:
        """Download these keys (relative to the location; missing ones are skipped), or the
        whole location, where the working copy's file is not the object's content."""
        if not self.remote:
            return
        fs, root = filesystem(self.location)
        try:
            objects = _listing(fs, root) if keys is None else _some(fs, root, keys)
            for rel, info in objects.items():
                target = self.local / rel
                if target.is_file() and self._synced.get(rel) == [_signature(info), _local_signature(target)]:
                    continue
                _download(fs, f"{root}/{rel}", target)
                self._synced[rel] = [_signature(info), _local_signature(target)]
            if keys is None:  # the whole location: the copy becomes what the store has
                self._forget_all_but(objects)
        except Exception as exc:  # botocore's connection and credential errors are no OSErrors
            raise explain(exc, self.location, "download from it") from None
        finally:
            self._save_state()

    def push(self) -> int:
        """Upload every file new or changed since the last sync, creatives first, rows after
        them, the manifest last; then remove objects whose files are gone. Returns the count."""
        if not self.remote:
            return 0
        fs, root = filesystem(self.location)
        present = {rel: _local_signature(self.local / rel) for rel in _local_files(self.local)}
        changed = sorted((rel for rel in present if self._synced.get(rel, ["", ""])[1] != present[rel]), key=_order)
        try:
            for rel in changed:
                fs.put_file(str(self.local / rel), f"{root}/{rel}")
                self._synced[rel] = [_signature(fs.info(f"{root}/{rel}")), present[rel]]
            for rel in [rel for rel in self._synced if rel not in present]:
                fs.rm_file(f"{root}/{rel}")
                del self._synced[rel]
        except Exception as exc:
            raise explain(exc, self.location, "upload to it") from None
        finally:
            self._save_state()
        return len(changed)

    def _forget_all_but(self, objects: dict[str, dict]) -> None:
        """Remove the copy's files the store does not have (e.g. a creative deleted there),
        so they are made again rather than taken as done."""
        for rel in _local_files(self.local):
            if rel not in objects:
                (self.local / rel).unlink(missing_ok=True)
                self._synced.pop(rel, None)

    def _load_state(self) -> None:
        try:
            self._synced = json.loads((self.local / SYNC_STATE).read_text())
        except (OSError, ValueError):
            self._synced = {}

    def _save_state(self) -> None:
        atomic_write_bytes(self.local / SYNC_STATE, json.dumps(self._synced).encode(), fsync=False)


def _download(fs, key: str, target: Path) -> None:
    """Download to a temp file beside ``target``, then rename: never half a file under its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fs.get_file(key, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _listing(fs, root: str) -> dict[str, dict]:
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        if not fs.exists(root.split("/", 1)[0]):
            raise
        return {}
    return {str(PurePosixPath(key).relative_to(PurePosixPath(root))): info for key, info in found.items()}


def _some(fs, root: str, keys: list[str]) -> dict[str, dict]:
    found = {}
    for rel in keys:
        try:
            found[rel] = fs.info(f"{root}/{rel}")
        except FileNotFoundError:
            continue
    return found


def _signature(info: dict) -> str:
    """What identifies an object's content without reading it (ETag, else size and time)."""
    tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("mtime") or ""
    return f"{tag}:{info.get('size')}"


def _local_signature(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _local_files(folder: Path) -> list[str]:
    """Files of a working copy to upload: not its sync state, nor temp files of writes."""
    return [
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name != SYNC_STATE and not path.name.endswith(".tmp")
    ]


def _order(rel: str) -> tuple[int, str]:
    if rel in LAST_KEYS:
        return (3, rel)
    if rel.startswith(ROWS_PREFIX):
        return (2, rel)
    return (0 if rel.startswith("images/") else 1, rel)


@contextmanager
def working_copy(location: str | os.PathLike, keys: list[str] | None = None, purpose: str = "run"):
    """A Workspace pulled (whole, or these keys) for the block and pushed after it, also
    when the block fails: what was finished is kept on the store for a rerun."""
    workspace = Workspace.open(location, purpose)
    workspace.pull(keys)
    try:
        yield workspace
    finally:
        workspace.push()


def remove_local_copy(workspace: Workspace) -> None:
    """Free the disk a remote location's working copy takes (it is pulled again when needed)."""
    if workspace.remote:
        shutil.rmtree(workspace.local, ignore_errors=True)
