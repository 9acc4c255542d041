"""Budgets as the rows ask for them: what a row names is what each of its audiences spends.

A row's ``daily_budget`` (or Meta ``lifetime_budget``) is the spend of each audience it targets
(columns_ads.py). An export may turn one row x audience into several ad sets (Meta: a feeds and a
stories ad set, one per language) or put several into one campaign (Google, whose budgets belong
to campaigns). So the amount is split, to the cent, between the ad sets that row x audience
became, and a Google campaign's budget is the sum over the rows x audiences it carries: the
sheet's budgets add up to exactly what the rows ask for, never a multiple of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from pixio_ads.campaign.adsettings import settings_of
from pixio_ads.delivery.adsheet import ExportError

BUDGET_KINDS = ("daily_budget", "lifetime_budget")
_CENT = Decimal("0.01")


def audience_key(row: dict) -> tuple:
    """The row x audience a manifest row belongs to: the unit a budget is named for."""
    return row["campaign_id"], row["source_row"], row["audience"]


def split_amount(amount: str, parts: int) -> list[Decimal]:
    """``amount`` in ``parts`` shares that differ by at most a cent and add up to it exactly
    (``"10.00"`` in 3: 3.34, 3.33, 3.33)."""
    cents = int(Decimal(amount) / _CENT)
    share, left = divmod(cents, parts)
    return [(share + (index < left)) * _CENT for index in range(parts)]


def ad_set_budgets(placed: Iterable[tuple[str, dict]], platform: str) -> dict[str, tuple[str, Decimal]]:
    """Ad set name -> (budget kind, amount) for ``placed`` (ad set name, manifest row) pairs:
    each row x audience's budget split between the ad sets it is placed in."""
    ad_sets: dict[tuple, list[str]] = defaultdict(list)
    first_row: dict[tuple, dict] = {}
    for name, row in placed:
        key = audience_key(row)
        first_row.setdefault(key, row)
        if name not in ad_sets[key]:
            ad_sets[key].append(name)
    totals: dict[str, tuple[str, Decimal]] = {}
    for key, names in ad_sets.items():
        kind, amount = _budget_of(first_row[key], platform)
        for name, share in zip(names, split_amount(amount, len(names)), strict=True):
            known_kind, total = totals.get(name, (kind, Decimal(0)))
            if known_kind != kind:
                raise ExportError(
                    f"ad set {name!r} gathers rows with a daily and rows with a lifetime budget: give the rows "
                    "that share an ad_set the same kind of budget, run again, then export"
                )
            totals[name] = (kind, total + share)
    return totals


def campaign_budgets(rows: Iterable[dict], platform: str) -> dict[str, Decimal]:
    """Campaign -> daily budget: the sum over the rows x audiences among ``rows``."""
    seen: dict[tuple, dict] = {}
    for row in rows:
        seen.setdefault(audience_key(row), row)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (campaign, _, _), row in seen.items():
        totals[campaign] += Decimal(_budget_of(row, platform)[1])
    return dict(totals)


def _budget_of(row: dict, platform: str) -> tuple[str, str]:
    """(kind, amount) of the row's budget for ``platform`` (validate made sure it has one)."""
    settings = settings_of(row["ad_settings"])[platform]
    for kind in BUDGET_KINDS:
        if settings.get(kind):
            return kind, settings[kind]
    raise ExportError(
        f"row {row['source_row']} ({row['product_id']}) has no {platform} budget in the manifest: "
        "run the campaign again (validate fills it in), then export"
    )
