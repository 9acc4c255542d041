"""The files a campaign row names: product and source images, masks, brand kits. Each is
found relative to the campaign's folder (a product image may also be an http(s) URL, as a
catalogue feed's image_link: core/fetch.py fetches it safely into the cache; or on object
storage, s3://..., copied into the cache by core/storage.py), decoded once and
hashed, or reported with the row and column that named it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PureWindowsPath

from pixio_ads.core import images
from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.core.fetch import FetchError, fetch, is_web_url
from pixio_ads.core.fileio import sha256_file
from pixio_ads.core.storage import StorageError, fetch_input, is_remote
from pixio_ads.core.verdicts import MISSING, recall, remember
from pixio_ads.creative.brand import BRAND_SUFFIXES, BrandKit, load_brand_kit
from pixio_ads.creative.cutout import cutout_problem

OBJECT_STORES = ("s3", "gs", "gcs", "az", "abfs", "memory")  # fsspec's (memory: tests)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(www\.)")


@lru_cache(maxsize=256)
def image_size(path: Path) -> tuple[int, int]:
    """Upright size, as the pipeline will see it (EXIF orientation applied); decoded once per
    file, however many rows share the source or the mask."""
    return images.open_image(path).size


@lru_cache(maxsize=256)
def cutout_problem_of(path: Path, sha256: str) -> str | None:
    """Why the automatic cut-out of this product shot would keep only a fragment of it
    (cutout.cutout_problem), once per file version (kept for later runs: verdicts.py); None
    when it would not."""
    found = recall(sha256, "cutout_problem")
    if found is MISSING:
        found = cutout_problem(images.open_image(path))
        remember(sha256, "cutout_problem", found)
    return found  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ImageProblem:  # also used for brand kit paths
    message: str
    fix: str


class ImageChecker:
    """Checks product image paths once per distinct value (50,000 rows often share a few images)."""

    def __init__(self, file: str, folder: Path):
        self.file = file
        self.folder = folder
        self.cache: dict[str, tuple[Path, str] | ImageProblem] = {}
        self.notes: list[str] = []  # warnings: what is used of a file, once per file

    def check(self, relative: str) -> tuple[Path, str] | ImageProblem:
        """(resolved path, sha256) when the image is usable."""
        if relative not in self.cache:
            self.cache[relative] = self._check(relative)
        return self.cache[relative]

    def _check(self, relative: str) -> tuple[Path, str] | ImageProblem:
        found = self._remote(relative) if is_remote(relative) else None
        path, sha256 = found if isinstance(found, tuple) else (found, None)
        if path is None:
            path = locate(self.folder, relative, "image", "products/bottle.png")
        if isinstance(path, ImageProblem):
            return path
        sha256 = sha256 or sha256_file(path)
        frames = recall(sha256, "frames")  # decoded whole by an earlier run (verdicts.py)
        if frames is MISSING:
            try:
                frames = images.inspect(path).frames
            except images.ImageProblem as exc:
                return ImageProblem(f"{exc.message} ({relative})", exc.fix)
            remember(sha256, "frames", frames)
        if frames > 1:
            self.notes.append(f"{self.file}: {relative} has {frames} frames or pages; the first is used")
        return (path, sha256)

    @staticmethod
    def _remote(url: str) -> tuple[Path, str | None] | ImageProblem | None:
        """(local copy, its sha256 when known) of a product image at a URL, as a catalogue's
        image_link names it: over http(s) fetched safely into the cache (fetch.py), on object
        storage copied into it (storage.py); None for another scheme (locate refuses it)."""
        try:
            if is_web_url(url):
                fetched = fetch(url)
                return fetched.path, fetched.sha256
            if url.split("://", 1)[0].lower() in OBJECT_STORES:
                return fetch_input(url), None
        except FetchError as exc:
            return ImageProblem(exc.message, exc.fix)
        except StorageError as exc:
            return ImageProblem(str(exc), "check the image's location and the store's credentials")
        return None


def locate(folder: Path, relative: str, what: str, example: str) -> Path | ImageProblem:
    """A file named relative to the campaign folder, which it may not leave."""
    if _URL.match(relative):
        return ImageProblem(
            f"{what} must be a file beside the campaign, not a URL",
            "download it into the campaign folder and give its relative path",
        )
    if Path(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or PureWindowsPath(relative).drive:
        return ImageProblem(
            f"{what} path is absolute", f"give the path relative to the campaign file's folder, e.g. {example}"
        )
    try:
        path = (folder / relative).resolve()
        inside, exists = path.is_relative_to(folder), path.is_file()
    except (OSError, ValueError) as exc:  # a name too long for the file system, an embedded NUL
        return ImageProblem(
            f"{what} path cannot be used ({exc.__class__.__name__}: {exc})",
            f"give a shorter, plain relative path, e.g. {example}",
        )
    if not inside:
        return ImageProblem(
            f"{what} path leaves the campaign folder",
            f"move the {what} inside the campaign folder and use a relative path without '..'",
        )
    if not exists:
        return ImageProblem(f"{what} file not found", f"put the {what} at {path} or correct the path")
    return path


class BrandKits:
    """Loads each brand kit named in the campaign once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cache: dict[str, BrandKit | list[Issue] | ImageProblem] = {}

    def load(self, relative: str) -> BrandKit | list[Issue] | ImageProblem:
        if relative not in self.cache:
            path = locate(self.folder, relative, "brand kit", "brand.yaml")
            if isinstance(path, ImageProblem):
                self.cache[relative] = path
            elif path.suffix.lower() not in BRAND_SUFFIXES:
                self.cache[relative] = ImageProblem(
                    "brand kit must be a .yaml, .yml or .json file", "point the column at the brand kit file"
                )
            else:
                try:
                    self.cache[relative] = load_brand_kit(path)
                except ValidationError as exc:
                    self.cache[relative] = exc.issues
        return self.cache[relative]
