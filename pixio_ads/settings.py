"""A run's settings, declared once: the CLI's options, the generate-campaign flow's parameters
and the served deployments' parameters are these three models.

- ``RenderSettings``: how images are rendered; each set field wins over the spreadsheet;
- ``Safeguards``: content policy, quotas, usage database, C2PA signing;
- ``Execution``: where and how the work runs (device, batches, retries, shards, finishing);
- ``ReviewSettings``: prompt-alignment scores and waiting for a person's review.

As Prefect flow parameters they give the dashboard a validated, documented form when a run
is started from a deployment (each field's description is its help text).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pixio_ads.core.stall import DEFAULT_STALL_SECONDS
from pixio_ads.core.storage import fetch_input
from pixio_ads.render.compiled import COMPILE_MODES, DEFAULT_COMPILE_MODE
from pixio_ads.render.loading import DEFAULT_SCHEDULER, DTYPES, OFFLOAD_MODES, SCHEDULER_NAMES, check_scheduler
from pixio_ads.render.upscale import DEFAULT_UPSCALER_STEPS
from pixio_ads.trust.credentials import C2paSigner

DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY = 2.0  # seconds, doubled at each retry


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RenderSettings(_Settings):
    """How images are rendered. A field that is set wins over the spreadsheet's column."""

    model: str | None = Field(
        None,
        description="Local checkpoint folder, single .safetensors/.ckpt file or hub id. "
        "Default: the spreadsheet's model column, else the embedded backdrop model (synthetic backdrops).",
    )
    steps: int | None = Field(None, ge=1, le=500, description="Denoising steps.")
    guidance: float | None = Field(None, ge=0, le=50, description="Classifier-free guidance scale.")
    scheduler: str | None = Field(None, description="Sampler: " + ", ".join(SCHEDULER_NAMES) + ".")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of the model.")
    dtype: str | None = Field(None, description="Weights precision: " + ", ".join(DTYPES) + ".")
    vae: str | None = Field(
        None,
        description="VAE to decode with instead of the checkpoint's own: a diffusers AutoencoderKL folder, "
        "a .safetensors file or a hub id. An fp16-safe SDXL VAE (madebyollin/sdxl-vae-fp16-fix) lets SDXL "
        "decode in fp16 instead of float32.",
    )
    upscaler: str | None = Field(
        None, description="Diffusers upscaler checkpoint for backgrounds smaller than their format. Default: Lanczos."
    )
    upscaler_steps: int = Field(DEFAULT_UPSCALER_STEPS, ge=1, le=500, description="Denoising steps of the upscaler.")
    video_model: str | None = Field(
        None,
        description="Image-to-video diffusers checkpoint (LTX-Video, Wan 2.x I2V/TI2V) for rows with motion = model; "
        "wins over the video_model column.",
    )
    video_steps: int | None = Field(
        None, ge=1, le=500, description="Denoising steps of the video model (default: its card's)."
    )

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, value: str | None) -> str | None:
        check_scheduler(value or DEFAULT_SCHEDULER)
        return value

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str | None) -> str | None:
        if value is not None and value not in DTYPES:
            raise ValueError(f"unknown dtype {value!r}; valid: {', '.join(DTYPES)}")
        return value


class Safeguards(_Settings):
    """Trust-and-safety settings: paths on the machine that runs the flow."""

    policy: str | None = Field(None, description="Content policy file (YAML). Default: the packaged policy.")
    quotas: str | None = Field(
        None, description="Quota file (YAML): images per day/campaign and GPU-seconds per brand and campaign."
    )
    usage_db: str | None = Field(None, description="SQLite file recording usage against the quotas.")
    c2pa_cert: str | None = Field(None, description="PEM certificate chain (leaf first) to sign C2PA manifests with.")
    c2pa_key: str | None = Field(None, description="PEM private key of that certificate.")

    def signer(self) -> C2paSigner | None:
        if not (self.c2pa_cert and self.c2pa_key):
            return None
        return C2paSigner.from_files(str(fetch_input(self.c2pa_cert)), str(fetch_input(self.c2pa_key)))


