"""Brand kits: logo, fonts, colours and button style, from a YAML or JSON file beside the
campaign. Every problem names the file and the key and says how to fix it.

Example ``brand.yaml``::

    name: Aurora
    logo: logo.png                 # relative to this file; PNG with transparency works best
    logo_position: top-left        # top-left, top-right, bottom-left, bottom-right
    fonts:
      headline: fonts/Brand-Bold.ttf   # TTF/OTF; the bundled DejaVu Sans is the fallback
      cta: fonts/Brand-Regular.ttf
      emoji: fonts/NotoColorEmoji.ttf  # colour emoji in the copy; default: the system's (emoji.py)
    colors:
      text: "#FFFFFF"              # headline colour (replaced by black/white if it lacks contrast)
      scrim: "#000000"             # panel behind the headline when the scene is too busy
      palette: ["#14213D", "#FCA311", "#E5E5E5"]   # brand colours scenes are scored against
    cta:
      color: "#E4572E"             # button fill
      text_color: "#FFFFFF"
      shape: pill                  # pill, rounded or square
    ai_label:                      # the visible disclosure every creative carries
      text: AI-generated
      position: auto               # auto (bottom corner away from the logo) or a corner
      opacity: 0.7                 # of the dark badge behind the white text, 0.6-1
    scoring:
      weights: {legibility: 0.3, brand_colour: 0.2}   # others keep their defaults (scoring.py)
    lora: styles/aurora-look.safetensors:0.8          # LoRA adapters every row renders with
    style:                         # a reference image for style, through an IP-Adapter
      image: styles/moodboard.jpg
      ip_adapter: adapters/ip-adapter_sd15.safetensors   # its image_encoder/ folder beside it
      scale: 0.5
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.creative.composite import LOGO_POSITIONS
from pixio_ads.creative.emoji import colour_font_problem, system_emoji_font
from pixio_ads.creative.kit_sections import AD_SECTIONS, GoogleAds, MetaAds, StyleReference, kit_adapters
from pixio_ads.creative.scoring import COMPONENTS, DEFAULT_WEIGHTS
from pixio_ads.creative.scripts import NOTO

FONTS_DIR = Path(str(resources.files("pixio_ads").joinpath("fonts")))  # package data
DEFAULT_HEADLINE_FONT = FONTS_DIR / "DejaVuSans-Bold.ttf"
DEFAULT_BODY_FONT = FONTS_DIR / "DejaVuSans.ttf"
BRAND_SUFFIXES = (".yaml", ".yml", ".json")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

Colour = tuple[int, int, int]


def parse_colour(text: str) -> Colour:
    """``#E4572E`` or ``#fff`` -> (r, g, b)."""
    if not _HEX.match(text):
        raise ValueError(f"{text!r} is not a colour; write it as #RRGGBB, e.g. #E4572E")
    digits = text[1:] if len(text) == 7 else "".join(ch * 2 for ch in text[1:])
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fonts(_Strict):
    headline: str | None = None
    cta: str | None = None
    emoji: str | None = None
    # a font per script (scripts.py names them: arabic, thai, han, ...) for copy in that script
    scripts: dict[Literal[tuple(NOTO)], str] = Field(default_factory=dict)  # type: ignore[valid-type]


def _colour_field(value: str) -> str:
    parse_colour(value)
    return value


class _Colours(_Strict):
    text: str = "#FFFFFF"
    scrim: str = "#000000"
    palette: list[str] = Field(default_factory=list, max_length=16)

    check_colours = field_validator("text", "scrim")(_colour_field)

    @field_validator("palette")
    @classmethod
    def check_palette(cls, values: list[str]) -> list[str]:
        return [_colour_field(value) for value in values]


class _Scoring(_Strict):
    weights: dict[Literal[COMPONENTS], float] = Field(default_factory=dict)  # type: ignore[valid-type]

    @field_validator("weights")
    @classmethod
    def check_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        if any(value < 0 for value in weights.values()):
            raise ValueError("weights must be 0 or more")
        return weights


