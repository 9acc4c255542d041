"""A validated campaign: its rows as typed values (spreadsheet.py validates them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pixio_ads.campaign.copy import LanguageCopy
from pixio_ads.campaign.platforms import (
    DEFAULT_OBJECTIVE,
)
from pixio_ads.core.formats import AdFormat
from pixio_ads.creative.brand import DEFAULT_BRAND, BrandKit
from pixio_ads.creative.composite import (
    Placement,
)

MULTI_SEPARATOR = ";"
MAX_VARIANTS_PER_COMBINATION = 1000
MODES = ("compose", "inpaint", "restyle", "replace", "expand", "edit")
DEFAULT_STRENGTH = {"compose": 1.0, "inpaint": 1.0, "restyle": 0.6, "replace": 1.0, "expand": 1.0, "edit": 1.0}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
DEFAULT_QUALITY = 90


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the campaign points at: as written, resolved, and its content hash."""

    relative: str
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class AdapterFile:
    """A LoRA or IP-Adapter weights file: as written (a path, or hf:org/name/file), resolved, hash."""

    relative: str
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class Lora:
    file: AdapterFile
    weight: float


@dataclass(frozen=True, slots=True)
class StyleRef:
    """A reference image for style, applied through an IP-Adapter at ``scale``."""

    image: ImageRef
    adapter: AdapterFile
    scale: float


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One validated product line. ``row`` is the spreadsheet row number (header = 1)."""

    row: int
    campaign_id: str
    product_id: str
    product_name: str
    product_image: str  # as written, relative to the campaign folder
    product_image_path: Path
    product_image_sha256: str
    template: str
    template_path: Path
    audiences: tuple[str, ...]
    styles: tuple[str, ...]
    formats: tuple[AdFormat, ...]
    headline: str  # the first language's first option (templates see it)
    cta: str
    copy: tuple[LanguageCopy, ...] = ()  # every language's copy options (copy.py)
    variants: int = 1
    base_seed: int | None = None
    negative_prompt: str = ""
    model: str | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    revision: str | None = None
    vae: str | None = None
    dtype: str | None = None
    mode: str = "compose"
    strength: float = 1.0
    source_image: ImageRef | None = None  # restyle/replace/expand; None: the product image
    source_has_copy: str = "no"  # expand: "yes" when the source carries its own copy (only the AI label is added)
    replace_mask: ImageRef | None = None
    product_mask: ImageRef | None = None
    cutout: str = "auto"  # auto, none or mask (cutout.py)
    min_product_fidelity: float = 0.0  # below it a creative fails (fidelity.py); 0: recorded only
    edit_keep_product: str = "paste"  # edit mode below min_product_fidelity: paste, fail or off (run/compose.py)
    loras: tuple[Lora, ...] = ()  # the brand kit's and the row's (campaign/adapters.py)
    style: StyleRef | None = None
    placement: Placement = Placement()
    brand: BrandKit = DEFAULT_BRAND
    output_format: str = "png"
    quality: int = DEFAULT_QUALITY
    # video (columns_video.py): motion "none" makes stills
    motion: str = "none"
    duration: float = 6.0
    fps: int = 30
    video_model: str | None = None
    motion_prompt: str = ""  # a Jinja template; "" = the prompt
    audio: ImageRef | None = None
    deliverables: str = "creative"  # files written: "creative" or "creative; clean" (deliverables.py)
    # for the ad platforms (platforms.py); none of these changes the pixels
    platforms: tuple[str, ...] = ()
    link: str = ""
    primary_text: str = ""
    description: str = ""
    display_link: str = ""
    business_name: str = ""
    ad_set: str = ""
    objective: str = DEFAULT_OBJECTIVE
    call_to_action: str = ""  # a key of platforms.CALLS_TO_ACTION; "" when no platform needs one
    ad_settings: str = ""  # JSON per platform: budget, targeting, Page (adsettings.py); "" without platforms


@dataclass(slots=True)
class Campaign:
    path: Path
    rows: list[CampaignRow]
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent


def split_multi(cell: str) -> tuple[str, ...]:
    """``"square; story"`` -> ``("square", "story")``. The one way multi-valued cells are split."""
    return tuple(part.strip() for part in cell.split(MULTI_SEPARATOR) if part.strip())