class Execution(_Settings):
    """Where and how the work runs."""

    limit: int | None = Field(None, ge=1, description="Only the first N variants.")
    device: str | None = Field(None, description="cuda, mps or cpu. Default: the best available.")
    batch_size: int | None = Field(None, ge=1, description="Images per forward pass. Default: 1 on CPU, 4 on CUDA.")
    safety_checker: bool = Field(
        True, description="Keep the checkpoint's safety checker on (flagged images are blocked, not saved)."
    )
    retries: int = Field(DEFAULT_RETRIES, ge=0, description="Retries of a failing batch, with exponential backoff.")
    retry_delay: float = Field(DEFAULT_RETRY_DELAY, ge=0, description="Seconds before the first retry.")
    shard_size: int | None = Field(None, ge=1, description="Variants per render task. Default: 16 on CPU, 64 on GPU.")
    wait: bool = Field(
        False,
        description="When another run is writing to the same output folder: wait for it (else stop with an error).",
    )
    finish_workers: int | None = Field(
        None,
        ge=0,
        description="Processes that finish creatives (layout, copy, watermark, encoding) while rendering goes on, "
        "per render worker; 0: a thread of the render process. Default: the cores rendering does not need (1 on CPU).",
    )
    stall_seconds: float = Field(
        DEFAULT_STALL_SECONDS,
        gt=0,
        description="A shard that makes no progress for this many seconds is given up (its unfinished variants "
        "fail; a rerun renders them), so a hung process cannot hang the run.",
    )
    render_deployment: str | None = Field(
        None,
        description="Render each shard as a flow run of this deployment (e.g. render-shard/render-shard, served by "
        "the workers of a gpu work pool: `pixio-ads deploy`) instead of in this run. Default: render here.",
    )
    compile: bool = Field(
        False,
        description="Compile the UNet and VAE decoder with torch.compile: faster on a GPU after a one-off compile per "
        "render process and batch shape (minutes); images equal to the eager ones within float rounding.",
    )
    compile_mode: str = Field(
        DEFAULT_COMPILE_MODE, description="torch.compile mode with --compile: " + ", ".join(COMPILE_MODES) + "."
    )
    offload: str | None = Field(
        None,
        description="For a GPU smaller than the model: `model` keeps each model (text encoders, transformer, VAE) in "
        "CPU memory until its turn (diffusers' model CPU offload, a little slower), `sequential` moves layer by layer "
        "(least GPU memory, much slower). Same images.",
    )

    @field_validator("compile_mode")
    @classmethod
    def _known_compile_mode(cls, value: str) -> str:
        if value not in COMPILE_MODES:
            raise ValueError(f"unknown compile mode {value!r}; valid: {', '.join(COMPILE_MODES)}")
        return value

    @field_validator("offload")
    @classmethod
    def _known_offload(cls, value: str | None) -> str | None:
        if value is not None and value not in OFFLOAD_MODES:
            raise ValueError(f"unknown offload {value!r}; valid: {', '.join(OFFLOAD_MODES)}")
        return value

    @property
    def compile_with(self) -> str | None:
        """The torch.compile mode the render loop uses, None for eager."""
        return self.compile_mode if self.compile else None


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ReviewSettings(_Settings):
    """Scores that need a model, and the review step (review.py, reviewapp.py)."""

    clip_model: str | None = Field(
        None, description="CLIP model (transformers CLIPModel folder or hub id) for prompt-alignment scores."
    )
    wait_for_review: bool = Field(
        False,
        description="After rendering, serve the review page and wait until a reviewer clicks 'Review done'; "
        "then write the approved set (approved/, approved.parquet).",
    )
    review_host: str = Field("127.0.0.1", description="Address the review page listens on.")
    review_port: int = Field(8765, ge=0, le=65535, description="Port of the review page (0: any free port).")
    review_token: str | None = Field(
        None, description="Access token the review page asks for; required when it listens beyond this machine."
    )
    review_timeout_hours: float = Field(
        72.0, gt=0, description="Hours the flow run waits for the review; past it the run stays paused."
    )

    @field_validator("review_token")
    @classmethod
    def _token_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("the review token must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _token_beyond_this_machine(self) -> "ReviewSettings":
        if self.review_host not in LOCAL_HOSTS and not self.review_token:
            raise ValueError(
                f"the review page on {self.review_host} would let anyone on the network decide: "
                "give a review token (--review-token or PIXIO_ADS_REVIEW_TOKEN)"
            )
        return self


class Serving(_Settings):
    """What ``pixio-ads serve`` serves: the inbox campaign-inbox watches, and where outputs go.
    Not a flow parameter: the deployments are built from it (flows/deploy.py)."""

    inbox_dir: str = Field(description="Folder to watch for campaign files (created if missing).")
    out_root: str = Field(description="Where each campaign's outputs go (one folder per file).")
    cron: str = Field("*/5 * * * *", description="When campaign-inbox scans the inbox (cron syntax).")
    settle_seconds: float = Field(10.0, ge=0, description="A file must be unchanged this long before it is picked up.")


SETTINGS = {"rendering": RenderSettings, "safeguards": Safeguards, "execution": Execution, "review": ReviewSettings}


def from_options(**options: Any) -> dict[str, _Settings]:
    """The three models from one flat set of option names (as the CLI has them), keyed by the
    flow's parameter names. An option no model has is a TypeError naming it."""
    owners = {name: group for group, model in SETTINGS.items() for name in model.model_fields}
    unknown = sorted(set(options) - set(owners))
    if unknown:
        raise TypeError(f"unknown run option(s): {', '.join(unknown)}")
    grouped: dict[str, dict] = {group: {} for group in SETTINGS}
    for name, value in options.items():
        grouped[owners[name]][name] = value
    return {group: SETTINGS[group](**values) for group, values in grouped.items()}
