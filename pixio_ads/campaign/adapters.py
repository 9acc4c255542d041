"""A row's style adapters: LoRAs (``lora`` column and the brand kit's ``lora``) and a reference
image for style through an IP-Adapter (``style_image``, ``ip_adapter``, ``style_scale`` and
the kit's ``style`` section).

Every file is checked at validate, before any GPU time: present, inside the campaign folder
(or in the local Hugging Face cache for ``hf:org/name/file.safetensors``), readable as
safetensors, the right kind of adapter, and made for the row's model (render/adapters.py).
The resolved adapters become manifest columns and part of the variant id (their sha256 and
weights), so a new LoRA file renders again and a creative's record names what made it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pixio_ads.campaign.assets import ImageProblem, locate
from pixio_ads.campaign.checks import RowCheck
from pixio_ads.campaign.rows import AdapterFile, ImageRef, Lora, StyleRef
from pixio_ads.core.errors import Issue
from pixio_ads.core.fileio import sha256_file
from pixio_ads.creative.kit_sections import parse_loras
from pixio_ads.render.adapters import ip_adapter_problem, lora_problem
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID

HUB_PREFIX = "hf:"
NO_LORA = "none"  # a row's `lora` cell that turns the brand kit's LoRAs off
_LORA_FIX = "give .safetensors LoRA files beside the campaign: `styles/brand.safetensors:0.8; product.safetensors`"


@lru_cache(maxsize=256)
def _sha256(path: str, stamp: tuple[int, int]) -> str:
    return sha256_file(Path(path))


def adapter_file(folder: Path, relative: str, what: str) -> AdapterFile | str:
    """The file as an AdapterFile, or what is wrong with the reference."""
    if relative.startswith(HUB_PREFIX):
        found = _from_hub_cache(relative[len(HUB_PREFIX) :])
        if isinstance(found, str):
            return found
        path = found
    else:
        located = locate(folder, relative, what, "adapters/brand.safetensors")
        if isinstance(located, ImageProblem):
            return f"{located.message} ({located.fix})"
        path = located
    return AdapterFile(relative, path, _hashed(path).sha256)


def _from_hub_cache(reference: str) -> Path | str:
    """``org/name/path/in/repo.safetensors`` from the local Hugging Face cache (never a
    download at validate: the variant id needs the file's hash now)."""
    parts = reference.split("/")
    if len(parts) < 3:
        return f"hf:{reference} must name the file too: hf:org/name/file.safetensors"
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename)
    if not isinstance(found, str):
        return (
            f"hf:{reference} is not in the local Hugging Face cache; fetch it first: `hf download {repo} {filename}`"
        )
    return Path(found)


def resolve_adapters(values: dict, cells: dict, check: RowCheck) -> None:
    """``values["loras"]`` and ``values["style"]`` from the row's columns over its brand
    kit's, their column cells taken out of ``values``; every problem reported on ``check``."""
    model = values.get("model") or EMBEDDED_MODEL_ID
    kit = values["brand_kit"]
    values["loras"] = _loras(values.pop("lora") or "", kit, model, check)
    values["style"] = _style(
        values.pop("style_image"), values.pop("ip_adapter"), values.pop("style_scale"), kit, model, check
    )


def _loras(cell: str, kit, model: str, check: RowCheck) -> tuple[Lora, ...]:
    if cell.strip().lower() == NO_LORA:
        return ()
    chosen: dict[str, Lora] = {}  # by sha256: a row naming the kit's file sets its weight
    for path, weight in kit.loras:
        if problem := lora_problem(path, model):
            check.problem("brand_kit", f"LoRA {path.name} (the kit's `lora`) {problem}", _LORA_FIX, kit.path)
            continue
        file = _hashed(path)
        chosen[file.sha256] = Lora(file, weight)
    named, problems = parse_loras(cell)
    for problem in problems:
        check.problem("lora", problem, _LORA_FIX, cell)
    for name, weight in named:
        file = adapter_file(check.campaign.folder, name, "LoRA")
        problem = file if isinstance(file, str) else lora_problem(file.path, model)
        if problem:
            check.problem("lora", f"{name}: {problem}", _LORA_FIX, cell)
        else:
            chosen[file.sha256] = Lora(file, weight)
    return tuple(chosen.values())


