"""`pixio-ads validate` and `pixio-ads expand`: a campaign checked, or expanded into its variants, without rendering."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pixio_ads.campaign.variants import Variant
from pixio_ads.cli.common import (
    EXIT_INVALID_INPUT,
    CampaignArg,
    RecipeOption,
    app,
    campaign_errors_exit,
    err,
    load_or_exit,
    out,
    settings_from,
)
from pixio_ads.cli.options import RENDERING, absolute_paths, takes_settings
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.fileio import atomic_write_bytes


@app.command()
@takes_settings(*RENDERING, "policy")
def validate(campaign: CampaignArg, recipe: RecipeOption = None, **settings) -> None:
    """Check a campaign file (or a catalogue feed and its recipe), its templates and the content
    policy; print a summary or every problem."""
    models = settings_from(**absolute_paths(settings))
    _policy_or_exit(models["safeguards"].policy)  # a bad policy file is named before the campaign is read
    summary = _summary_or_exit(campaign, models["rendering"], models["safeguards"].policy, recipe)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(
        f"[green]ok[/] {campaign}: {summary.rows} product rows -> {summary.variants} variants"
        + (f" (sheet {summary.sheet!r})" if summary.sheet else ""),
        highlight=False,
    )
    out.print(
        "  by format: " + ", ".join(f"{name} {count}" for name, count in summary.formats.items()), highlight=False
    )
    if summary.blocked:
        err.print(
            f"[yellow]{summary.blocked.total()} variant(s) will be blocked by the content policy and never rendered:[/]",
            highlight=False,
        )
        for (row, category, term, field), count in sorted(summary.blocked.items()):
            err.print(
                f"  - {campaign}, row {row}, column '{field}': {category} term {term!r} ({count} variant(s))",
                highlight=False,
            )


def _summary_or_exit(campaign: Path, overrides, policy: str | None, recipe: str | None = None):
    """The campaign validated, expanded and screened (campaign/summary.py), or exit 2 listing
    every problem."""
    from pixio_ads.campaign.summary import summarise

    with campaign_errors_exit(campaign):
        return summarise(campaign, overrides, policy, recipe)


def _policy_or_exit(policy_path: str | None) -> None:
    from pixio_ads.trust.policy import load_policy

    try:
        load_policy(policy_path)
    except ValidationError as exc:
        err.print(f"[bold red]{len(exc.issues)} problem(s) in the policy, nothing was rendered:[/]", highlight=False)
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


@app.command("expand")
@takes_settings("limit", *RENDERING)
def expand_command(
    campaign: CampaignArg,
    recipe: RecipeOption = None,
    output: Annotated[
        Optional[Path], typer.Option("--out", help="Write all variants to FILE (.parquet, .csv or .jsonl).")
    ] = None,
    show: Annotated[int, typer.Option(help="How many variants to print.")] = 20,
    **settings,
) -> None:
    """Expand a campaign into its variants without rendering."""
    models = settings_from(**settings)
    _, variants = load_or_exit(campaign, models["rendering"], models["execution"].limit, recipe)
    table = Table(
        "variant_id", "product", "audience", "style", "format", "seed", "prompt", title=f"{len(variants)} variants"
    )
    for v in variants[:show]:
        table.add_row(v.variant_id, v.product_id, v.audience, v.style, v.format, str(v.seed), v.prompt)
    out.print(table)
    if output is not None:
        _write_variants(variants, output)
        out.print(f"wrote {len(variants)} variants to {output}", highlight=False)


def _write_variants(variants: list[Variant], path: Path) -> None:
    from pixio_ads.outputs.manifest import variants_to_table, write_table

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        write_table(variants_to_table(variants), path)
        return
    rows = variants_to_table(variants).to_pylist()
    if suffix == ".jsonl":
        atomic_write_bytes(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())
    elif suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(path, buffer.getvalue().encode())
    else:
        err.print(f"[red]--out {path}: unsupported extension; use .parquet, .csv or .jsonl[/]", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
