"""Synthetic ad platform reports in the layouts Meta Ads Manager and Google Ads download,
made from a real run's manifest: each creative's daily impressions and clicks drawn with a
planted click-through rate per style, plus noise (seeded)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from pixio_ads.delivery.meta_sheet import ad_names

META_HEADER = [  # an Ads Manager "Export table data" with a daily breakdown
    "Reporting starts", "Reporting ends", "Campaign name", "Ad set name", "Ad name", "Day", "Impressions",
    "Link clicks", "Results", "Result indicator", "Amount spent (USD)",
]  # fmt: skip
GOOGLE_HEADER = [  # a Google Ads ad report with Day and Final URL suffix columns
    "Day", "Campaign", "Ad group", "Final URL suffix", "Ad type", "Currency code", "Impr.", "Clicks", "Conversions",
    "Cost",
]  # fmt: skip
START = date(2026, 12, 1)


def simulate(rows: list[dict], rates: dict[str, float], impressions: int, days: int, seed: int) -> list[tuple]:
    """(row, day, impressions, clicks, conversions, cost) per creative and day; ``rates``:
    click-through rate per style (default 1%); per-day impressions vary +-20%."""
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        for offset in range(days):
            shown = int(impressions * rng.uniform(0.8, 1.2))
            clicks = int(rng.binomial(shown, rates.get(row["style"], 0.01)))
            conversions = int(rng.binomial(clicks, 0.05))
            out.append((row, START + timedelta(days=offset), shown, clicks, conversions, round(shown * 0.004, 2)))
    return out


def write_meta_csv(
    path: Path, manifest: list[dict], rates: dict, impressions: int, days: int = 7, seed: int = 0
) -> Path:
    names = {vid: name for name, vid in ad_names(manifest).items()}
    rows = [row for row in manifest if row["variant_id"] in names]
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(META_HEADER)
        for row, day, shown, clicks, conversions, cost in simulate(rows, rates, impressions, days, seed):
            writer.writerow(
                [
                    START.isoformat(),
                    (START + timedelta(days=days - 1)).isoformat(),
                    row["campaign_id"],
                    "ad set",
                    names[row["variant_id"]],
                    day.isoformat(),
                    f"{shown:,}",
                    clicks,
                    conversions or "",
                    "actions:offsite_conversion.fb_pixel_purchase",
                    f"{cost:,.2f}",
                ]  # fmt: skip
            )
    return path


def write_meta_xlsx_de(
    path: Path, manifest: list[dict], rates: dict, impressions: int, days: int = 7, seed: int = 1
) -> Path:
    """Numbers as a German-locale account writes them: 1.234 and 12,34."""
    names = {vid: name for name, vid in ad_names(manifest).items()}
    rows = [row for row in manifest if row["variant_id"] in names]
    book = Workbook()
    sheet = book.active
    sheet.append([*META_HEADER[:-1], "Amount spent (EUR)"])
    for row, day, shown, clicks, conversions, cost in simulate(rows, rates, impressions, days, seed):
        sheet.append(
            [
                START.isoformat(),
                "",
                row["campaign_id"],
                "ad set",
                names[row["variant_id"]],
                day.isoformat(),
                f"{shown:,}".replace(",", "."),
                str(clicks),
                str(conversions),
                "actions:offsite_conversion.fb_pixel_purchase",
                f"{cost:.2f}".replace(".", ",") + " €",
            ]  # fmt: skip
        )
    book.save(path)
    return path


def write_google_csv(
    path: Path, manifest: list[dict], rates: dict, impressions: int, days: int = 7, seed: int = 2, utf16: bool = False
) -> Path:
    """Title and date-range rows above the header, "Total:" rows below, "--" for nothing."""
    rows = [row for row in manifest if "google" in row["platforms"] and row["format"] == "landscape"]
    lines = [["Ad report"], [f"December 1, 2026 - December {days}, 2026"], GOOGLE_HEADER]
    total_shown = total_clicks = 0
    for row, day, shown, clicks, conversions, cost in simulate(rows, rates, impressions, days, seed):
        suffix = (
            f"utm_source=google&utm_medium=display&utm_campaign={row['campaign_id']}&utm_content={row['variant_id']}"
        )
        lines.append([day.isoformat(), row["campaign_id"], "ad group", suffix, "Responsive display ad", "EUR",
                      f"{shown:,}", str(clicks), f"{conversions:.2f}" if conversions else "--", f"{cost:.2f}"])  # fmt: skip
        total_shown, total_clicks = total_shown + shown, total_clicks + clicks
    lines.append(["Total: Account", "--", "--", "--", "--", "EUR", f"{total_shown:,}", str(total_clicks), "--", "--"])
    lines.append(["Total: Display", "--", "--", "--", "--", "EUR", f"{total_shown:,}", str(total_clicks), "--", "--"])
    delimiter = "\t" if utf16 else ","
    with open(path, "w", newline="", encoding="utf-16" if utf16 else "utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(lines)
    return path
