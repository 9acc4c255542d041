"""`pixio-ads results` and `pixio-ads next-round`: the platforms' reports read back into the
run, what wins with its uncertainty, and the next round's campaign file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from pixio_ads.cli.common import EXIT_INVALID_INPUT, app, err, out
from pixio_ads.core.errors import PixioError
from pixio_ads.core.fileio import atomic_write_bytes

OutArg = Annotated[Path, typer.Argument(help="A run's output folder (with manifest.parquet).", show_default=False)]
MinImpressions = Annotated[
    int, typer.Option("--min-impressions", min=1, help="Impressions each value needs before a verdict.")
]


@app.command("results")
def results_command(
    out_dir: OutArg,
    reports: Annotated[
        list[Path],
        typer.Argument(
            help="Report files as Meta Ads Manager (CSV/XLSX) or Google Ads (CSV) download them.", show_default=False
        ),
    ],
    min_impressions: MinImpressions = 1000,
    threshold: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Probability of being best that makes a value the winner.")
    ] = 0.95,
    learn_weights: Annotated[
        bool,
        typer.Option(
            "--learn-weights",
            help="Fit the brand kit's scoring weights to the results (results/learned-weights.yaml).",
        ),
    ] = False,
) -> None:
    """Read the platforms' reports into the run: what wins per style, audience, headline, language... with its uncertainty."""
    from pixio_ads.results.analysis import read_results

    try:
        if os.environ.get("PREFECT_API_URL"):  # with a Prefect server: the flow, which publishes the artifact
            from pixio_ads.flows.results import read_results_flow

            outcome = read_results_flow(
                str(out_dir), [str(p) for p in reports], min_impressions, threshold, learn_weights
            )
        else:
            outcome = read_results(out_dir, reports, min_impressions, threshold, learn_weights)
    except (PixioError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    joined = outcome.joined
    out.print(f"{len(joined.files)} report(s): {len(joined.rows)} row(s) joined to creatives", highlight=False)
    if joined.unjoined:
        names = sorted({row.ad_name or f"line {row.report_row}" for row in joined.unjoined})
        err.print(
            f"[yellow]{len(joined.unjoined)} row(s) match no creative of this run:[/] "
            + "; ".join(names[:10])
            + (f" and {len(names) - 10} more" if len(names) > 10 else ""),
            highlight=False,
        )
    for dimension in outcome.dimensions:
        out.print(f"  {dimension.dimension}: {dimension.verdict}", highlight=False)
    if outcome.learned:
        weights = ", ".join(f"{k} {v}" for k, v in outcome.learned.weights.items())
        out.print(
            f"  learned weights: {weights} (cross-validated rank correlation {outcome.learned.spearman_cross_validated})"
        )
    for path in outcome.files:
        out.print(f"wrote {path}", highlight=False)


@app.command("next-round")
def next_round_command(
    out_dir: OutArg,
    dest: Annotated[Path, typer.Option("--out", help="The next round's campaign file, beside the campaign (.csv).")],
    variants: Annotated[
        Optional[int],
        typer.Option("--variants", min=1, help="Variants in the next round, in all. Default: as many as this round."),
    ] = None,
    campaign: Annotated[
        Optional[Path], typer.Option(help="The campaign file of this run. Default: the one the run recorded.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the posterior draws (the same seed, the same file).")] = 0,
    min_impressions: MinImpressions = 1000,
) -> None:
    """Write the next round's campaign: variants moved toward what wins (Thompson sampling), some kept to explore."""
    from pixio_ads.campaign.columns import KNOWN_COLUMNS
    from pixio_ads.campaign.sheets import read_sheet
    from pixio_ads.results.analysis import performance_rows
    from pixio_ads.results.nextround import plan_next_round, report, write_next_round

    try:
        source = campaign or _recorded_campaign(out_dir)
        sheet = read_sheet(source, KNOWN_COLUMNS)
        plans = plan_next_round(
            performance_rows(out_dir), sheet.frame, sheet.header_row, variants, seed, min_impressions=min_impressions
        )
        written = write_next_round(source, plans, dest)
    except PixioError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    atomic_write_bytes(dest.with_suffix(".md"), report(plans).encode("utf-8"))
    total = sum(sum(plan.allocation.values()) for plan in plans)
    out.print(f"wrote {written} ({total} variant(s) over {len(plans)} row(s); it validates)", highlight=False)
    out.print(f"wrote {dest.with_suffix('.md')} (what changed and why)", highlight=False)


def _recorded_campaign(out_dir: Path) -> Path:
    from pixio_ads.results.reports import ReportError

    try:
        recorded = json.loads((out_dir / "run.json").read_text()).get("campaign")
    except (OSError, ValueError):
        recorded = None
    if not recorded or not Path(recorded).is_file():
        raise ReportError(f"{out_dir}: the run did not record its campaign file here: pass it with --campaign FILE")
    return Path(recorded)
