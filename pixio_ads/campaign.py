"""Campaign spreadsheets: read CSV/XLSX/Parquet, validate every cell, return typed rows.

All problems are collected before failing, each naming the file, the row as Excel shows
it (header = row 1), the column, the bad value and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import pandas as pd

from pixio_ads.brand import BRAND_SUFFIXES, DEFAULT_BRAND, BrandKit, load_brand_kit
from pixio_ads.composite import (
    ANCHORS,
    DEFAULT_ANCHOR,
    DEFAULT_MARGIN,
    DEFAULT_PRODUCT_SCALE,
    DEFAULT_SHADOW,
    SHADOWS,
    Placement,
    normalise_anchor,
)
from pixio_ads.errors import Issue, ValidationError
from pixio_ads.fileio import sha256_file
from pixio_ads.formats import FORMAT_HELP, AdFormat, parse_format
from pixio_ads.overlay import TextFitError, fit_copy, layout_for
from pixio_ads.prompts import available_templates, find_template
from pixio_ads.render import DTYPES, SCHEDULER_NAMES

MULTI_SEPARATOR = ";"
MAX_VARIANTS_PER_COMBINATION = 1000
SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
MODES = ("compose", "inpaint", "restyle", "replace")
DEFAULT_STRENGTH = {"compose": 1.0, "inpaint": 1.0, "restyle": 0.6, "replace": 1.0}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
DEFAULT_QUALITY = 90
PREFERRED_SHEET = "campaign"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    meaning: str
    example: str


# The single source of truth for the spreadsheet's columns (docs/spreadsheet.md is generated from it;
# tests/test_docs.py checks that every column is documented).
COLUMNS: tuple[Column, ...] = (
    Column(
        "campaign_id",
        True,
        "Campaign identifier; letters, digits, `.`, `_`, `-`. Used in output paths.",
        "spring-sale-2026",
    ),
    Column("product_id", True, "Product identifier (same rules as campaign_id).", "bottle-01"),
    Column("product_name", True, "Product name as templates and copy refer to it.", "Aurora water bottle"),
    Column(
        "product_image",
        True,
        "Product shot, relative to the spreadsheet's folder (PNG/JPEG/WebP; transparency is used).",
        "products/bottle.png",
    ),
    Column(
        "template",
        True,
        "Prompt template name: `templates/NAME.j2` beside the campaign, else the built-in one.",
        "lifestyle",
    ),
    Column("audiences", True, f"Audiences, separated by `{MULTI_SEPARATOR}`.", "runners; commuters"),
    Column("styles", True, f"Visual styles, separated by `{MULTI_SEPARATOR}`.", "golden hour; minimal studio"),
    Column(
        "formats",
        True,
        f"Ad formats, separated by `{MULTI_SEPARATOR}`: square, portrait, story, landscape or `WxH`.",
        "square; story",
    ),
    Column("headline", True, "Headline copy.", "Hydration, upgraded"),
    Column("cta", True, "Call to action copy.", "Shop now"),
    Column("variants", False, "Images (seeds) per product x audience x style x format; default 1.", "2"),
    Column(
        "base_seed",
        False,
        "First seed; variants use base_seed, base_seed+1, ... Default: derived from the row's identity.",
        "1234",
    ),
    Column("negative_prompt", False, "What the model should avoid.", "text, watermark, blurry"),
    Column(
        "model",
        False,
        "Model override: local checkpoint folder or hub id (the CLI's --model wins).",
        "stabilityai/sd-turbo",
    ),
    Column("steps", False, "Denoising steps override (1-500).", "25"),
    Column("guidance", False, "Classifier-free guidance scale override (0-50).", "7.5"),
    Column(
        "scheduler",
        False,
        "Sampler: " + ", ".join(SCHEDULER_NAMES) + " (`default` = the checkpoint's own).",
        "dpmpp_2m",
    ),
    Column("revision", False, "Hub revision (branch, tag or commit) of the model.", "main"),
    Column(
        "dtype", False, "Weights precision: " + ", ".join(DTYPES) + " (auto = fp16 on CUDA, fp32 otherwise).", "fp16"
    ),
    Column(
        "mode",
        False,
        "`compose` (default: generated scene + product cut-out), `inpaint` (scene painted around the placed product), `restyle` (image-to-image on source_image) or `replace` (repaint the white part of replace_mask).",
        "inpaint",
    ),
    Column(
        "strength",
        False,
        "How much restyle/replace/inpaint may change (0.05-1). Default: 0.6 restyle, 1 otherwise.",
        "0.55",
    ),
    Column(
        "source_image",
        False,
        "Image that restyle and replace start from (default: product_image).",
        "photos/model.jpg",
    ),
    Column(
        "replace_mask",
        False,
        "Mask for `replace`: white = repaint, black = keep; same size as the source image.",
        "photos/model-shirt-mask.png",
    ),
    Column(
        "product_mask",
        False,
        "Cut-out mask for the product (white = product), instead of its alpha or the automatic plain-background removal.",
        "products/bottle-mask.png",
    ),
    Column(
        "anchor",
        False,
        "Product position in the space between headline and button: " + ", ".join(ANCHORS) + ".",
        "bottom-center",
    ),
    Column(
        "product_scale",
        False,
        f"Largest share of the canvas the product may fill, 0.05-1 (default {DEFAULT_PRODUCT_SCALE}); it never leaves its safe area.",
        "0.5",
    ),
    Column(
        "margin",
        False,
        f"Clear margin inside the format's safe zone, as a share of the short side, 0-0.2 (default {DEFAULT_MARGIN}).",
        "0.05",
    ),
    Column(
        "shadow", False, "Shadow under the product: " + ", ".join(SHADOWS) + f" (default {DEFAULT_SHADOW}).", "contact"
    ),
    Column(
        "harmonize",
        False,
        "Pull the product's colour toward the scene's, 0-1 (default 0; 0.1-0.3 is a light touch). compose mode.",
        "0.2",
    ),
    Column(
        "brand_kit",
        False,
        "Brand kit YAML/JSON (logo, fonts, colours, button style), relative to the campaign.",
        "brand.yaml",
    ),
    Column(
        "output_format", False, "File type of the creatives: " + ", ".join(OUTPUT_FORMATS) + " (default png).", "jpeg"
    ),
    Column("quality", False, f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY}).", "90"),
)
COLUMN_NAMES = {column.name for column in COLUMNS}
REQUIRED_COLUMNS = [column.name for column in COLUMNS if column.required]

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Cells a spreadsheet program would evaluate (CSV/formula injection). We never evaluate them.
_FORMULA_PREFIX = re.compile(r"^[=+\-@\t\r]")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(www\.)")
_TEXT_COLUMNS = (
    "campaign_id", "product_id", "product_name", "product_image", "template", "audiences",
    "styles", "formats", "headline", "cta", "negative_prompt", "model", "scheduler", "revision", "dtype",
    "mode", "source_image", "replace_mask", "product_mask", "anchor", "shadow", "brand_kit", "output_format",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the campaign points at: as written, resolved, and its content hash."""

    relative: str
    path: Path
    sha256: str


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
    headline: str
    cta: str
    variants: int = 1
    base_seed: int | None = None
    negative_prompt: str = ""
    model: str | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    revision: str | None = None
    dtype: str | None = None
    mode: str = "compose"
    strength: float = 1.0
    source_image: ImageRef | None = None  # restyle/replace; None: the product image
    replace_mask: ImageRef | None = None
    product_mask: ImageRef | None = None
    placement: Placement = Placement()
    brand: BrandKit = DEFAULT_BRAND
    output_format: str = "png"
    quality: int = DEFAULT_QUALITY


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


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file. Raises ValidationError listing every problem."""
    path = Path(path)
    frame, sheet, warnings = _read_table(path)
    rows = _validate(path, frame)
    return Campaign(path=path, rows=rows, warnings=warnings, sheet=sheet)


# --- reading -----------------------------------------------------------------------------


def _read_table(path: Path) -> tuple[pd.DataFrame, str | None, list[str]]:
    file = str(path)
    if not path.is_file():
        raise ValidationError([Issue(file, "campaign file not found", "check the path")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValidationError(
            [
                Issue(
                    file,
                    f"unsupported file type {suffix or '(none)'!r}",
                    "save the campaign as " + ", ".join(SUPPORTED_SUFFIXES),
                )
            ]
        )
    warnings: list[str] = []
    sheet = None
    try:
        if suffix == ".csv":
            head = path.read_bytes()[:8192]
            if b"\x00" in head:
                raise ValueError("it contains binary data")
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig")
        elif suffix == ".parquet":
            frame = pd.read_parquet(path).astype(object)
            frame = frame.where(frame.notna(), "").astype(str)
        else:
            # data_only=False: a formula comes back as its text ("=...") so it can be rejected;
            # with pandas' default we would silently get its cached result.
            with pd.ExcelFile(path, engine="openpyxl", engine_kwargs={"data_only": False}) as book:
                names = [str(name) for name in book.sheet_names]
                sheet = next((name for name in names if name.strip().lower() == PREFERRED_SHEET), names[0])
                if len(names) > 1:
                    warnings.append(
                        f"{file}: workbook has {len(names)} sheets ({', '.join(names)}); using sheet {sheet!r}"
                        f" (name a sheet {PREFERRED_SHEET!r} to choose another)"
                    )
                frame = pd.read_excel(book, sheet_name=sheet, dtype=str, keep_default_na=False, na_filter=False)
    except ValidationError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for non-spreadsheets
        kind = {".csv": "CSV text", ".parquet": "Parquet", ".xlsx": "Excel workbook", ".xlsm": "Excel workbook"}[
            suffix
        ]
        raise ValidationError(
            [
                Issue(
                    file,
                    f"cannot read this file as {kind}: {exc}",
                    f"export the campaign again as a real {suffix} file",
                )
            ]
        ) from None

    frame = frame.rename(columns=lambda name: str(name).strip().lower().replace(" ", "_"))
    duplicated = sorted({name for name in frame.columns if list(frame.columns).count(name) > 1})
    if duplicated:
        raise ValidationError(
            [
                Issue(file, f"column {name!r} appears more than once", "keep one of them", column=name)
                for name in duplicated
            ]
        )
    unknown = [name for name in frame.columns if name not in COLUMN_NAMES and not name.startswith("unnamed:")]
    if unknown:
        warnings.append(
            f"{file}: ignoring unknown column(s) {', '.join(unknown)}; known columns: {', '.join(c.name for c in COLUMNS)}"
        )
    return frame, sheet, warnings


# --- validation --------------------------------------------------------------------------


def _validate(path: Path, frame: pd.DataFrame) -> list[CampaignRow]:
    file = str(path)
    folder = path.parent.resolve()
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValidationError(
            [
                Issue(
                    file,
                    f"required column {name!r} is missing",
                    f"add a column named {name!r} to the header row (row 1)",
                    row=1,
                    column=name,
                )
                for name in missing
            ]
        )
    known = [name for name in frame.columns if name in COLUMN_NAMES]
    records = frame[known].to_dict("records")
    issues: list[Issue] = []
    images = _ImageChecker(file, folder)
    brands = _BrandKits(folder)
    templates: dict[str, Path | None] = {}
    rows: list[CampaignRow] = []
    for index, record in enumerate(records):
        row_number = index + 2  # header is row 1
        cells = {name: str(value).strip() for name, value in record.items()}
        if not any(cells.values()):
            continue  # empty rows are skipped
        row_issues: list[Issue] = []

        def problem(column: str, message: str, fix: str, value: str | None = None) -> None:
            row_issues.append(Issue(file, message, fix, row=row_number, column=column, value=value))

        for name in _TEXT_COLUMNS:
            value = cells.get(name, "")
            if _FORMULA_PREFIX.match(str(record.get(name, ""))):
                problem(
                    name,
                    "cell looks like a spreadsheet formula and is never evaluated",
                    "remove the leading =, +, - or @ (write the text itself)",
                    value,
                )
                cells[name] = ""
        for name in REQUIRED_COLUMNS:
            if not cells[name] and not any(issue.column == name for issue in row_issues):
                problem(name, "required cell is empty", f"fill in {name}")
        for name in ("campaign_id", "product_id"):
            if cells[name] and not _ID_PATTERN.match(cells[name]):
                problem(
                    name,
                    "identifier has characters that are not allowed",
                    "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                    cells[name],
                )

        image_sha = ""
        image_path = folder
        if cells["product_image"]:
            checked = images.check(cells["product_image"])
            if isinstance(checked, _ImageProblem):
                problem("product_image", checked.message, checked.fix, cells["product_image"])
            else:
                image_path, image_sha = checked

        template_path = None
        if cells["template"]:
            name = cells["template"]
            if name not in templates:
                templates[name] = find_template(name, folder)
            template_path = templates[name]
            if template_path is None:
                choices = ", ".join(available_templates(folder)) or "(none found)"
                problem(
                    "template",
                    f"unknown template {name!r}",
                    f"use one of: {choices}, or add templates/{name}.j2 beside the campaign",
                    name,
                )

        audiences = split_multi(cells["audiences"])
        styles = split_multi(cells["styles"])
        formats: list[AdFormat] = []
        for item in split_multi(cells["formats"]):
            try:
                fmt = parse_format(item)
            except ValueError as exc:
                problem("formats", str(exc), FORMAT_HELP, item)
                continue
            if fmt not in formats:
                formats.append(fmt)
        for name in ("audiences", "styles", "formats"):
            if cells[name] and not split_multi(cells[name]):
                problem(
                    name,
                    f"no values in cell (values are separated by '{MULTI_SEPARATOR}')",
                    f"write at least one value, e.g. 'a{MULTI_SEPARATOR} b'",
                    cells[name],
                )

        variants = _parse_number(
            cells.get("variants", ""), int, 1, 1, MAX_VARIANTS_PER_COMBINATION, "variants", problem
        )
        base_seed = _parse_number(cells.get("base_seed", ""), int, None, 0, 2**32 - 1, "base_seed", problem)
        steps = _parse_number(cells.get("steps", ""), int, None, 1, 500, "steps", problem)
        guidance = _parse_number(cells.get("guidance", ""), float, None, 0.0, 50.0, "guidance", problem)

        for name, valid in (("scheduler", SCHEDULER_NAMES), ("dtype", DTYPES)):
            if cells.get(name) and cells[name] not in valid:
                problem(name, f"unknown {name} {cells[name]!r}", "use one of: " + ", ".join(valid), cells[name])

        mode = (cells.get("mode") or "compose").lower()
        if mode not in MODES:
            problem("mode", f"unknown mode {cells['mode']!r}", "use one of: " + ", ".join(MODES), cells["mode"])
            mode = "compose"
        strength = _parse_number(
            cells.get("strength", ""), float, DEFAULT_STRENGTH[mode], 0.05, 1.0, "strength", problem
        )
        refs: dict[str, ImageRef] = {}
        for name in ("source_image", "replace_mask", "product_mask"):
            if cells.get(name):
                checked = images.check(cells[name])
                if isinstance(checked, _ImageProblem):
                    problem(name, checked.message, checked.fix, cells[name])
                else:
                    refs[name] = ImageRef(cells[name], *checked)
        _check_mode_inputs(mode, cells, refs, image_path, problem)
        anchor = DEFAULT_ANCHOR
        if cells.get("anchor"):
            try:
                anchor = normalise_anchor(cells["anchor"])
            except ValueError as exc:
                problem("anchor", str(exc), "use one of: " + ", ".join(ANCHORS), cells["anchor"])
        shadow = (cells.get("shadow") or DEFAULT_SHADOW).lower()
        if shadow not in SHADOWS:
            problem(
                "shadow", f"unknown shadow {cells['shadow']!r}", "use one of: " + ", ".join(SHADOWS), cells["shadow"]
            )
        placement = Placement(
            anchor=anchor,
            scale=_parse_number(
                cells.get("product_scale", ""), float, DEFAULT_PRODUCT_SCALE, 0.05, 1.0, "product_scale", problem
            ),
            margin=_parse_number(cells.get("margin", ""), float, DEFAULT_MARGIN, 0.0, 0.2, "margin", problem),
            shadow=shadow,
            harmonize=_parse_number(cells.get("harmonize", ""), float, 0.0, 0.0, 1.0, "harmonize", problem),
        )
        output_format = {"jpg": "jpeg"}.get(
            cells.get("output_format", "").lower(), cells.get("output_format", "").lower()
        ) or "png"
        if output_format not in OUTPUT_FORMATS:
            problem(
                "output_format",
                f"unknown output format {cells['output_format']!r}",
                "use one of: " + ", ".join(OUTPUT_FORMATS),
                cells["output_format"],
            )
        quality = _parse_number(cells.get("quality", ""), int, DEFAULT_QUALITY, 1, 100, "quality", problem)
        brand = DEFAULT_BRAND
        if cells.get("brand_kit"):
            loaded = brands.load(cells["brand_kit"])
            if isinstance(loaded, _ImageProblem):
                problem("brand_kit", loaded.message, loaded.fix, cells["brand_kit"])
            elif isinstance(loaded, list):
                issues.extend(issue for issue in loaded if issue not in issues)  # reported once per kit
                row_issues.append(
                    Issue(
                        file,
                        "the brand kit has problems (listed separately)",
                        "fix the brand kit",
                        row=row_number,
                        column="brand_kit",
                        value=cells["brand_kit"],
                    )
                )
            else:
                brand = loaded
        if not row_issues:  # copy must fit every format at a legible size; checked before any rendering
            for fmt in formats:
                try:
                    fit_copy(
                        cells["headline"],
                        cells["cta"],
                        layout_for(fmt, placement.margin, brand),
                        brand,
                        check_only=True,
                    )
                except TextFitError as exc:
                    for name, message in exc.failures:
                        if name == "ai_label":  # the brand kit's label text
                            problem(
                                "brand_kit",
                                f"ai_label.text: {message} (format {fmt.name})",
                                "shorten the brand kit's ai_label text",
                                cells.get("brand_kit") or None,
                            )
                        else:
                            problem(
                                name,
                                f"{message} (format {fmt.name})",
                                f"shorten the {name}, or use a narrower font in the brand kit",
                                cells[name],
                            )

        if row_issues:
            issues.extend(row_issues)
            continue
        assert template_path is not None
        rows.append(
            CampaignRow(
                row=row_number,
                campaign_id=cells["campaign_id"],
                product_id=cells["product_id"],
                product_name=cells["product_name"],
                product_image=cells["product_image"],
                product_image_path=image_path,
                product_image_sha256=image_sha,
                template=cells["template"],
                template_path=template_path,
                audiences=audiences,
                styles=styles,
                formats=tuple(formats),
                headline=cells["headline"],
                cta=cells["cta"],
                variants=variants,
                base_seed=base_seed,
                negative_prompt=cells.get("negative_prompt", ""),
                model=cells.get("model") or None,
                steps=steps,
                guidance=guidance,
                scheduler=cells.get("scheduler") or None,
                revision=cells.get("revision") or None,
                dtype=cells.get("dtype") or None,
                mode=mode,
                strength=strength,
                source_image=refs.get("source_image"),
                replace_mask=refs.get("replace_mask"),
                product_mask=refs.get("product_mask"),
                placement=placement,
                brand=brand,
                output_format=output_format,
                quality=quality,
            )
        )
    if issues:
        raise ValidationError(issues)
    if not rows:
        raise ValidationError(
            [Issue(file, "the campaign has no product rows", "add at least one row under the header")]
        )
    return rows


def _check_mode_inputs(mode: str, cells: dict, refs: dict, product_image: Path, problem) -> None:
    """Which images each mode needs, and that a replace mask matches its source's size."""
    if mode != "replace" and cells.get("replace_mask"):
        problem(
            "replace_mask",
            f"a replace mask is only used by mode 'replace' (this row's mode is {mode!r})",
            "set mode to replace or clear the cell",
            cells["replace_mask"],
        )
    if mode in ("compose", "inpaint") and cells.get("source_image"):
        problem(
            "source_image",
            f"mode {mode!r} composites product_image and ignores source_image",
            "set mode to restyle or replace, or clear the cell",
            cells["source_image"],
        )
    if mode == "replace" and not cells.get("replace_mask"):
        problem(
            "replace_mask",
            "mode 'replace' needs a mask",
            "add a PNG the size of the source image: white where the prompt repaints, black where it keeps",
        )
    if mode == "replace" and "replace_mask" in refs:
        source = refs["source_image"].path if "source_image" in refs else product_image
        mask_size = _image_size(refs["replace_mask"].path)
        source_size = _image_size(source) if source.is_file() else mask_size
        if source_size != mask_size:
            problem(
                "replace_mask",
                f"mask is {mask_size} px but the source image is {source_size} px",
                "export the mask at the source image's size",
                cells["replace_mask"],
            )


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _parse_number(text, kind, default, low, high, column, problem):
    """Parse an optional int/float cell within [low, high]; report and return default on error.
    Excel hands whole numbers back as '4.0', which is accepted for integers."""
    if not text:
        return default
    try:
        value = float(text)
        if kind is int:
            if not value.is_integer():
                raise ValueError
            value = int(value)
    except ValueError:
        problem(
            column,
            f"not a{'n integer' if kind is int else ' number'}",
            f"write a number between {low} and {high}",
            text,
        )
        return default
    if not low <= value <= high:
        problem(column, f"out of range {low}-{high}", f"write a number between {low} and {high}", text)
        return default
    return value