class _Cta(_Strict):
    color: str = "#E4572E"
    text_color: str = "#FFFFFF"
    shape: Literal["pill", "rounded", "square"] = "pill"

    check_colours = field_validator("color", "text_color")(_colour_field)


class _AiLabel(_Strict):
    text: str = Field(default="AI-generated", min_length=1, max_length=40)
    # the label per language (BCP 47 tag: text), over the built-in table (labels.py)
    translations: dict[str, str] = Field(default_factory=dict)
    position: Literal[("auto", *LOGO_POSITIONS)] = "auto"  # type: ignore[valid-type]
    # Below 0.6 the badge over a white scene would give the white text less than 4.5:1.
    opacity: float = Field(default=0.7, ge=0.6, le=1.0)


class _BrandFile(_Strict):
    name: str = ""
    logo: str | None = None
    logo_position: Literal[LOGO_POSITIONS] = "top-left"  # type: ignore[valid-type]
    mirror_rtl: bool = True
    text_align: Literal["center", "start"] = "center"
    fonts: _Fonts = Field(default_factory=_Fonts)
    colors: _Colours = Field(default_factory=_Colours)
    cta: _Cta = Field(default_factory=_Cta)
    ai_label: _AiLabel = Field(default_factory=_AiLabel)
    scoring: _Scoring = Field(default_factory=_Scoring)
    meta: MetaAds = Field(default_factory=MetaAds)
    google: GoogleAds = Field(default_factory=GoogleAds)
    lora: str = ""  # LoRA files beside the kit, `file.safetensors:0.8; other.safetensors`
    style: StyleReference = Field(default_factory=StyleReference)


def label_corner(position: str, logo_position: str | None) -> str:
    """``auto``: the bottom corner away from a bottom logo (bottom-right otherwise)."""
    if position != "auto":
        return position
    return "bottom-left" if logo_position == "bottom-right" else "bottom-right"


@dataclass(frozen=True, slots=True)
class BrandKit:
    """A validated brand kit with resolved paths. ``sha256`` covers the file and every
    asset it points to, so changing the logo or a font changes the variant ids."""

    name: str
    logo: Path | None
    logo_position: str | None  # None when there is no logo
    headline_fonts: tuple[Path, ...]  # first choice first; the bundled font last
    cta_fonts: tuple[Path, ...]
    text_colour: Colour
    scrim_colour: Colour
    cta_colour: Colour
    cta_text_colour: Colour
    cta_shape: str
    label_text: str
    label_position: str  # a corner
    label_opacity: float
    path: str  # "" for the default kit
    sha256: str
    palette: tuple[Colour, ...] = ()  # brand colours scenes are scored against
    score_weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())
    # The kit's colour emoji font, else the system's (not in sha256: a machine's fonts do
    # not change the variant ids; rows whose emoji were left out say so in missing_glyphs).
    emoji_font: Path | None = None
    # Fonts per script, (script, path) pairs (scripts.fonts_for), and the label's translations.
    script_fonts: tuple[tuple[str, Path], ...] = ()
    label_translations: tuple[tuple[str, str], ...] = ()
    # Right-to-left copy mirrors the logo's and the label's corners (left <-> right).
    mirror_rtl: bool = True
    # Headline lines centred, or against the start edge (left, or right for right-to-left copy).
    text_align: str = "center"
    # The kit's ``meta`` / ``google`` sections: {platform: {key: value}} (adsettings.py).
    ads: dict = field(default_factory=dict, hash=False, compare=False)
    # Style adapters every row of the brand renders with (a row's columns add or override).
    loras: tuple[tuple[Path, float], ...] = ()
    style_image: Path | None = None
    ip_adapter: Path | None = None
    style_scale: float = 0.5

    @property
    def emoji_path(self) -> str | None:
        return str(self.emoji_font) if self.emoji_font else None

    @property
    def scoring_colours(self) -> list[Colour] | None:
        """The palette, else the kit's button, scrim and text colours; None without a kit."""
        if not self.path:
            return None
        return list(self.palette) or [self.cta_colour, self.scrim_colour, self.text_colour]


