"""Expansion: campaign rows -> variants (product x audience x style x format x seed).

Every variant gets a deterministic seed and a ``variant_id`` hashed from everything
that determines its pixels, so expanding the same file twice gives the same ids and
seeds in the same order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

from pixio_ads.campaign.adapters import adapter_columns, adapter_hash_terms, adapter_issues
from pixio_ads.campaign.columns_video import motion_prompt_for, video_fields
from pixio_ads.campaign.copy import DEFAULT_LANGUAGE, LanguageCopy
from pixio_ads.campaign.deliverables import CREATIVE
from pixio_ads.campaign.models import Settings, forget_models, model_issues, resolve_settings
from pixio_ads.campaign.prompts import PromptRenderer, TemplateError
from pixio_ads.campaign.rows import Campaign, CampaignRow
from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID
from pixio_ads.settings import RenderSettings

# Bump when rendering/compositing changes what pixels a variant gets, so ids change too.
RECIPE_VERSION = 2  # 2: cut-out, layout, shadows, copy overlay, modes


# Not frozen: a frozen dataclass sets each of these fields through object.__setattr__, which
# made building 100,000 variants ~30% slower. Variants are never modified after expand().
@dataclass(slots=True)
class Variant:
    variant_id: str
    campaign_id: str
    product_id: str
    product_name: str
    source_row: int
    audience: str
    style: str
    format: str
    width: int
    height: int
    seed_index: int
    seed: int = field(metadata={"arrow": "int64"})  # up to 2**32 - 1
    prompt: str
    negative_prompt: str
    template_name: str
    template_sha256: str
    model_id: str
    revision: str  # "" for the default branch / a local checkpoint
    dtype: str
    vae: str  # "" for the checkpoint's own VAE
    scheduler: str
    steps: int
    guidance: float
    upscaler: str  # "" when backgrounds are resized with Lanczos
    upscaler_steps: int
    headline: str  # the option drawn into the image
    cta: str
    language: str  # BCP 47 tag of the copy and the AI label (copy.py)
    headline_option: int  # which of the language's headline options (1-5)
    cta_option: int
    copy_options: str  # JSON: the language's headline, primary text and description options, the row's languages
    product_image: str  # absolute path on this machine
    product_image_sha256: str
    mode: str  # compose, inpaint, restyle, replace, expand, edit
    strength: float
    source_image: str  # restyle/replace/expand input; "" = the product image
    source_image_sha256: str
    source_has_copy: str  # expand: "yes" = the source carries its copy, only the AI label is drawn
    replace_mask: str  # "" unless mode is replace
    replace_mask_sha256: str
    product_mask: str  # "" = the product's alpha or automatic cut-out
    product_mask_sha256: str
    cutout: str  # auto, none or mask
    min_product_fidelity: float  # not part of the id: what ships, not its pixels
    edit_keep_product: str  # edit mode below min_product_fidelity: paste, fail or off (not part of the id)
    # Style adapters (campaign/adapters.py): paths on this machine; the id hashes contents and weights.
    lora: str  # "path:weight; path:weight"
    lora_sha256: str  # "sha; sha", in the same order
    style_image: str  # the IP-Adapter's reference image
    style_image_sha256: str
    ip_adapter: str
    ip_adapter_sha256: str
    style_scale: float  # 0 without a style image
    anchor: str
    product_scale: float
    margin: float
    shadow: str
    harmonize: float
    brand_kit: str  # "" = the built-in defaults
    brand_kit_sha256: str
    output_format: str  # png, jpeg, webp
    quality: int
    deliverables: str  # files written: "creative" or "creative; clean" (deliverables.py)
    # video (columns_video.py, run/clips.py): "none" makes a still and none of the rest applies
    motion: str  # none, zoom, pan, parallax or model
    duration: float  # seconds
    fps: int
    video_model: str  # motion "model": the image-to-video checkpoint
    motion_prompt: str  # motion "model": what moves (rendered)
    audio: str  # the music bed's path on this machine ("" silent)
    audio_sha256: str
    # What the ad platforms get besides the image (platforms.py, export.py). Not part of the
    # variant id: changing a link does not re-render; the manifest takes them from each plan.
    platforms: str  # "meta; google"
    link: str
    primary_text: str
    description: str
    display_link: str
    business_name: str
    ad_set: str
    objective: str
    call_to_action: str
    ad_settings: str  # JSON: each platform's budget, targeting and Page (adsettings.py)

    @property
    def batch_key(self) -> tuple:
        """Variants with equal keys can share one forward pass."""
        return (
            self.model_id, self.revision, self.dtype, self.vae, self.scheduler, self.width, self.height, self.steps,
            self.guidance, self.upscaler, self.upscaler_steps, self.mode, self.strength,
            # a batch never mixes adapters: the pipeline runs with one set at a time
            self.lora, self.style_image, self.ip_adapter, self.style_scale,
        )  # fmt: skip


def derive_seed(campaign_id: str, product_id: str, audience: str, style: str, seed_index: int) -> int:
    """A stable 31-bit seed per creative idea; formats share it so one idea looks alike across sizes."""
    key = "\x1f".join((campaign_id, product_id, audience, style, str(seed_index))).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


def _json_items(*values: object) -> str:
    """The values as a JSON list writes them, without the brackets. A variant id hashes the
    JSON list [RECIPE_VERSION, campaign, product, prompt, negative prompt, width, height,
    render settings, headline, cta, product sha256, creative settings...] and then its seed;
    the parts a combination shares are serialised once (100,000 variants in about a second)."""
    return _ENCODE(values)[1:-1]


# One encoder for every id: json.dumps with options builds a new one per call (~5 us each).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_OPTIONS_JSON = json.JSONEncoder(ensure_ascii=False).encode


def variant_id(prefix: "hashlib._Hash", seed: int) -> str:
    digest = prefix.copy()
    digest.update(b"\x1f%d" % seed)
    return digest.hexdigest()[:20]


CREATIVE_FIELDS = (
    "mode", "strength", "source_image", "source_image_sha256", "replace_mask", "replace_mask_sha256",
    "product_mask", "product_mask_sha256", "anchor", "product_scale", "margin", "shadow", "harmonize",
    "brand_kit", "brand_kit_sha256", "output_format", "quality",
)  # fmt: skip


def creative_columns(row: CampaignRow) -> tuple:
    """The row's compositing, copy and output settings, in CREATIVE_FIELDS order."""

    def ref(image) -> tuple[str, str]:
        return (str(image.path), image.sha256) if image else ("", "")

    placement = row.placement
    return (
        row.mode, row.strength, *ref(row.source_image), *ref(row.replace_mask), *ref(row.product_mask),
        placement.anchor, placement.scale, placement.margin, placement.shadow, placement.harmonize,
        row.brand.path, row.brand.sha256, row.output_format, row.quality,
    )  # fmt: skip


