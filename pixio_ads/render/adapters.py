"""LoRA adapters and IP-Adapters (a reference image for style) on a loaded pipeline.

Checks before any rendering: each file is read as safetensors (its header only), is the kind
of adapter it claims to be, and was made for the row's model: a UNet LoRA for a UNet family and
a transformer LoRA for a DiT family (families.py), its cross-attention layers take the model's
text width (768 for SD 1.x, 1024 for SD 2.x, 2048 for SDXL), a LoRA with weights for a second
text encoder needs an SDXL model, and every layer it names is in the model's denoiser at the
size the LoRA expects (FLUX, SD3 and Qwen-Image LoRAs too, built from the config on the meta
device).

At render time adapters are loaded with diffusers' ``load_lora_weights`` / ``load_ip_adapter``,
once per process (a LoRA is kept loaded under a name made from its sha256 and switched on
with ``set_adapters``), and set per batch; batches never mix adapter sets (Variant.batch_key).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from pixio_ads.core.errors import ModelLoadError
from pixio_ads.render import families
from pixio_ads.render.loading import LoadedModel, loaded_models, resolve_source

logger = logging.getLogger(__name__)

LORA_WEIGHT_RANGE = (-2.0, 2.0)
KNOWN_BASES = {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL", 4096: "a T5 model"}
# The down (A) matrix of a cross-attention key/value projection: its input is the text width.
_CROSS_ATTENTION_DOWN = re.compile(r"attn2[._]to_[kv].*(lora_A|lora_down|lora\.down)\.weight$")
_SECOND_TEXT_ENCODER = re.compile(r"^(text_encoder_2\.|lora_te2_|te2\.)")
# peft's names (lora_A/B) and diffusers' own (lora.down/up) of a UNet's or transformer's layer's two matrices
_DENOISER_LORA = re.compile(r"^(unet|transformer)\.(.+)\.(lora_A|lora_B|lora\.down|lora\.up)\.weight$")
_DENOISER_KINDS = {
    "unet": "a UNet model (SD 1.x/2.x, SDXL)",
    "transformer": "a transformer model (FLUX, SD3, Qwen-Image)",
}
_LORA_KEY = re.compile(r"lora_A|lora_B|lora_down|lora_up|lora\.down|lora\.up")


def _header(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors file, without reading the tensors."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}


@lru_cache(maxsize=256)
def _shapes(path: str, stamp: tuple[int, int]) -> dict[str, tuple[int, ...]] | str:
    """The header, or what is wrong with the file; cached per path and (mtime, size)."""
    try:
        return _header(Path(path))
    except Exception as exc:  # safetensors raises its own error types for a bad header
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return f"cannot read it as safetensors ({first})"


def shapes_of(path: Path) -> dict[str, tuple[int, ...]] | str:
    if path.suffix.lower() != ".safetensors":
        return "adapters are read from .safetensors files only (a .bin/.ckpt may run code when loaded)"
    stat = path.stat()
    return _shapes(str(path), (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=32)
def _checkpoint_configs(model_id: str) -> tuple[dict, dict, str] | None:
    """(model_index.json, the denoiser's config.json, the denoiser's folder name: unet or
    transformer) of a diffusers checkpoint folder or an embedded model (found as
    loading.resolve_source finds it); None where they cannot be read without loading it (a
    single-file checkpoint, a hub id, a bad path)."""
    try:
        folder = Path(resolve_source(model_id))
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        denoiser = "unet" if "unet" in index else "transformer"
        config = json.loads((folder / denoiser / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, ModelLoadError):
        return None
    return index, config, denoiser


def model_text_width(model_id: str) -> tuple[int, bool] | None:
    """(cross-attention width, is SDXL) from the checkpoint's configs; None where unknown
    (no configs at hand, or a per-block width list)."""
    configs = _checkpoint_configs(model_id)
    if configs is None or configs[2] != "unet":
        return None
    width = configs[1].get("cross_attention_dim")
    return (width, "text_encoder_2" in configs[0]) if isinstance(width, int) else None


@lru_cache(maxsize=8)
def denoiser_layer_sizes(model_id: str) -> dict[str, tuple[int, int]]:
    """(inputs, outputs) of each linear and convolution layer of the model's UNet or
    transformer, built from its config on the meta device (no weights read); {} where the
    config is not at hand."""
    import diffusers
    import torch
    from accelerate import init_empty_weights

    configs = _checkpoint_configs(model_id)
    if configs is None:
        return {}
    index, config, denoiser = configs
    model_class = getattr(diffusers, index[denoiser][1])
    with init_empty_weights():
        model = model_class.from_config({key: value for key, value in config.items() if not key.startswith("_")})
    sizes = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            sizes[name] = (module.in_features, module.out_features)
        elif isinstance(module, torch.nn.Conv2d):
            sizes[name] = (module.in_channels, module.out_channels)
    return sizes


def _layer_mismatch(shapes: dict[str, tuple[int, ...]], model_id: str) -> str | None:
    """The first denoiser layer of a diffusers/peft-format LoRA (``unet.<layer>.lora.down.weight``,
    ``transformer.<layer>.lora_A.weight``) that the model lacks or whose size differs;
    kohya-format names are not mapped here."""
    sizes = denoiser_layer_sizes(model_id)
    if not sizes:
        return None
    for key, shape in shapes.items():
        match = _DENOISER_LORA.match(key)
        if not match or len(shape) < 2:
            continue
        layer, matrix = match[2], "A" if match[3] in ("lora_A", "lora.down") else "B"
        if layer not in sizes:
            return f"has weights for a layer the row's model {model_id} does not have ({layer}): made for another base model"
        wanted, found = (sizes[layer][0], shape[1]) if matrix == "A" else (sizes[layer][1], shape[0])
        if wanted != found:
            return (
                f"does not fit the row's model {model_id}: its layer {layer} has {wanted} "
                f"{'inputs' if matrix == 'A' else 'outputs'}, the LoRA's {found} (made for another base model)"
            )
    return None


def _base_name(width: int) -> str:
    return KNOWN_BASES.get(width, f"a model with {width}-wide text features")


def lora_problem(path: Path, model_id: str) -> str | None:
    """What makes this LoRA unusable with ``model_id``, or None."""
    shapes = shapes_of(path)
    if isinstance(shapes, str):
        return shapes
    if not any(_LORA_KEY.search(key) for key in shapes):
        return "has no LoRA weights (no lora_A/lora_down tensors): is it a full checkpoint or an embedding?"
    if problem := _denoiser_kind_problem(shapes, model_id):
        return problem
    model = model_text_width(model_id)  # None: not a UNet model, or its config is not at hand
    if model is not None:
        width, sdxl = model
        found = {shape[1] for key, shape in shapes.items() if _CROSS_ATTENTION_DOWN.search(key) and len(shape) == 2}
        if found and width not in found:
            return f"was made for {_base_name(max(found))}, not for the row's model {model_id} ({_base_name(width)})"
        if not sdxl and any(_SECOND_TEXT_ENCODER.match(key) for key in shapes):
            return (
                f"was made for SDXL (it has weights for a second text encoder); the row's model {model_id} is not SDXL"
            )
    return _layer_mismatch(shapes, model_id)


def _denoiser_kind_problem(shapes: dict[str, tuple[int, ...]], model_id: str) -> str | None:
    """A UNet LoRA for a transformer family's model, or the other way round."""
    configs = _checkpoint_configs(model_id)
    kinds = {match[1] for key in shapes if (match := _DENOISER_LORA.match(key))}
    if configs is None or not kinds or configs[2] in kinds:
        return None
    family = families.family_of_class(str(configs[0].get("_class_name")), configs[1])
    title = family.title if family else configs[0].get("_class_name")
    return f"was made for {_DENOISER_KINDS[kinds.pop()]}, not for the row's model {model_id} ({title})"


