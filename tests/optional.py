"""Optional system packages some tests need, declared once. A test says what it needs with
``@pytest.mark.needs("noto")``; conftest.py checks before it runs. Where a package is missing
the test skips, naming it and the command that installs it, so `make test` passes on a fresh
machine; under CI (whose .ci/run runs `make install-system` first) a missing package is a
failure, so CI never goes green by skipping what it is there to check."""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from functools import cache
from typing import Callable

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's; never `playwright install`
# PostgreSQL's initdb: Debian keeps it outside PATH, under the server's version.
INITDB = (sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")])[-1]


@dataclass(frozen=True)
class Package:
    what: str
    install: str  # the Debian command; `make install-system` runs it for every package here
    present: Callable[[], bool]
    required_on_ci: bool = True  # False where `make install-system` itself goes on without it


def _noto() -> bool:
    from pixio_ads.creative.scripts import system_font

    return all(
        system_font(*need) for need in (("han", True, "ja"), ("hangul", True), ("thai", True), ("devanagari", True))
    )


def _emoji_font() -> bool:
    from pixio_ads.creative.emoji import system_emoji_font

    return system_emoji_font() is not None


def _pyicu() -> bool:
    from pixio_ads.creative.linebreak import has_dictionary_breaks

    return has_dictionary_breaks()


PACKAGES = {
    "noto": Package(
        "Noto fonts for CJK, Hangul, Thai and Devanagari", "apt-get install fonts-noto-core fonts-noto-cjk", _noto
    ),
    "emoji-font": Package(
        "a colour emoji font", "apt-get install fonts-noto-color-emoji", _emoji_font, required_on_ci=False
    ),
    "pyicu": Package(
        "PyICU (dictionary line breaks: Thai, Lao, Khmer, Burmese)",
        "apt-get install libicu-dev pkg-config g++, then `make install` again",
        _pyicu,
        required_on_ci=False,
    ),
    "chromium": Package("Chromium", "apt-get install chromium", lambda: CHROMIUM is not None),
    "exiftool": Package("exiftool", "apt-get install libimage-exiftool-perl", lambda: bool(shutil.which("exiftool"))),
    "postgresql": Package("PostgreSQL", "apt-get install postgresql", lambda: INITDB is not None),
}


@cache
def present(name: str) -> bool:
    return PACKAGES[name].present()


def require(name: str) -> None:
    """Skip (or, under CI, fail) the running test when the package ``name`` is missing."""
    if name not in PACKAGES:
        raise ValueError(f"unknown optional package {name!r}: one of {', '.join(PACKAGES)} (tests/optional.py)")
    if present(name):
        return
    package = PACKAGES[name]
    message = f"needs {package.what}: `make install-system` installs it ({package.install})"
    if os.environ.get("CI") and package.required_on_ci:
        pytest.fail(f"{message}; CI runs every test", pytrace=False)
    pytest.skip(message)