AD_FIELDS = (
    "platforms", "link", "primary_text", "description", "display_link", "business_name", "ad_set", "objective",
    "call_to_action", "ad_settings",
)  # fmt: skip


def ad_columns(row: CampaignRow) -> dict[str, str]:
    """The row's ad platform fields as manifest strings (platforms joined with '; ')."""
    values = {name: getattr(row, name) for name in AD_FIELDS}
    values["platforms"] = "; ".join(row.platforms)
    return values


def template_context(row: CampaignRow, shared: list, fmt) -> dict:
    """What a prompt template sees: the row's fields plus this combination's values
    (``shared``: the variant's record, audience, style, language and copy set)."""
    return {
        "campaign_id": row.campaign_id,
        "product_id": row.product_id,
        "product_name": row.product_name,
        "headline": shared[_SLOT["headline"]],
        "cta": shared[_SLOT["cta"]],
        "language": shared[_SLOT["language"]],
        "negative_prompt": row.negative_prompt,
        "audience": shared[_SLOT["audience"]],
        "style": shared[_SLOT["style"]],
        "format": fmt.name,
        "width": fmt.width,
        "height": fmt.height,
    }


def expand(
    campaign: Campaign, overrides: RenderSettings = RenderSettings(), limit: int | None = None
) -> list[Variant]:
    """All variants of a campaign in a stable order (the first ``limit`` when given).
    Raises ValidationError listing every template error and duplicate row."""
    forget_models()  # checkpoints read afresh for each expansion
    expansion = _Expansion(campaign, overrides)
    for row in campaign.rows:
        expansion.add_row(row)
    if expansion.issues:
        raise ValidationError(list(expansion.issues.values()))
    # The whole file is validated even with a limit: errors further down still surface.
    return expansion.variants if limit is None else expansion.variants[:limit]