def ip_adapter_problem(path: Path, model_id: str) -> str | None:
    """What makes this IP-Adapter (weights file, image_encoder/ folder beside it) unusable
    with ``model_id``, or None."""
    shapes = shapes_of(path)
    if isinstance(shapes, str):
        return shapes
    if not any(key.startswith("image_proj.") for key in shapes) or not any(
        k.startswith("ip_adapter.") for k in shapes
    ):
        return "is not an IP-Adapter (it needs image_proj.* and ip_adapter.* weights)"
    if not (path.parent / "image_encoder" / "config.json").is_file():
        return f"has no image encoder beside it: put its CLIP vision model in {path.parent / 'image_encoder'}"
    model = model_text_width(model_id)
    widths = {shape[1] for key, shape in shapes.items() if key.endswith("to_k_ip.weight") and len(shape) == 2}
    if model and widths and model[0] not in widths:
        return f"was made for {_base_name(max(widths))}, not for the row's model {model_id} ({_base_name(model[0])})"
    return None


# --- at render time ------------------------------------------------------------------------


def use_adapters(
    model: LoadedModel,
    loras: list[tuple[str, str, float]],
    ip_adapter: tuple[str, str] | None = None,
    style_scale: float = 0.0,
) -> None:
    """Make the pipeline run with exactly ``loras`` ((path, sha256, weight) each) and the
    IP-Adapter ``ip_adapter`` ((path, sha256) or None) at ``style_scale``. Loads what this
    process has not loaded yet; a no-op when the batch before used the same set."""
    key = (tuple(loras), ip_adapter, style_scale)
    if model._adapters == key:
        return
    try:
        _set_loras(model, loras)
        _set_ip_adapter(model, ip_adapter)
        if ip_adapter is not None:
            model.pipeline.set_ip_adapter_scale(style_scale)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        model._adapters = None  # unknown state: set everything again next time
        raise ModelLoadError(f"cannot apply adapters to {model.model_id}: {exc.__class__.__name__}: {exc}") from None
    model._adapters = key