DEFAULT_BRAND = BrandKit(
    name="", logo=None, logo_position=None,
    headline_fonts=(DEFAULT_HEADLINE_FONT,), cta_fonts=(DEFAULT_HEADLINE_FONT,),
    text_colour=(255, 255, 255), scrim_colour=(0, 0, 0), cta_colour=(228, 87, 46), cta_text_colour=(255, 255, 255),
    cta_shape="pill", label_text="AI-generated", label_position="bottom-right", label_opacity=0.7, path="", sha256="",
    emoji_font=system_emoji_font(),
)  # fmt: skip


@lru_cache(maxsize=64)
def load_brand_kit(path: Path) -> BrandKit:
    """Read and validate a brand kit. Raises ValidationError listing every problem."""
    file = str(path)
    text, data = _read_kit(path)
    try:
        raw = _BrandFile.model_validate(data)
    except PydanticError as exc:
        raise ValidationError([_issue(file, error) for error in exc.errors()]) from None
    assets = _KitAssets(path, _hashed_text(text, data))
    logo = assets.resolve("logo", raw.logo, _image_problem)
    headline_font = assets.resolve("fonts.headline", raw.fonts.headline, _font_problem)
    cta_font = assets.resolve("fonts.cta", raw.fonts.cta, _font_problem)
    emoji_font = assets.resolve("fonts.emoji", raw.fonts.emoji, colour_font_problem)
    script_fonts = tuple(
        (script, found)
        for script, relative in raw.fonts.scripts.items()
        if (found := assets.resolve(f"fonts.scripts.{script}", relative, _font_problem))
    )
    loras, style_image, ip_adapter = kit_adapters(raw.lora, raw.style, assets, _image_problem)
    label_position = label_corner(raw.ai_label.position, raw.logo_position if logo else None)
    if logo and label_position == raw.logo_position:
        message = f"the AI label and the logo cannot share the {label_position} corner"
        assets.issues.append(
            Issue(file, message, "pick another corner, or auto", key="ai_label.position", value=raw.ai_label.position)
        )
    if assets.issues:
        raise ValidationError(assets.issues)
    return BrandKit(
        name=raw.name,
        logo=logo,
        logo_position=raw.logo_position if logo else None,
        headline_fonts=tuple(p for p in (headline_font, DEFAULT_HEADLINE_FONT) if p),
        cta_fonts=tuple(p for p in (cta_font, headline_font, DEFAULT_HEADLINE_FONT) if p),
        text_colour=parse_colour(raw.colors.text),
        scrim_colour=parse_colour(raw.colors.scrim),
        cta_colour=parse_colour(raw.cta.color),
        cta_text_colour=parse_colour(raw.cta.text_color),
        cta_shape=raw.cta.shape,
        label_text=raw.ai_label.text,
        label_translations=tuple(raw.ai_label.translations.items()),
        script_fonts=script_fonts,
        mirror_rtl=raw.mirror_rtl,
        text_align=raw.text_align,
        label_position=label_position,
        label_opacity=raw.ai_label.opacity,
        path=str(path),
        sha256=assets.sha256(),
        palette=tuple(parse_colour(value) for value in raw.colors.palette),
        score_weights=tuple({**DEFAULT_WEIGHTS, **raw.scoring.weights}.items()),
        emoji_font=emoji_font or system_emoji_font(),
        ads={name: getattr(raw, name).model_dump(exclude_defaults=True) for name in AD_SECTIONS},
        loras=loras,
        style_image=style_image,
        ip_adapter=ip_adapter,
        style_scale=raw.style.scale,
    )


