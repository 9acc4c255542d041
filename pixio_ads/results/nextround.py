"""The next round's campaign file: the variants reallocated toward what wins, by Thompson
sampling on the Beta posteriors of winners.py.

For each campaign row with results, every one of its variant slots goes to the (audience,
style) whose click-through rate, drawn from its posterior, is highest in that draw (seeded), so
a combination gets slots in proportion to the probability that it is best; an exploration
share of the slots goes round-robin to combinations with fewer than ``min_impressions``, so a
value with little data is tried again rather than dropped. A combination's slots become its
``variants`` (more than before: new seeds; the same seeds come first, so its existing
creatives are kept). Headline options of the row's first language that no draw picks are
dropped. Rows without results are kept as they are. The file keeps every column of the
campaign as written, is written beside the campaign (its images and templates are found
relative to it), and is validated before it is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pixio_ads.campaign.columns import KNOWN_COLUMNS
from pixio_ads.campaign.copy import column_name
from pixio_ads.campaign.rows import split_multi
from pixio_ads.campaign.sheets import read_sheet
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import PixioError, ValidationError
from pixio_ads.core.fileio import atomic_write
from pixio_ads.results.winners import MIN_IMPRESSIONS, best_in_draws, totals

EXPLORATION = 0.2  # share of each row's slots kept for combinations with little data


class NextRoundError(PixioError):
    pass


@dataclass
class RowPlan:
    row: int  # spreadsheet row
    product_id: str
    slots: int
    allocation: dict[tuple[str, str], int] = field(default_factory=dict)  # (audience, style) -> variants
    before: dict[tuple[str, str], int] = field(default_factory=dict)
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    headlines_kept: list[int] = field(default_factory=list)  # option numbers; [] = unchanged
    note: str = ""


def plan_next_round(
    performance: list[dict], sheet: pd.DataFrame, header_row: int, budget: int | None, seed: int = 0,
    exploration: float = EXPLORATION, min_impressions: int = MIN_IMPRESSIONS,
) -> list[RowPlan]:  # fmt: skip
    """A plan per campaign row (``sheet``: the campaign's cells); ``budget``: the next round's
    variants in all (default: this round's count per row)."""
    rng = np.random.default_rng(seed)
    by_row: dict[int, list[dict]] = {}
    for perf in performance:
        by_row.setdefault(perf["source_row"], []).append(perf)
    plans = []
    for index, cells in enumerate(sheet.to_dict("records")):
        row = index + header_row + 1
        plans.append(_plan_row(row, cells, by_row.get(row, []), rng, exploration, min_impressions))
    if budget:
        _scale(plans, budget)
    return plans


def _plan_row(row: int, cells: dict, results: list[dict], rng, exploration: float, min_impressions: int) -> RowPlan:
    combos = [(a, s) for a in split_multi(cells["audiences"]) for s in split_multi(cells["styles"])]
    per_combo = int(float(cells.get("variants") or 1))
    plan = RowPlan(row, cells["product_id"], per_combo * len(combos), before=dict.fromkeys(combos, per_combo))
    if not results:
        plan.allocation, plan.note = dict(plan.before), "no results: kept as it was"
        return plan
    groups = [[r for r in results if (r["audience"], r["style"]) == combo] for combo in combos]
    plan.allocation = _thompson(combos, groups, plan.slots, rng, exploration, min_impressions, plan.reasons)
    plan.headlines_kept = _headlines_kept(results, rng, plan.slots)
    return plan


def _clicks_and_impressions(groups: list[list[dict]]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([totals(rows)[:2] for rows in groups], float)  # (impressions, clicks) per group
    return counts[:, 1], counts[:, 0]


def _best_in_draws(clicks: np.ndarray, impressions: np.ndarray, rng, draws: int) -> np.ndarray:
    """The best group of each draw from the click-through posteriors (winners.py's model)."""
    return best_in_draws(1 + clicks, 1 + impressions - clicks, rng, draws)


def _thompson(
    combos: list, groups: list, slots: int, rng, exploration: float, min_impressions: int, reasons: dict
) -> dict:
    clicks, impressions = _clicks_and_impressions(groups)
    thin = [c for c, n in zip(combos, impressions) if n < min_impressions]
    explore = min(math.ceil(exploration * slots), slots - 1) if thin else 0
    counts = np.bincount(_best_in_draws(clicks, impressions, rng, slots - explore), minlength=len(combos))
    allocation = {combo: int(count) for combo, count in zip(combos, counts)}
    for slot in range(explore):  # round-robin over the combinations with little data
        allocation[thin[slot % len(thin)]] += 1
    for combo, count in allocation.items():
        share = counts[combos.index(combo)] / max(1, slots - explore)
        why = f"best in {share:.0%} of posterior draws (CTR {clicks[combos.index(combo)]:.0f}/{impressions[combos.index(combo)]:.0f})"
        reasons[combo] = why + (", plus exploration (little data)" if combo in thin else "")
    return allocation


def _headlines_kept(results: list[dict], rng, slots: int) -> list[int]:
    """The first language's headline options some posterior draw picks (all: unchanged)."""
    first = results[0]["language"]
    options = sorted({r["headline_option"] for r in results if r["language"] == first})
    if len(options) < 2:
        return []
    groups = [[r for r in results if r["language"] == first and r["headline_option"] == o] for o in options]
    clicks, impressions = _clicks_and_impressions(groups)
    picked = set(np.unique(_best_in_draws(clicks, impressions, rng, max(slots, 20))))
    return [option for index, option in enumerate(options) if index in picked]


def _scale(plans: list[RowPlan], budget: int) -> None:
    """Every allocation scaled so that the campaign has ``budget`` variants (at least 1 per row)."""
    total = sum(sum(plan.allocation.values()) for plan in plans)
    for plan in plans:
        for combo, count in plan.allocation.items():
            plan.allocation[combo] = round(count * budget / total) if count else 0
        if not any(plan.allocation.values()):
            plan.allocation[max(plan.before, key=lambda c: plan.before[c])] = 1


def write_next_round(campaign: Path, plans: list[RowPlan], dest: Path) -> Path:
    """The next round's file at ``dest`` (beside the campaign), validated first."""
    campaign, dest = Path(campaign), Path(dest)
    if dest.parent.resolve() != campaign.parent.resolve():
        raise NextRoundError(
            f"{dest}: write the next round beside the campaign, in {campaign.parent} (its images, brand kits and "
            "templates are found relative to it)"
        )
    sheet = read_sheet(campaign, KNOWN_COLUMNS).frame
    rows = []
    for cells, plan in zip(sheet.to_dict("records"), plans):
        rows += _next_rows(cells, plan)
    frame = pd.DataFrame(rows, columns=list(sheet.columns))
    staging = dest.with_name(f".{dest.stem}.check{dest.suffix or '.csv'}")
    try:
        frame.to_csv(staging, index=False)
        load_campaign(staging)  # the next round validates, or nothing is written
    except ValidationError as exc:
        raise NextRoundError(f"the next round does not validate: {exc}") from None
    finally:
        staging.unlink(missing_ok=True)
    return atomic_write(dest, lambda tmp: frame.to_csv(tmp, index=False))


def _next_rows(cells: dict, plan: RowPlan) -> list[dict]:
    if plan.note:
        return [cells]
    cells = _prune_headlines(dict(cells), plan.headlines_kept)
    return [
        {**cells, "audiences": audience, "styles": style, "variants": count}
        for (audience, style), count in plan.allocation.items()
        if count
    ]


def _prune_headlines(cells: dict, kept: list[int]) -> dict:
    if not kept:
        return cells
    texts = [cells.get(column_name("headline", number, None), "") for number in kept]
    for number in range(1, 6):
        name = column_name("headline", number, None)
        if name in cells:
            cells[name] = texts[number - 1] if number <= len(texts) else ""
    return cells


def report(plans: list[RowPlan]) -> str:
    """What changed and why, as markdown."""
    lines = [
        "# Next round",
        "",
        "| row | product | audience x style | variants before | after | why |",
        "|---|---|---|---|---|---|",
    ]
    for plan in plans:
        for combo in plan.before | plan.allocation:
            why = plan.note or plan.reasons.get(combo, "")
            before, after = plan.before.get(combo, 0), plan.allocation.get(combo, 0)
            lines.append(f"| {plan.row} | {plan.product_id} | {' x '.join(combo)} | {before} | {after} | {why} |")
        if plan.headlines_kept:
            lines.append(
                f"| {plan.row} | {plan.product_id} | headline options kept | | {plan.headlines_kept} | the rest no posterior draw picked |"
            )
    return "\n".join(lines) + "\n"
