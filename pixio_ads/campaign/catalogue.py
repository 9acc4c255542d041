"""A catalogue feed and its recipe as a campaign: every item the recipe keeps becomes a row that
goes through the spreadsheet's validation unchanged.

The feed (feeds.py) and the recipe (recipe.py) may be local or on object storage; the recipe's
folder is the campaign folder (its templates, brand kits and other files are found beside it).
Item images over http(s) are fetched first, concurrently, into the cache (core/fetch.py), so
validating the rows reads them from disk. Every problem names where to fix it: the feed's item
id, row and attribute, the recipe's line, or both, and the column of the row it made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from pixio_ads.campaign.feeds import Feed, FeedItem, read_feed
from pixio_ads.campaign.recipe import Recipe, load_recipe
from pixio_ads.campaign.rows import Campaign
from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.core.fetch import fetch_all, is_web_url
from pixio_ads.core.storage import fetch_input

Validate = Callable[[Path, list[dict], int], tuple[list, list[Issue], list[str]]]


def load_feed_campaign(path: str | Path, recipe: str | Path | None, validate: Validate) -> Campaign:
    """The feed's rows as the recipe makes them, validated by ``validate`` (spreadsheet.py's
    row validation); ValidationError lists every problem, the rest of the feed checked too."""
    if recipe is None:
        fix = "give the recipe that turns its items into rows: --recipe recipe.yaml (docs/catalogue.md)"
        raise ValidationError([Issue(str(path), "a catalogue feed needs a recipe", fix)])
    recipe_path = fetch_input(recipe, with_folder=True)
    feed_path = fetch_input(path)
    made = load_recipe(recipe_path)
    feed = read_feed(feed_path)
    records, origins, issues = made.rows(feed)
    kept = {item.id for item in origins}
    issues = [issue for issue in feed.issues if issue.item is None or issue.item in kept] + issues
    if not origins and not issues:
        fix = "check the recipe's where expression against the feed's values"
        raise ValidationError([Issue(str(recipe_path), f"no item of {feed_path.name} passes the recipe's where", fix)])
    _prefetch_images(records)
    rows, row_issues, notes = validate(recipe_path, records, 0)
    failed = {(issue.item, issue.column) for issue in issues}  # a template that failed left its cell empty
    located = [_located(issue, origins, feed, made) for issue in row_issues]
    issues += [issue for issue in located if (issue.item, issue.column) not in failed]
    if issues:
        raise ValidationError(issues)
    rows = [dataclasses.replace(row, row=origins[row.row].position) for row in rows]  # the feed's row / item
    return Campaign(path=feed_path, rows=rows, warnings=notes, sheet=None)


def _prefetch_images(records: list[dict]) -> None:
    """Every item image over http(s), fetched concurrently into the cache (a failure is the
    row's problem when it is validated, read from the same cache)."""
    urls = [record.get("product_image", "") for record in records]
    fetch_all([url for url in urls if is_web_url(url)])


def _located(issue: Issue, origins: list[FeedItem], feed: Feed, recipe: Recipe) -> Issue:
    """A row's problem as the feed's: its item, row and the attributes its column comes from."""
    if issue.row is None or not 0 <= issue.row < len(origins):
        return issue  # about a file the recipe names (a template, a brand kit)
    item = origins[issue.row]
    column = issue.column or ""
    attributes = recipe.sources.get(column, [])
    line = recipe.templates[column][1] if column in recipe.templates else None
    where = f"the feed's {', '.join(attributes)}" if attributes else "the recipe"
    where += f" (recipe line {line})" if line else ""
    return dataclasses.replace(
        issue, file=str(feed.path), row=item.row, item=item.id or None, fix=f"{issue.fix} (in {where})"
    )
