"""Command options generated from the settings models, so that a setting is declared once.

``takes_settings("model", "steps", ...)`` gives a command one option per named field of
pixio_ads/settings.py: its name (``--batch-size`` for ``batch_size``), type, default, bounds and
help text all come from the field. The values arrive in the command's ``**settings``;
``settings_from`` (common.py) turns them into the settings models, or names the bad option.
What only a command line has is declared here: another spelling of the option, an environment
variable, and paths, which are made absolute (the flow may run in another folder).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Optional

import annotated_types
import typer

from pixio_ads.campaign.columns import COLUMN_NAMES
from pixio_ads.core.storage import is_remote
from pixio_ads.settings import SETTINGS, RenderSettings, Serving

# field -> what the command line adds to it
COMMAND_LINE = {
    "policy": {"path": True},
    "quotas": {"path": True},
    "usage_db": {"path": True, "envvar": "PIXIO_ADS_USAGE_DB"},
    "c2pa_cert": {"path": True, "envvar": "PIXIO_ADS_C2PA_CERT"},
    "c2pa_key": {"path": True, "envvar": "PIXIO_ADS_C2PA_KEY"},
    "review_token": {"envvar": "PIXIO_ADS_REVIEW_TOKEN"},
    "wait_for_review": {"flag": "--review"},
    "inbox_dir": {"flag": "--inbox", "path": True},
    "out_root": {"flag": "--out", "path": True},
}
OWNERS = {name: model for model in (*SETTINGS.values(), Serving) for name in model.model_fields}


def option(name: str) -> inspect.Parameter:
    """The command-line option of one settings field."""
    model = OWNERS[name]
    field = model.model_fields[name]
    extra = COMMAND_LINE.get(name, {})
    annotation = (Path if field.is_required() else Optional[Path]) if extra.get("path") else field.annotation
    dashed = "--" + name.replace("_", "-")
    flag = extra.get("flag") or (f"{dashed}/--no-{dashed[2:]}" if annotation is bool else dashed)
    help_text = field.description or ""
    if model is RenderSettings and name in COLUMN_NAMES:
        help_text = help_text.rstrip(".") + "; wins over the spreadsheet's column."
    bounds = {}
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds["min"] = rule.ge
        elif isinstance(rule, annotated_types.Le):
            bounds["max"] = rule.le
    details = typer.Option(flag, help=help_text, envvar=extra.get("envvar"), **bounds)
    default = ... if field.is_required() else field.default
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, details]
    )


def takes_settings(*names: str):
    """Decorate a command: it takes these settings fields as options, in its ``**settings``."""

    def decorate(command):
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        command.__signature__ = signature.replace(parameters=own + [option(name) for name in names])
        return command

    return decorate


def absolute_paths(settings: dict) -> dict:
    """The options' values with the path options made absolute text."""
    return {
        name: str(Path(value).resolve())
        if value is not None and COMMAND_LINE.get(name, {}).get("path") and not is_remote(value)
        else value
        for name, value in settings.items()
    }


RENDERING = tuple(RenderSettings.model_fields)  # every render setting: validate, expand, run
SAFEGUARDS = ("policy", "quotas", "usage_db", "c2pa_cert", "c2pa_key")
SERVING = tuple(Serving.model_fields)