def _hashed_text(text: str, data: dict) -> str:
    """What the kit's hash covers: its text, or, when it has ad platform sections, everything
    else (so a new budget or Page id does not render the creatives again)."""
    if not any(name in data for name in AD_SECTIONS):
        return text  # kits without the sections keep their hash, and their variant ids
    rest = {key: value for key, value in data.items() if key not in AD_SECTIONS}
    return json.dumps(rest, sort_keys=True, ensure_ascii=False, default=str)


def _read_kit(path: Path) -> tuple[str, dict]:
    """(file text, parsed mapping); every way it can fail is a ValidationError naming the file."""
    file = str(path)
    if path.suffix.lower() not in BRAND_SUFFIXES:
        message = f"unsupported brand kit type {path.suffix or '(none)'!r}"
        raise ValidationError([Issue(file, message, "write the brand kit as .yaml, .yml or .json")])
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            [Issue(file, f"cannot read the brand kit: {exc}", "check the path in the brand_kit column")]
        ) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = getattr(exc, "lineno", None) or (mark.line + 1 if mark else None)
        message = f"not valid {path.suffix[1:].upper()}: {getattr(exc, 'problem', None) or exc}"
        raise ValidationError([Issue(file, message, "fix the syntax", line=line)]) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        message = "the brand kit must be a mapping of keys (name, logo, fonts, colors, cta)"
        raise ValidationError([Issue(file, message, "see the brand kit example in docs/creatives.md")])
    return text, data


class _KitAssets:
    """The kit's logo and fonts: inside its folder, present, readable; their bytes and the
    kit's text make the kit's hash (in every variant id that uses it)."""

    def __init__(self, path: Path, text: str):
        self.file, self.folder = str(path), path.parent.resolve()
        self.issues: list[Issue] = []
        self._hash = hashlib.sha256(text.encode())

    def resolve(self, key: str, relative: str | None, check) -> Path | None:
        if relative is None:
            return None
        resolved = (self.folder / relative).resolve()
        if not resolved.is_relative_to(self.folder):
            fix = "keep logos and fonts beside the brand kit and use relative paths"
            self.issues.append(Issue(self.file, "path leaves the brand kit's folder", fix, key=key, value=relative))
        elif not resolved.is_file():
            fix = f"put the file at {resolved} or correct the path"
            self.issues.append(Issue(self.file, "file not found", fix, key=key, value=relative))
        elif problem := check(resolved):
            fix = (
                "use a TrueType/OpenType font file"
                if key.startswith("fonts")
                else "use a .safetensors adapter file"
                if key in ("lora", "style.ip_adapter")
                else "use a PNG, JPEG or WebP image"
            )
            self.issues.append(Issue(self.file, problem, fix, key=key, value=relative))
        else:
            self._hash.update(resolved.read_bytes())
            return resolved
        return None

    def sha256(self) -> str:
        return self._hash.hexdigest()


def brand_kit_at(path: str) -> BrandKit:
    """The kit a variant or manifest row names by path ("" = the built-in defaults)."""
    return load_brand_kit(Path(path)) if path else DEFAULT_BRAND


def _issue(file: str, error: dict) -> Issue:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return Issue(
            file,
            "unknown key",
            "remove it or correct its spelling (see the brand kit example in docs/creatives.md)",
            key=key,
        )
    message = error["msg"].removeprefix("Value error, ")
    return Issue(
        file,
        message,
        "correct the value",
        key=key,
        value=None if isinstance(error.get("input"), dict) else str(error.get("input")),
    )


def _image_problem(path: Path) -> str | None:
    from pixio_ads.core.images import ImageProblem, inspect

    try:
        inspect(path)
    except ImageProblem as exc:
        return exc.message
    return None


def _font_problem(path: Path) -> str | None:
    from PIL import ImageFont

    try:
        ImageFont.truetype(str(path), 12)
    except OSError as exc:
        return f"not a readable font ({exc})"
    return None


def brand_name(variant) -> str:
    """The brand a variant (anything with a ``brand_kit`` path) speaks for: its brand kit's
    name ("" without a kit)."""
    return brand_kit_at(variant.brand_kit).name
