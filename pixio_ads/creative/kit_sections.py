"""Brand kit sections beside the look (brand.py reads them): the ad platforms' settings every
row of the brand shares, and the brand's style adapters (a LoRA, a reference image)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pixio_ads.core.errors import Issue
from pixio_ads.render.adapters import shapes_of

LORA_WEIGHT_RANGE = (-2.0, 2.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetaAds(_Strict):
    """Meta settings every row of the brand shares (a row's own column wins; adsettings.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    page_id: str = ""
    instagram_id: str = ""
    daily_budget: str = ""
    lifetime_budget: str = ""
    countries: list[str] | str = ""
    age_range: str = ""
    special_ad_categories: str = ""
    pixel_id: str = ""
    conversion_event: str = ""
    deliverable: Literal["", "creative", "clean"] = ""  # the image Meta ads use (deliverables.py)


class GoogleAds(_Strict):
    """Google Ads settings every row of the brand shares, Display and Performance Max alike."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
    daily_budget: str = ""
    bid_strategy: str = ""
    eu_political_ads: str = ""
    deliverable: Literal["", "creative", "clean"] = ""  # the image Google ads use (deliverables.py)


AD_SECTIONS = ("meta", "google")  # not part of the kit's hash: they never change the pixels


class StyleReference(_Strict):
    """A reference image the brand's creatives take their style from, through an IP-Adapter
    (``ip_adapter``: its .safetensors weights, with the CLIP image encoder in image_encoder/
    beside it). Paths are relative to the kit."""

    image: str | None = None
    ip_adapter: str | None = None
    scale: float = Field(default=0.5, ge=0.0, le=1.0)


def parse_loras(text: str) -> tuple[list[tuple[str, float]], list[str]]:
    """``"brand.safetensors:0.8; product.safetensors"`` -> ([(name, weight)], problems). A
    weight is optional (1), from -2 to 2, and not 0; a file named twice is a problem."""
    found: list[tuple[str, float]] = []
    problems: list[str] = []
    for part in (piece.strip() for piece in text.split(";")):
        if not part:
            continue
        name, weight = part, 1.0
        head, _, tail = part.rpartition(":")
        if head and head.strip().lower() != "hf":  # "hf:org/name/file" is a name without a weight
            try:
                name, weight = head.strip(), float(tail)
            except ValueError:
                problems.append(f"{part!r}: the weight after ':' must be a number, e.g. {head.strip()}:0.8")
                continue
        low, high = LORA_WEIGHT_RANGE
        if not low <= weight <= high or weight == 0:
            problems.append(f"{name}: weight {weight:g} is out of range ({low:g} to {high:g}, not 0)")
        elif name in (known for known, _ in found):
            problems.append(f"{name} is named twice")
        else:
            found.append((name, weight))
    return found, problems


def kit_adapters(lora: str, style: StyleReference, assets, image_problem):
    """The kit's LoRAs ((path, weight) each), style image and IP-Adapter, resolved beside it
    by ``assets`` (brand._KitAssets: inside the kit's folder, hashed into the kit's sha256).
    Whether they suit a row's model is checked per row (campaign/adapters.py)."""

    def safetensors_problem(path: Path) -> str | None:
        found = shapes_of(path)
        return found if isinstance(found, str) else None

    named, problems = parse_loras(lora)
    for problem in problems:
        assets.issues.append(
            Issue(assets.file, problem, "write `file.safetensors:0.8; other.safetensors`", key="lora")
        )
    loras = tuple(
        (path, weight) for name, weight in named if (path := assets.resolve("lora", name, safetensors_problem))
    )
    if bool(style.image) != bool(style.ip_adapter):
        fix = "give both style.image and style.ip_adapter, or neither"
        assets.issues.append(
            Issue(assets.file, "a style reference needs an image and an IP-Adapter", fix, key="style")
        )
    image = assets.resolve("style.image", style.image, image_problem)
    adapter = assets.resolve("style.ip_adapter", style.ip_adapter, safetensors_problem)
    return loras, image, adapter
