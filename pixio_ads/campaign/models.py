"""A row's model and its render settings: the model it renders with (the run's ``--model``,
the row's, the embedded one), checked at validate before any GPU time (a checkpoint of a
supported family, render/families.py, with all its components, that can render the row's mode
with its scheduler), and the settings resolved (the family's defaults for the steps and
guidance the row leaves empty). variants.py checks each row with the model it renders with.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pixio_ads.campaign.rows import CampaignRow
from pixio_ads.core.errors import Issue, ModelLoadError
from pixio_ads.render import families
from pixio_ads.render.families import Family
from pixio_ads.render.loading import DEFAULT_SCHEDULER, family_of
from pixio_ads.render.tiny_model import (
    EMBEDDED_BACKDROP_GUIDANCE,
    EMBEDDED_DEFAULT_STEPS,
    EMBEDDED_MODEL_ID,
    EMBEDDED_MODELS,
)
from pixio_ads.settings import RenderSettings

EDIT_KEEP_PRODUCT = ("paste", "fail", "off")  # edit mode, below min_product_fidelity (run/compose.py)


@lru_cache(maxsize=64)
def family_or_problem(model_id: str) -> Family | str | None:
    """The model's family; what is wrong with the checkpoint; or None where its files are not
    at hand before loading (a hub id not in the local cache). Cached: 50,000 rows of one model
    read it once (~18 us a row otherwise); each expansion starts afresh (``forget_models``), so
    a long-lived process sees a checkpoint that changed."""
    try:
        return family_of(model_id)
    except ModelLoadError as exc:
        return str(exc)


def forget_models() -> None:
    family_or_problem.cache_clear()


def model_problems(model_id: str, mode: str, scheduler: str | None) -> list[tuple[str, str, str]]:
    """(column, message, fix) for each problem of rendering ``mode`` with ``model_id``."""
    found = family_or_problem(model_id)
    if isinstance(found, str):
        return [("model", found, "give a checkpoint of a supported family (docs/models.md)")]
    if found is None:
        return []
    problems = []
    if reason := families.mode_problem(found, mode):
        problems.append(("mode", reason, f"choose one of {', '.join(found.modes)}, or a model that can {mode}"))
    if scheduler and scheduler != DEFAULT_SCHEDULER and found.denoiser != "unet":
        problems.append(
            (
                "scheduler",
                f"{found.title} samples with its own flow-matching scheduler; {scheduler} is for SD and SDXL",
                f"leave scheduler empty or `{DEFAULT_SCHEDULER}`",
            )
        )
    return problems


def model_issues(row, model_id: str, scheduler: str | None, file: str, overridden: bool) -> list[Issue]:
    """The row's model, mode and scheduler checked against the model it renders with
    (``overridden``: a run's ``--model``, named in the message; a problem of that model
    itself is the run's, reported once, not the row's)."""
    told = f" (--model {model_id})" if overridden else ""
    return [
        Issue(file, message + told, fix, row=None if overridden and column == "model" else row.row, column=column)
        for column, message, fix in model_problems(model_id, row.mode, scheduler)
    ]


DEFAULT_REAL_MODEL_STEPS = 30  # a model whose family is known only once loaded (a hub id not cached yet)
DEFAULT_GUIDANCE = 7.5


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved per-variant render settings."""

    model: str
    revision: str
    dtype: str
    scheduler: str
    steps: int
    guidance: float
    vae: str = ""  # "" for the checkpoint's own


def default_steps_and_guidance(model_id: str) -> tuple[int, float] | None:
    """The family's steps and guidance, or None where the family is not known before loading."""
    found = family_or_problem(model_id)
    return (found.default_steps, found.default_guidance) if isinstance(found, Family) else None


def resolve_settings(row: CampaignRow, overrides: RenderSettings) -> Settings:
    """CLI overrides win over the row's columns, which win over the defaults."""
    model = overrides.model or row.model or EMBEDDED_MODEL_ID
    # the model family's defaults (SD and SDXL's are 30 and 7.5, as before families)
    default_steps, default_guidance = default_steps_and_guidance(model) or (DEFAULT_REAL_MODEL_STEPS, DEFAULT_GUIDANCE)
    if model in EMBEDDED_MODELS:
        default_steps = EMBEDDED_DEFAULT_STEPS
    if model == EMBEDDED_MODEL_ID:
        default_guidance = EMBEDDED_BACKDROP_GUIDANCE
    guidance = overrides.guidance if overrides.guidance is not None else row.guidance
    return Settings(
        model=model,
        revision=overrides.revision or row.revision or "",
        dtype=overrides.dtype or row.dtype or "auto",
        scheduler=overrides.scheduler or row.scheduler or DEFAULT_SCHEDULER,
        steps=overrides.steps or row.steps or default_steps,
        guidance=default_guidance if guidance is None else float(guidance),
        vae=overrides.vae or row.vae or "",
    )