@dataclass(frozen=True, slots=True)
class _ImageProblem:  # also used for brand kit paths
    message: str
    fix: str


class _ImageChecker:
    """Checks product image paths once per distinct value (50,000 rows often share a few images)."""

    def __init__(self, file: str, folder: Path):
        self.file = file
        self.folder = folder
        self.cache: dict[str, tuple[Path, str] | _ImageProblem] = {}

    def check(self, relative: str) -> tuple[Path, str] | _ImageProblem:
        """(resolved path, sha256) when the image is usable."""
        if relative not in self.cache:
            self.cache[relative] = self._check(relative)
        return self.cache[relative]

    def _check(self, relative: str) -> tuple[Path, str] | _ImageProblem:
        path = _locate(self.folder, relative, "image", "products/bottle.png")
        if isinstance(path, _ImageProblem):
            return path
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            return _ImageProblem(f"not a readable image ({exc.__class__.__name__})", "use a PNG, JPEG or WebP file")
        return (path, sha256_file(path))


def _locate(folder: Path, relative: str, what: str, example: str) -> Path | _ImageProblem:
    """A file named relative to the campaign folder, which it may not leave."""
    if _URL.match(relative):
        return _ImageProblem(
            f"{what} must be a file beside the campaign, not a URL",
            "download it into the campaign folder and give its relative path",
        )
    if Path(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or PureWindowsPath(relative).drive:
        return _ImageProblem(
            f"{what} path is absolute", f"give the path relative to the campaign file's folder, e.g. {example}"
        )
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        return _ImageProblem(
            f"{what} path leaves the campaign folder",
            f"move the {what} inside the campaign folder and use a relative path without '..'",
        )
    if not path.is_file():
        return _ImageProblem(f"{what} file not found", f"put the {what} at {path} or correct the path")
    return path


class _BrandKits:
    """Loads each brand kit named in the campaign once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cache: dict[str, BrandKit | list[Issue] | _ImageProblem] = {}

    def load(self, relative: str) -> BrandKit | list[Issue] | _ImageProblem:
        if relative not in self.cache:
            path = _locate(self.folder, relative, "brand kit", "brand.yaml")
            if isinstance(path, _ImageProblem):
                self.cache[relative] = path
            elif path.suffix.lower() not in BRAND_SUFFIXES:
                self.cache[relative] = _ImageProblem(
                    "brand kit must be a .yaml, .yml or .json file", "point the column at the brand kit file"
                )
            else:
                try:
                    self.cache[relative] = load_brand_kit(path)
                except ValidationError as exc:
                    self.cache[relative] = exc.issues
        return self.cache[relative]
