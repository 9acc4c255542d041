"""What `pixio-ads validate` reports, computed in parallel over the rows of a large file.

Validating a row, expanding it into variants and screening those against the content policy
do not depend on the other rows, so each chunk of rows goes through all three in its own
process (rowpool.map_chunks) and sends back only counts, its variant ids and its problems;
no variant crosses a process. What spans rows is settled here: a variant id made by two
rows of different chunks is the duplicate-row problem expand reports within one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pixio_ads.campaign.feeds import looks_like_feed
from pixio_ads.campaign.rowpool import map_chunks, validate_chunk
from pixio_ads.campaign.rows import Campaign
from pixio_ads.campaign.spreadsheet import load_campaign, no_rows_issue, read_records, validate_row
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.creative.brand import brand_name
from pixio_ads.settings import RenderSettings
from pixio_ads.trust.policy import load_policy, screen


@dataclass
class Summary:
    rows: int = 0
    variants: int = 0
    formats: Counter = field(default_factory=Counter)  # format -> variants
    blocked: Counter = field(default_factory=Counter)  # (row, category, term, field) -> variants
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None
    issues: list[Issue] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # variant id -> the row that made it


def summarise(path: str | Path, overrides: RenderSettings, policy: str | None, recipe=None) -> Summary:
    """Validate, expand and screen the campaign; raises ValidationError listing every problem."""
    if recipe is not None or looks_like_feed(Path(str(path))):  # a catalogue feed: its rows made by the recipe
        campaign = load_campaign(path, recipe)
        total = _screened(campaign.path, campaign.rows, overrides, policy, Summary(warnings=list(campaign.warnings)))
        if total.issues:
            raise ValidationError(total.issues)
        return total
    local, sheet, records, first_row = read_records(path)
    parts = map_chunks(records, first_row, partial(_summarise_chunk, local, overrides, policy))
    total = Summary(sheet=sheet.name, warnings=list(sheet.warnings))
    for part in parts:
        _merge(total, part, str(local))
    if total.issues:
        raise ValidationError(total.issues)
    if not total.rows:
        raise ValidationError([no_rows_issue(local)])
    return total


def _summarise_chunk(path: Path, overrides: RenderSettings, policy: str | None, records: list[dict], first_row: int):
    rows, issues, image_notes, notes = validate_chunk(path, records, first_row, validate_row)
    part = Summary(rows=len(rows), warnings=image_notes + notes, issues=issues)
    if issues or not rows:
        return part
    return _screened(path, rows, overrides, policy, part)


def _screened(path: Path, rows: list, overrides: RenderSettings, policy: str | None, part: Summary) -> Summary:
    """``part`` with the rows' variants counted and screened against the policy."""
    part.rows = len(rows)
    try:
        variants = expand(Campaign(path=path, rows=rows), overrides)
    except ValidationError as exc:
        part.issues = exc.issues
        return part
    blocked = screen(load_policy(policy), variants, brand_name)
    part.variants = len(variants)
    part.formats = Counter(v.format for v in variants)
    part.blocked = Counter(
        (v.source_row, m.category, m.term, m.field) for v in variants if (m := blocked.get(v.variant_id))
    )
    part.ids = {v.variant_id: v.source_row for v in variants}
    return part


def _merge(total: Summary, part: Summary, file: str) -> None:
    total.rows += part.rows
    total.variants += part.variants
    total.formats.update(part.formats)
    total.blocked.update(part.blocked)
    total.warnings += [w for w in part.warnings if w not in total.warnings]
    total.issues += [issue for issue in part.issues if issue not in total.issues]
    for vid, row in part.ids.items():
        if vid in total.ids:
            issue = Issue(
                file,
                f"row repeats the variants of row {total.ids[vid]}",
                "remove the duplicate row or change one of its values",
                row=row,
            )
            if issue not in total.issues:
                total.issues.append(issue)
        else:
            total.ids[vid] = row