def _set_loras(model: LoadedModel, loras: list[tuple[str, str, float]]) -> None:
    pipeline = model.pipeline
    names = []
    for path, sha256, _ in loras:
        name = f"lora-{sha256[:16]}"
        if name not in model._loras:
            logger.info("loading LoRA %s into %s", path, model.model_id)
            pipeline.load_lora_weights(str(Path(path).parent), weight_name=Path(path).name, adapter_name=name)
            model._loras.add(name)
        names.append(name)
    if names:
        pipeline.enable_lora()
        pipeline.set_adapters(names, adapter_weights=[weight for _, _, weight in loras])
    elif model._loras:
        pipeline.disable_lora()


def _set_ip_adapter(model: LoadedModel, ip_adapter: tuple[str, str] | None) -> None:
    if model._ip_adapter == ip_adapter:
        return
    pipeline = model.pipeline
    if model._ip_adapter is not None:
        pipeline.unload_ip_adapter()
    model._ip_adapter = None
    if ip_adapter is not None:
        path = Path(ip_adapter[0])
        logger.info("loading IP-Adapter %s into %s", path, model.model_id)
        pipeline.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name)
        model._ip_adapter = ip_adapter
    # img2img/inpaint pipelines made with from_pipe took the components of before (the
    # image encoder): made again on next use
    model._by_scheduler.clear()


def release_adapters() -> None:
    """Unload every adapter from every pipeline this process holds: their weights are freed
    and the pipelines are as loaded (a long-lived worker between campaigns; tests)."""
    for model in loaded_models():
        if not isinstance(model, LoadedModel) or (not model._loras and model._ip_adapter is None):
            continue
        if model._loras:
            model.pipeline.unload_lora_weights()
        if model._ip_adapter is not None:
            model.pipeline.unload_ip_adapter()
        model._loras.clear()
        model._ip_adapter = model._adapters = None
        model._by_scheduler.clear()
        model._embeddings.clear()