def _style(image: ImageRef | None, adapter: str | None, scale: float | None, kit, model: str, check: RowCheck):
    """The row's style reference (its image and IP-Adapter, else the kit's) or None."""
    if image is None and kit.style_image is not None:
        image = ImageRef(kit.style_image.name, kit.style_image, _hashed(kit.style_image).sha256)
    column = "ip_adapter" if adapter else "brand_kit"
    file = adapter_file(check.campaign.folder, adapter, "IP-Adapter") if adapter else None
    if file is None and kit.ip_adapter is not None:
        file = _hashed(kit.ip_adapter)
    if image is None and file is None:
        return None
    if image is None or file is None:
        fix = "give both style_image and ip_adapter (here or in the brand kit's style section), or neither"
        check.problem("style_image" if image is None else "ip_adapter", "a style reference needs both", fix)
        return None
    problem = file if isinstance(file, str) else ip_adapter_problem(file.path, model)
    if problem:
        name = adapter or f"{kit.ip_adapter.name} (the kit's style.ip_adapter)"
        check.problem(
            column, f"{name}: {problem}", "give an IP-Adapter .safetensors file made for this model", adapter
        )
        return None
    return StyleRef(image, file, kit.style_scale if scale is None else scale)


def _hashed(path: Path) -> AdapterFile:
    stat = path.stat()
    return AdapterFile(path.name, path, _sha256(str(path), (stat.st_mtime_ns, stat.st_size)))


# --- the variant's columns ----------------------------------------------------------------


def adapter_columns(row) -> dict:
    """The variant's adapter columns: paths on this machine, their hashes, weights and scale."""
    style = row.style
    return {
        "lora": "; ".join(f"{lora.file.path}:{lora.weight:g}" for lora in row.loras),
        "lora_sha256": "; ".join(lora.file.sha256 for lora in row.loras),
        "style_image": str(style.image.path) if style else "",
        "style_image_sha256": style.image.sha256 if style else "",
        "ip_adapter": str(style.adapter.path) if style else "",
        "ip_adapter_sha256": style.adapter.sha256 if style else "",
        "style_scale": style.scale if style else 0.0,
    }


def adapter_hash_terms(row) -> list[str]:
    """What the variant id hashes of the adapters: contents and weights, never paths (a row
    without adapters adds nothing: its id is as before)."""
    terms = [f"lora={lora.file.sha256}:{lora.weight:g}" for lora in row.loras]
    if row.style:
        terms.append(f"style={row.style.image.sha256}:{row.style.adapter.sha256}:{row.style.scale:g}")
    return terms


def variant_loras(variant) -> list[tuple[str, str, float]]:
    """(path, sha256, weight) of each LoRA a variant renders with, from its columns."""
    if not variant.lora:
        return []
    parts = [part.rpartition(":") for part in variant.lora.split("; ")]
    return [(path, sha, float(weight)) for (path, _, weight), sha in zip(parts, variant.lora_sha256.split("; "))]


def adapter_summary(variant) -> str:
    """The adapters as a published file's XMP names them: file names (never this machine's
    paths), hashes, weights."""
    parts = [f"lora {Path(path).name} sha256:{sha} weight {weight:g}" for path, sha, weight in variant_loras(variant)]
    if variant.style_image:
        parts.append(
            f"style {Path(variant.style_image).name} sha256:{variant.style_image_sha256} "
            f"ip-adapter {Path(variant.ip_adapter).name} sha256:{variant.ip_adapter_sha256} scale {variant.style_scale:g}"
        )
    return "; ".join(parts)


def adapter_issues(row, model_id: str, file: str) -> list[Issue]:
    """The row's adapters that do not suit ``model_id``: a run's --model replaces the row's
    model, so its adapters are checked again before rendering."""
    found = [
        ("lora", f"{lora.file.relative}: {p}") for lora in row.loras if (p := lora_problem(lora.file.path, model_id))
    ]
    if row.style and (problem := ip_adapter_problem(row.style.adapter.path, model_id)):
        found.append(("ip_adapter", f"{row.style.adapter.relative}: {problem}"))
    fix = "run the row's own model, or give adapters made for this one"
    return [Issue(file, message, fix, row=row.row, column=column) for column, message in found]