class _Expansion:
    """Variants collected row by row; template errors (once each) and duplicate rows collected
    as issues."""

    def __init__(self, campaign: Campaign, overrides: RenderSettings):
        self.campaign, self.overrides = campaign, overrides
        self.renderer = PromptRenderer()
        self.upscaler = overrides.upscaler or ""
        self.upscaler_steps = overrides.upscaler_steps if self.upscaler else 0
        self.variants: list[Variant] = []
        self.issues: dict[tuple, Issue] = {}
        self.seen: dict[str, int] = {}  # variant id -> the row that made it

    def add_row(self, row: CampaignRow) -> None:
        try:
            compiled = self.renderer.compile(row.template, row.template_path)
        except TemplateError as exc:
            self.issues.setdefault((exc.issue.file, exc.issue.line, exc.issue.message), exc.issue)
            return
        settings = resolve_settings(row, self.overrides)
        file = str(self.campaign.path)
        overridden = settings.model != (row.model or EMBEDDED_MODEL_ID)  # --model: the row's adapters checked again
        found = model_issues(row, settings.model, settings.scheduler, file, overridden)
        for issue in found + (adapter_issues(row, settings.model, file) if overridden else []):
            self.issues.setdefault((issue.column, issue.row, issue.message), issue)
        creative_fields = creative_columns(row)
        video = self._video_fields(row)  # its model checked once per row
        # The hash takes content hashes, not paths: moving the campaign folder keeps the ids.
        hashed = [value for name, value in zip(CREATIVE_FIELDS, creative_fields) if name not in _PATH_FIELDS]
        common = _record(
            {},
            campaign_id=row.campaign_id, product_id=row.product_id, product_name=row.product_name, source_row=row.row,
            negative_prompt=row.negative_prompt, template_name=row.template, template_sha256=compiled.sha256,
            model_id=settings.model, revision=settings.revision, dtype=settings.dtype, vae=settings.vae,
            scheduler=settings.scheduler, steps=settings.steps, guidance=settings.guidance, upscaler=self.upscaler,
            upscaler_steps=self.upscaler_steps,
            headline=row.headline, cta=row.cta, product_image=str(row.product_image_path),
            product_image_sha256=row.product_image_sha256, **dict(zip(CREATIVE_FIELDS, creative_fields)),
            deliverables=row.deliverables, cutout=row.cutout, min_product_fidelity=row.min_product_fidelity,
            edit_keep_product=row.edit_keep_product,
            source_has_copy=row.source_has_copy, **video, **adapter_columns(row), **ad_columns(row),
        )  # fmt: skip
        # A clean image is one more file to write: rows that write one get other ids (a rerun
        # writes it), the others keep theirs.
        if row.deliverables != CREATIVE:
            hashed.append(row.deliverables)
        if row.cutout != "auto":  # likewise: only a chosen cut-out changes the ids
            hashed.append(f"cutout={row.cutout}")
        if row.source_has_copy == "yes":
            hashed.append("source_has_copy")
        hashed.extend(adapter_hash_terms(row))
        if row.motion != "none":  # a video: other ids than the row's stills (which keep theirs)
            hashed.append(_json_items(row.motion, row.duration, row.fps, video["video_model"], row.motion_prompt))
            hashed.extend([f"audio={row.audio.sha256}"] if row.audio else [])
        for audience in row.audiences:
            for style in row.styles:
                seeds = [
                    row.base_seed + index
                    if row.base_seed is not None
                    else derive_seed(row.campaign_id, row.product_id, audience, style, index)
                    for index in range(row.variants)
                ]
                for copy in row.copy or _single_copy(row):
                    texts = _copy_values(row, copy)
                    for choice in _copy_choices(copy):
                        shared = _record(common, audience=audience, style=style, **texts, **choice)
                        self._add_formats(row, compiled, settings, hashed, seeds, shared)

    def _video_fields(self, row: CampaignRow) -> dict:
        """The row's video columns (--video-model winning), its model's problem reported once."""
        fields, issue = video_fields(row, self.overrides.video_model, str(self.campaign.path))
        if issue is not None:
            self.issues.setdefault(("video_model", fields["video_model"] or row.row, issue.message), issue)
        return fields

    def _motion_prompt(self, row: CampaignRow, shared: list, fmt, prompt: str) -> str:
        text, issue = motion_prompt_for(
            self.renderer.env, row, template_context(row, shared, fmt), prompt, str(self.campaign.path)
        )
        if issue is not None:
            self.issues.setdefault(("motion_prompt", row.row), issue)
        return text

    def _add_formats(self, row: CampaignRow, compiled, settings: Settings, hashed: list, seeds, shared: list) -> None:
        """One combination of audience, style, language and copy option, in every format."""
        language, headline, cta = (shared[_SLOT[name]] for name in ("language", "headline", "cta"))
        # ids kept from before languages and VAEs: only a non-English language and a set VAE add a term
        language_term = [language] if language != DEFAULT_LANGUAGE else []
        render = _json_items(
            settings.model, settings.revision, settings.dtype, settings.scheduler, settings.steps, settings.guidance,
            self.upscaler, self.upscaler_steps, *([f"vae={settings.vae}"] if settings.vae else []),
        )  # fmt: skip
        copy = _json_items(headline, cta, row.product_image_sha256, *hashed, *language_term)
        for fmt in row.formats:
            prompt = self._prompt(compiled, row, shared, fmt)
            if prompt is not None:
                # the id's payload (_json_items), its unchanging parts serialised once per combination
                varying = _json_items(
                    row.campaign_id, row.product_id, prompt, row.negative_prompt, fmt.width, fmt.height
                )
                payload = f"[{RECIPE_VERSION},{varying},{render},{copy}]"
                prefix = hashlib.sha256(payload.encode("utf-8"))
                values = _record(
                    shared, format=fmt.name, width=fmt.width, height=fmt.height, prompt=prompt,
                    motion_prompt=self._motion_prompt(row, shared, fmt, prompt),
                )  # fmt: skip
                self._add_seeds(row, prefix, seeds, values)

    def _prompt(self, compiled, row: CampaignRow, shared: list, fmt) -> str | None:
        try:
            return self.renderer.render(compiled, template_context(row, shared, fmt))
        except TemplateError as exc:
            issue = exc.issue
            first_use = Issue(
                issue.file, issue.message + f" (first used by campaign row {row.row})", issue.fix, line=issue.line
            )
            self.issues.setdefault((issue.file, issue.line, issue.message), first_use)
            return None

    def _add_seeds(self, row: CampaignRow, prefix, seeds: list[int], values: list) -> None:
        for index, seed in enumerate(seeds):
            vid = variant_id(prefix, seed)
            if vid in self.seen:
                duplicate = Issue(
                    str(self.campaign.path),
                    f"row repeats the variants of row {self.seen[vid]}",
                    "remove the duplicate row or change one of its values",
                    row=row.row,
                )
                self.issues.setdefault(("duplicate", row.row, self.seen[vid]), duplicate)
                continue
            self.seen[vid] = row.row
            values[_SLOT["variant_id"]], values[_SLOT["seed_index"]], values[_SLOT["seed"]] = vid, index, seed
            self.variants.append(Variant(*values))


