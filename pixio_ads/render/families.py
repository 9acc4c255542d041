"""Model families: what pixio-ads knows of each architecture it renders with, declared once.

A family says which diffusers pipeline class does each task (text-to-image, image-to-image,
inpainting, editing by instruction), how its prompts are encoded, what its guidance number
means, its size multiple and default steps, whether it ships a safety checker and which module
``--compile`` compiles. Everything else (loading, batching, the embedding cache, out-of-memory
halving, adapters) is shared and reads these entries; nothing else names an architecture.

The family of a checkpoint is read without loading it (``detect``): the ``_class_name`` of its
``model_index.json`` (a folder, an embedded model, a hub id in the local cache), or the keys of
a single ``.safetensors`` file. A checkpoint of no supported family (a video, audio or upscaler
model given as ``--model``) is refused at validate, naming what it is and what is supported.
Like ComfyUI's ``supported_models.py``, a new family is one more entry in ``FAMILIES``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pixio_ads.core.errors import ModelLoadError

TEXT2IMG, IMG2IMG, INPAINT, EDIT = "text2img", "img2img", "inpaint", "edit"
# what each creative mode asks of the model (campaign rows' `mode`)
MODE_TASKS = {
    "compose": TEXT2IMG,
    "restyle": IMG2IMG,
    "inpaint": INPAINT,
    "replace": INPAINT,
    "expand": INPAINT,
    "edit": EDIT,
}
# Guidance: what a row's `guidance` number drives in each family.
CFG = "cfg"  # classifier-free guidance: two passes a step above 1, negative prompts used
DISTILLED = "distilled"  # FLUX.1 dev: the guidance the model was distilled with, one pass, no negatives
TRUE_CFG = "true_cfg"  # Qwen-Image: `true_cfg_scale`, two passes above 1 with the negative prompt
NO_GUIDANCE = "none"  # FLUX.1 schnell: timestep-distilled, the number is ignored


@dataclass(frozen=True, slots=True)
class Family:
    name: str  # the manifest's model_family
    title: str
    pipelines: dict[str, str]  # task -> diffusers pipeline class
    denoiser: str = "transformer"  # the module --compile compiles and a LoRA's layers name
    guidance: str = CFG
    default_steps: int = 28
    default_guidance: float = 7.0
    size_multiple: int = 16  # the VAE's factor times the transformer's patch size
    safety_checker: bool = False  # ships diffusers' CLIP safety checker
    compel: str | None = None  # compel's wrapper for weighted and long prompts, where it has one
    encoder: str = "sd"  # how prompts become embeddings (pipelines.py): sd, sdxl, sd3, flux, qwen
    # keys of a single-file checkpoint that mark this family (first match wins, in FAMILIES' order)
    file_keys: tuple[str, ...] = ()
    also: tuple[str, ...] = field(default=())  # more model_index class names of this family
    # FLUX.1 dev and schnell share their pipelines: the transformer's config tells them apart
    guidance_embeds: bool | None = None
    # the edit pipeline takes a list of references for every prompt (FLUX.2), not one per prompt
    # (Kontext): its edits run one image at a time
    references_per_prompt: bool = False
    recommended: str = ""  # docs/models.md: settings and memory

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(mode for mode, task in MODE_TASKS.items() if task in self.pipelines)

    @property
    def class_names(self) -> set[str]:
        return set(self.pipelines.values()) | set(self.also)

    def pipeline_class(self, task: str):
        import diffusers

        return getattr(diffusers, self.pipelines[task])


_FLUX_PIPELINES = {TEXT2IMG: "FluxPipeline", IMG2IMG: "FluxImg2ImgPipeline", INPAINT: "FluxInpaintPipeline"}
_FLUX_TEXT = dict(compel="CompelForFlux", encoder="flux")  # CLIP (pooled) + T5, compel's FLUX wrapper
FAMILIES: tuple[Family, ...] = (
    Family(
        "sd",
        "Stable Diffusion 1.x/2.x",
        {
            TEXT2IMG: "StableDiffusionPipeline",
            IMG2IMG: "StableDiffusionImg2ImgPipeline",
            INPAINT: "StableDiffusionInpaintPipeline",
        },
        denoiser="unet",
        default_steps=30,
        default_guidance=7.5,
        size_multiple=64,
        safety_checker=True,
        compel="CompelForSD",
        encoder="sd",
        file_keys=("model.diffusion_model.input_blocks.",),
        recommended="512-768 px, 25-30 steps, guidance 7-7.5; fp16 on CUDA, ~3 GB",
    ),
    Family(
        "sdxl",
        "Stable Diffusion XL",
        {
            TEXT2IMG: "StableDiffusionXLPipeline",
            IMG2IMG: "StableDiffusionXLImg2ImgPipeline",
            INPAINT: "StableDiffusionXLInpaintPipeline",
        },
        denoiser="unet",
        default_steps=30,
        default_guidance=7.5,
        size_multiple=64,
        compel="CompelForSDXL",
        encoder="sdxl",
        file_keys=("conditioner.embedders.1.",),
        recommended="1024 px, 25-30 steps, guidance 5-7.5; fp16 (fp16-safe VAE), ~8 GB",
    ),
    Family(
        "sd3",
        "Stable Diffusion 3 / 3.5",
        {
            TEXT2IMG: "StableDiffusion3Pipeline",
            IMG2IMG: "StableDiffusion3Img2ImgPipeline",
            INPAINT: "StableDiffusion3InpaintPipeline",
        },
        default_steps=28,
        default_guidance=7.0,
        encoder="sd3",
        file_keys=("model.diffusion_model.joint_blocks.",),
        recommended="1024 px, 28 steps, guidance 4.5 (3.5 Medium) to 7 (3 Medium); bf16, ~18 GB (3.5 Medium with T5)",
    ),
    Family(
        "flux-dev",
        "FLUX.1 dev",
        _FLUX_PIPELINES,
        guidance=DISTILLED,
        default_steps=28,
        guidance_embeds=True,
        default_guidance=3.5,
        **_FLUX_TEXT,
        file_keys=("guidance_in.in_layer.weight", "model.diffusion_model.guidance_in.in_layer.weight"),
        recommended="1024 px, 28 steps, guidance 3.5; bf16, ~33 GB (--offload model below that)",
    ),
    Family(
        "flux-schnell",
        "FLUX.1 schnell",
        _FLUX_PIPELINES,
        guidance=NO_GUIDANCE,
        default_steps=4,
        guidance_embeds=False,
        default_guidance=0.0,
        **_FLUX_TEXT,
        file_keys=("double_blocks.0.img_attn.qkv.weight", "model.diffusion_model.double_blocks.0.img_attn.qkv.weight"),
        recommended="1024 px, 4 steps, no guidance; bf16, ~33 GB (--offload model below that)",
    ),
    Family(
        "flux-kontext",
        "FLUX.1 Kontext dev",
        {TEXT2IMG: "FluxKontextPipeline", EDIT: "FluxKontextPipeline"},
        guidance=DISTILLED,
        default_steps=28,
        default_guidance=2.5,
        **_FLUX_TEXT,
        recommended="1024 px, 28 steps, guidance 2.5; bf16, ~33 GB; the source image as the reference",
    ),
    Family(
        "flux2-klein",
        "FLUX.2 klein",
        {TEXT2IMG: "Flux2KleinPipeline", EDIT: "Flux2KleinPipeline"},
        default_steps=4,
        default_guidance=1.0,
        encoder="flux2",
        references_per_prompt=True,
        recommended="1024 px; the distilled 4B/9B models 4 steps without guidance, the base models 50 steps at "
        "guidance 4; bf16, ~16 GB (4B with its Qwen3 encoder); up to several reference images for edits",
    ),
    Family(
        "qwen-image",
        "Qwen-Image",
        {TEXT2IMG: "QwenImagePipeline", IMG2IMG: "QwenImageImg2ImgPipeline", INPAINT: "QwenImageInpaintPipeline"},
        guidance=TRUE_CFG,
        default_steps=50,
        default_guidance=4.0,
        encoder="qwen",
        recommended="1328 px (1:1), 50 steps, true CFG 4; bf16, ~58 GB (--offload model below that)",
    ),
)
BY_NAME = {family.name: family for family in FAMILIES}
SUPPORTED = ", ".join(family.title for family in FAMILIES)
# what a pipeline class's name says a checkpoint is, for the refusal (first match wins)
_KINDS = (
    (
        ("Video", "Wan", "I2V", "T2V", "LTX", "Mochi", "Allegro", "Latte", "Animate", "CogVideo", "SkyReels"),
        "a video model",
    ),
    (("Audio", "Music", "Speech", "Dance"), "an audio model"),
    (("Upscale", "SuperRes", "LDMSuperResolution"), "an upscaler, which --upscaler takes"),
    (("3D", "Shap", "Zero123", "Marigold"), "a 3D or depth model"),
)


def family_of_class(class_name: str, transformer_config: dict | None = None) -> Family | None:
    """The family of a pipeline class name (FLUX.1 dev and schnell told apart by whether the
    transformer embeds guidance); None when no supported family has it."""
    embeds = (transformer_config or {}).get("guidance_embeds", True)
    for family in FAMILIES:
        if class_name in family.class_names and family.guidance_embeds in (None, embeds):
            return family
    return None


def describe_class(class_name: str) -> str:
    """What a pipeline class is, in words, for a refusal."""
    for markers, kind in _KINDS:
        if any(marker in class_name for marker in markers):
            return kind
    return "an architecture pixio-ads has no family for"


def unsupported(model_id: str, class_name: str) -> ModelLoadError:
    return ModelLoadError(
        f"model {model_id!r} is a {class_name} ({describe_class(class_name)}): pixio-ads renders still images with "
        f"{SUPPORTED}"
    )


def detect(model_id: str, source: str) -> Family | None:
    """The family of ``model_id`` (found at ``source``: loading.resolve_source) read from its
    files, never loading weights; None where the files are not at hand (a hub id not in the
    local cache: known once loaded). Raises ModelLoadError for a checkpoint of no supported
    family or with a component missing."""
    source = Path(source)
    if source.is_file():
        return _detect_file(str(source), model_id, _stamp(source))
    index_path = source / "model_index.json" if source.is_dir() else _hub_cached(model_id, "model_index.json")
    if index_path is None:
        return None
    return _detect_folder(str(index_path), model_id, (_stamp(index_path), _stamp(index_path.parent)))


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime, size): a cached reading is redone once its file, or its folder's entries, change."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _detect_folder(index_path: str, model_id: str, stamp: tuple) -> Family:
    folder = Path(index_path).parent
    try:
        index = json.loads(Path(index_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {index_path}: {exc}; give a complete diffusers checkpoint") from None
    class_name = str(index.get("_class_name", ""))
    transformer = _read_json(folder / "transformer" / "config.json")
    family = family_of_class(class_name, transformer)
    if family is None:
        raise unsupported(model_id, class_name or "folder without a _class_name")
    missing = _missing_components(folder, index)
    if missing and folder.is_dir() and not _is_hub_snapshot(folder):
        raise ModelLoadError(
            f"model {model_id!r} ({family.title}) lacks its component folder(s) {', '.join(missing)} named in "
            f"{index_path}; copy the whole checkpoint (every folder model_index.json names)"
        )
    return family


def _missing_components(folder: Path, index: dict) -> list[str]:
    """The components model_index.json names (not null) that have no folder with a config."""
    missing = []
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        part = folder / name
        if not part.is_dir() or (not any(part.glob("*.json")) and not any(part.glob("*.txt"))):
            missing.append(f"{name}/")
    return missing


def _is_hub_snapshot(folder: Path) -> bool:
    return "snapshots" in folder.parts  # the hub cache fetches components on demand


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _hub_cached(model_id: str, filename: str) -> Path | None:
    if model_id.count("/") != 1:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, filename)
    return Path(found) if isinstance(found, str) else None


@lru_cache(maxsize=32)
def _detect_file(path: str, model_id: str, stamp: tuple) -> Family:
    """A single-file checkpoint's family from its tensor names (safetensors header only)."""
    from safetensors import safe_open

    if not path.lower().endswith(".safetensors"):
        return BY_NAME["sd"]  # a .ckpt cannot be read without unpickling it: SD 1.x/2.x, as before
    try:
        with safe_open(path, framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as exc:  # safetensors raises its own error types for a bad header
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ModelLoadError(f"cannot load model {model_id!r}: cannot read it as safetensors ({first})") from None
    for family in sorted(FAMILIES, key=lambda f: f.name != "sdxl"):  # SDXL files have SD's keys too
        if any(key.startswith(marker) or key == marker for marker in family.file_keys for key in keys):
            return family
    raise ModelLoadError(
        f"model file {model_id!r} is no single-file checkpoint of {SUPPORTED} (none of their tensor names are in it); "
        "give a diffusers checkpoint folder"
    )


def family_of_pipeline(pipeline, model_id: str) -> Family:
    """A loaded pipeline's family (for a checkpoint whose family was not read before loading)."""
    transformer = getattr(pipeline, "transformer", None)
    config = dict(transformer.config) if transformer is not None else None
    family = family_of_class(type(pipeline).__name__, config)
    if family is None:
        raise unsupported(model_id, type(pipeline).__name__)
    return family


def native_side(pipeline, family: Family) -> int:
    """The side (px) of the square the model was trained at: the UNet's sample size, or the
    DiT pipeline's default sample size, in pixels."""
    latent = pipeline.unet.config.sample_size if family.denoiser == "unet" else pipeline.default_sample_size
    return int(latent) * int(pipeline.vae_scale_factor)


def mode_problem(family: Family, mode: str) -> str | None:
    """Why ``family`` cannot render ``mode``, or None."""
    if MODE_TASKS.get(mode, TEXT2IMG) in family.pipelines:
        return None
    if mode == "edit":
        editors = ", ".join(f.title for f in FAMILIES if EDIT in f.pipelines)
        return f"mode edit needs an instruction-following edit model ({editors}); {family.title} cannot edit"
    return f"{family.title} has no pipeline for mode {mode} (its modes: {', '.join(family.modes)})"
