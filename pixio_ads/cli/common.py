"""What every command shares: the Typer app, the consoles, exit codes, and turning the
library's errors and the settings' validation into messages (never tracebacks)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console

from pixio_ads.campaign.rows import Campaign
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import Variant, expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.storage import StorageError
from pixio_ads.settings import RenderSettings, from_options

app = typer.Typer(
    help="Campaign spreadsheets in, ad creatives and a Parquet manifest out.",
    no_args_is_help=True,
    add_completion=False,
)


# soft_wrap: never hard-wrap a line, so paths and messages survive copy-paste and grep
out = Console(soft_wrap=True)


err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED_VARIANTS = 1
EXIT_INVALID_INPUT = 2
EXIT_REVIEW_PENDING = 3  # --review: nobody clicked "Review done" in time; the flow run is left paused
EXIT_NOT_RECOGNISED = 4  # verify: a file whose AI origin nothing proves (and none altered)
EXIT_ALTERED = 5  # verify: a file whose C2PA manifest or XMP disagrees with its pixels or row
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C

CampaignArg = Annotated[
    str,
    typer.Argument(
        help="Campaign spreadsheet (.csv, .xlsx or .parquet), or a catalogue feed (.tsv, .csv or .xml, with "
        "--recipe): a path, or a URL (s3://bucket/key, fetched with its folder).",
        show_default=False,
    ),
]
RecipeOption = Annotated[
    Optional[str],
    typer.Option(
        "--recipe",
        help="Recipe (YAML) that turns the catalogue feed's items into campaign rows: each key a column, each "
        "value a Jinja template over the item's attributes, `where:` choosing the items (docs/catalogue.md).",
    ),
]


HostOpt = Annotated[
    str, typer.Option("--host", help="Address the review page listens on; beyond 127.0.0.1 it needs a token.")
]


PortOpt = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the review page (0: any free port).")]


TokenOpt = Annotated[
    Optional[str],
    typer.Option(
        "--token",
        envvar="PIXIO_ADS_REVIEW_TOKEN",
        help="Access token (16+ characters) the review page asks for; required with another --host.",
    ),
]


def settings_from(**options) -> dict:
    """The run's settings models (pixio_ads/settings.py) from CLI options, keyed as the flow's
    parameters, or exit 2 naming each bad option value."""
    try:
        return from_options(**options)
    except PydanticValidationError as exc:
        for error in exc.errors():
            option = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
            err.print(f"[bold red]error:[/] {option}: {error['msg'].removeprefix('Value error, ')}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def load_or_exit(
    campaign_path: Path, overrides: RenderSettings, limit: int | None = None, recipe: str | None = None
) -> tuple[Campaign, list[Variant]]:
    """Validate the spreadsheet (or the feed and its recipe) and its templates, or exit 2
    listing every problem."""
    with campaign_errors_exit(campaign_path):
        campaign = load_campaign(campaign_path, recipe)
        for warning in campaign.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        return campaign, expand(campaign, overrides, limit)


@contextmanager
def campaign_errors_exit(campaign_path: Path):
    """A campaign that cannot be read or does not validate: exit 2, every problem listed."""
    try:
        yield
    except StorageError as exc:  # an unreachable bucket, a missing key, credentials refused
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except ValidationError as exc:
        err.print(
            f"[bold red]{campaign_path}: {len(exc.issues)} problem(s), nothing was rendered:[/]", highlight=False
        )
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def absolute(path: Optional[Path]) -> Optional[str]:
    return str(path.resolve()) if path is not None else None


def prefect_defaults() -> None:
    # Library logs (model loading, the embedded-model warning) go to the Prefect run logs too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pixio_ads")
    # The ephemeral server would otherwise try to send telemetry from offline machines.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