def _single_copy(row: CampaignRow) -> tuple[LanguageCopy, ...]:
    """A row built in code without copy options: its headline and CTA, in English."""
    texts = (row.primary_text,) if row.primary_text else ()
    return (LanguageCopy(DEFAULT_LANGUAGE, (row.headline,), (row.cta,), texts, (row.description,)),)


def _copy_values(row: CampaignRow, copy: LanguageCopy) -> dict:
    """The variant columns a language sets: its first primary text and description (for the
    platforms) and every option as JSON (copy_options)."""
    options = {
        "headlines": copy.headlines, "primary_texts": copy.primary_texts, "descriptions": copy.descriptions,
        "languages": [c.language for c in row.copy] or [copy.language],
    }  # fmt: skip
    return {
        "language": copy.language,
        "primary_text": (copy.primary_texts or ("",))[0],
        "description": (copy.descriptions or ("",))[0],
        "copy_options": json.dumps(options, ensure_ascii=False),
    }


def _copy_choices(copy: LanguageCopy) -> list[dict]:
    """Each headline x CTA option, numbered from 1."""
    return [
        {"headline": headline, "cta": cta, "headline_option": h, "cta_option": c}
        for h, headline in enumerate(copy.headlines, start=1)
        for c, cta in enumerate(copy.ctas, start=1)
    ]


def _record(base: list | dict, **named) -> list:
    """A Variant's values in its field order, set by name: ``base`` (a record, or {} for an
    empty one) with ``named`` fields replaced. Named, so no value lands in the wrong field;
    a list, so the 100,000 variants of a campaign are made positionally (keywords for each
    cost ~25% of expand)."""
    values = list(base) if isinstance(base, list) else [None] * len(_SLOT)
    for name, value in named.items():
        values[_SLOT[name]] = value
    return values


_SLOT = {f.name: index for index, f in enumerate(fields(Variant))}
_PATH_FIELDS = ("source_image", "replace_mask", "product_mask", "brand_kit")  # where files are, not what
