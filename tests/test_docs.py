"""The reference pages generated from code (docs/generate.py) are current, and the README
and docs link to each other."""

from __future__ import annotations

import re
import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "docs"))
import generate  # noqa: E402


@pytest.mark.parametrize("page", list(generate.PAGES))
def test_generated_page_is_current(page):
    written = (REPO / "docs" / page).read_text(encoding="utf-8")
    assert written == generate.PAGES[page](), f"docs/{page} is stale: run `make docs` and commit it"


def test_every_column_and_command_is_documented():
    from pixio_ads.campaign.columns import COLUMNS
    from pixio_ads.outputs.manifest import MANIFEST_SCHEMA

    spreadsheet = (REPO / "docs" / "spreadsheet.md").read_text()
    manifest = (REPO / "docs" / "manifest.md").read_text()
    cli = (REPO / "docs" / "cli.md").read_text()
    assert all(f"| `{column.name}` |" in spreadsheet for column in COLUMNS)
    assert all(f"| `{name}` |" in manifest for name in MANIFEST_SCHEMA.names)
    assert all(f"## `pixio-ads {name}`" in cli for name in ("validate", "expand", "run", "verify", "serve"))
    assert "--finish-workers" in cli


def test_links_between_pages_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(((?!https?://|#)[^)#]+)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
