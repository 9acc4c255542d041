"""Rendering backgrounds with Hugging Face diffusers.

A checkpoint is loaded once per process (keyed by model, revision, dtype, device and
safety-checker setting) and reused; scheduler variants share its modules (``from_pipe``).
Prompts are encoded with compel (weighting such as ``(red dress)1.3`` or ``word++``, and
prompts longer than CLIP's 77 tokens). Every image gets its own CPU ``torch.Generator``
seeded from its variant, and only prompts whose embeddings have the same length share a
forward pass, so a variant's pixels do not depend on its batch neighbours, batch size or
order beyond float rounding.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pixio_ads.errors import ModelLoadError
from pixio_ads.tiny_model import (
    BACKDROP_NOTE,
    EMBEDDED_MODEL_ID,
    EMBEDDED_MODELS,
    NOISE_WARNING,
    ensure_embedded_model,
)

logger = logging.getLogger(__name__)

# name -> (diffusers scheduler class, config overrides). Built from the checkpoint's own config.
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpmpp_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "ddim": ("DDIMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}
DEFAULT_SCHEDULER = "default"  # the checkpoint's own scheduler
SCHEDULER_NAMES = (DEFAULT_SCHEDULER, *SCHEDULERS)
TEXT2IMG, IMG2IMG, INPAINT = "text2img", "img2img", "inpaint"
DTYPES = ("auto", "fp16", "bf16", "fp32")  # auto: fp16 on CUDA, fp32 elsewhere
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
# compel's weighting and conjunction syntax: (word)1.3, word++, [word], .and(), .blend(), .swap()
_COMPEL_SYNTAX = re.compile(r"[()\[\]+\-]|\.(and|blend|swap)\(")
EMBEDDING_CACHE_SIZE = 64
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything that selects a loaded pipeline (not the per-image settings)."""

    model_id: str
    revision: str | None = None
    dtype: str = "auto"
    safety_checker: bool = True


@dataclass(slots=True)
class LoadedModel:
    spec: ModelSpec
    pipeline: object  # a diffusers text-to-image pipeline
    device: str
    dtype: str  # resolved: fp16, bf16 or fp32
    native_side: int  # the side length (px) the model was trained at
    is_sdxl: bool
    _conditioner: object = None
    _by_scheduler: dict = field(default_factory=dict)
    _embeddings: dict = field(default_factory=dict)  # (prompt, negative, with negatives) -> embedding kwargs

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def conditioner(self):
        """compel for this pipeline's text encoder(s), created on first use."""
        if self._conditioner is None:
            from compel import CompelForSD, CompelForSDXL

            wrapper = CompelForSDXL if self.is_sdxl else CompelForSD
            self._conditioner = wrapper(self.pipeline, device=self.device)
        return self._conditioner

    def with_scheduler(self, name: str, task: str = TEXT2IMG):
        """The pipeline for ``task`` (text2img, img2img, inpaint) with scheduler ``name``,
        sharing every module (weights included) with the loaded one."""
        if name == DEFAULT_SCHEDULER and task == TEXT2IMG:
            return self.pipeline
        if (name, task) not in self._by_scheduler:
            import diffusers

            kwargs = {}
            if name != DEFAULT_SCHEDULER:
                class_name, overrides = SCHEDULERS[name]
                kwargs["scheduler"] = getattr(diffusers, class_name).from_config(
                    self.pipeline.scheduler.config, **overrides
                )
            auto = {
                TEXT2IMG: diffusers.AutoPipelineForText2Image,
                IMG2IMG: diffusers.AutoPipelineForImage2Image,
                INPAINT: diffusers.AutoPipelineForInpainting,
            }[task]
            pipeline = auto.from_pipe(self.pipeline, **kwargs)
            pipeline.set_progress_bar_config(disable=True)
            self._by_scheduler[name, task] = pipeline
        return self._by_scheduler[name, task]


@dataclass(frozen=True, slots=True)
class RenderOutput:
    images: list[Image.Image]
    nsfw: list[bool]  # True where the checkpoint's safety checker flagged the image


_PIPELINES: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()


def select_device(requested: str | None = None) -> str:
    """cuda > mps > cpu unless ``requested`` names one. On a multi-GPU host each Dask worker
    named 0..N-1 (a LocalCluster's names) takes GPU ``name % count``: one worker per GPU."""
    import torch

    threads = os.environ.get("PIXIO_ADS_TORCH_THREADS")
    if threads and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))  # several worker processes share the cores
    if requested:
        return requested
    if torch.cuda.is_available():
        index = _dask_worker_index()
        return f"cuda:{index % torch.cuda.device_count()}" if index is not None else "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _dask_worker_index() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().name)
    except (ImportError, ValueError, TypeError):  # not in a Dask worker, or a named one
        return None


def default_batch_size(device: str) -> int:
    """Measured on 2 CPU cores: a bare diffusers loop is 7-10% slower per image at batch 4
    than at batch 1 (compute-bound), so CPUs render one at a time; GPUs gain from batching."""
    return 4 if device.startswith("cuda") else 1


def check_scheduler(name: str) -> None:
    if name not in SCHEDULER_NAMES:
        raise ValueError(f"unknown scheduler {name!r}; valid: {', '.join(SCHEDULER_NAMES)}")


def resolve_source(model_id: str) -> str:
    """What from_pretrained gets: the embedded model's folder (built on first use), a local
    checkpoint folder or single file, or a hub id. Raises ModelLoadError naming a bad path."""
    if model_id in EMBEDDED_MODELS:
        return str(ensure_embedded_model(model_id))
    path = Path(model_id).expanduser()
    if path.exists():
        if path.is_dir() and not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"model folder {model_id!r} has no model_index.json: point --model at a diffusers checkpoint folder"
            )
        if path.is_file() and path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise ModelLoadError(f"model file {model_id!r} is not a {' or '.join(SINGLE_FILE_SUFFIXES)} checkpoint")
        return str(path)
    if not _HUB_ID.match(model_id):
        raise ModelLoadError(f"model path {model_id!r} does not exist (and it is not a hub id like 'org/name')")
    return model_id


def torch_dtype_for(dtype: str, device: str):
    import torch

    """('fp16', torch.float16) etc.; 'auto' is fp16 on CUDA and fp32 elsewhere."""
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if dtype == "auto":
        dtype = "fp16" if device.startswith("cuda") else "fp32"
    return dtype, {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]


def _is_sdxl_single_file(path: Path) -> bool:
    """SDXL checkpoints carry a second text encoder under conditioner.embedders.1."""
    from safetensors import safe_open

    if path.suffix.lower() != ".safetensors":
        return False
    with safe_open(str(path), framework="pt") as handle:
        return any(key.startswith("conditioner.embedders.1.") for key in handle.keys())


def _from_pretrained(source: str, spec: ModelSpec, torch_dtype):
    from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline, StableDiffusionXLPipeline

    kwargs: dict = {"dtype": torch_dtype}
    if spec.revision:
        kwargs["revision"] = spec.revision
    if not spec.safety_checker:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    path = Path(source)
    if path.is_file():
        # Single-file checkpoints: diffusers maps them to a known architecture's config.
        pipeline_class = StableDiffusionXLPipeline if _is_sdxl_single_file(path) else StableDiffusionPipeline
        return pipeline_class.from_single_file(source, **kwargs)
    return AutoPipelineForText2Image.from_pretrained(source, **kwargs)


_LOADS = [0, 0.0]  # pipelines loaded by this process, and the seconds it took


def cached(key: tuple, build):
    """One loaded object per key per process (pipelines are expensive to load); a Dask
    worker process keeps its pipelines across all the shards it renders."""
    with _LOAD_LOCK:
        if key not in _PIPELINES:
            started = time.perf_counter()
            _PIPELINES[key] = build()
            _LOADS[0] += 1
            _LOADS[1] += time.perf_counter() - started
        return _PIPELINES[key]


def load_stats() -> tuple[int, float]:
    """(pipelines loaded by this process so far, total seconds spent loading them)."""
    return _LOADS[0], _LOADS[1]


def load_pipeline(model_id: str, loader, device: str):
    """Resolve ``model_id``, call ``loader(source)``, move the pipeline to ``device``.
    Any loading failure becomes a ModelLoadError that names the model."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    source = resolve_source(model_id)
    if model_id == EMBEDDED_MODEL_ID:
        logger.info(BACKDROP_NOTE)
    elif model_id in EMBEDDED_MODELS:
        logger.warning(NOISE_WARNING)
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        pipeline = loader(source)
    except Exception as exc:  # OSError, ValueError, hub errors...
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelLoadError(
            f"cannot load model {model_id!r}: {exc.__class__.__name__}: {first_line}. "
            "Pass a local diffusers checkpoint folder, a .safetensors file, or a hub id already in the local Hugging Face cache"
        ) from None
    pipeline = pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def load_model(spec: ModelSpec | str, device: str | None = None) -> LoadedModel:
    """Load (or reuse) a text-to-image pipeline."""
    spec = ModelSpec(spec) if isinstance(spec, str) else spec
    device = select_device(device)
    dtype_name, torch_dtype = torch_dtype_for(spec.dtype, device)

    def build() -> LoadedModel:
        pipeline = load_pipeline(spec.model_id, lambda source: _from_pretrained(source, spec, torch_dtype), device)
        native_side = int(pipeline.unet.config.sample_size) * int(pipeline.vae_scale_factor)
        is_sdxl = getattr(pipeline, "text_encoder_2", None) is not None
        logger.info(
            "loaded model %s on %s (%s, native %d px%s)",
            spec.model_id,
            device,
            dtype_name,
            native_side,
            ", SDXL" if is_sdxl else "",
        )
        return LoadedModel(spec, pipeline, device, dtype_name, native_side, is_sdxl)

    return cached(("text2image", spec.model_id, spec.revision, dtype_name, device, spec.safety_checker), build)


def _needs_compel(model: LoadedModel, text: str) -> bool:
    """Weighting syntax, or longer than the tokenizer's window (77 tokens for CLIP)."""
    if _COMPEL_SYNTAX.search(text):
        return True
    tokenizer = model.pipeline.tokenizer
    return len(tokenizer(text).input_ids) > tokenizer.model_max_length


def encode_prompts(
    model: LoadedModel, prompts: list[str], negative_prompts: list[str], guidance: float = 7.5
) -> list[dict]:
    """Per-image prompt embeddings, never depending on the other prompts of a batch. Returns
    the pipeline's embedding keyword arguments; the negative ones only when ``guidance``
    makes the pipeline use them (above 1: classifier-free guidance).

    Plain prompts that fit the tokenizer go through the pipeline's own ``encode_prompt``
    (what a bare diffusers call does; compel's parser costs ~60 ms a prompt on a CPU), the
    batch's new ones in one text-encoder pass: the pipeline pads each to the tokenizer's full
    window, so a neighbour changes nothing (a pass per prompt cost a fast GPU ~9% of its
    throughput at 4 steps). Weighted or long prompts go through compel, one at a time (it
    pads to the longest of a call). Results are cached per process."""
    import torch

    negatives = guidance > 1
    keys = [(prompt, negative, negatives) for prompt, negative in zip(prompts, negative_prompts)]
    new = [key for key in dict.fromkeys(keys) if key not in model._embeddings]
    plain = [key for key in new if not (_needs_compel(model, key[0]) or _needs_compel(model, key[1]))]
    with torch.inference_mode():
        computed = dict(zip(plain, _encode_with_pipeline(model, plain, negatives))) if plain else {}
        for key in new:
            if key not in computed:
                both = _encode_with_compel(model, key[0], key[1])
                computed[key] = {name: value for name, value in both.items() if negatives or "negative" not in name}
    for key, embeddings in computed.items():
        if len(model._embeddings) >= EMBEDDING_CACHE_SIZE:
            model._embeddings.pop(next(iter(model._embeddings)))  # oldest first
        model._embeddings[key] = embeddings
    return [computed.get(key) or model._embeddings[key] for key in keys]


def _encode_with_pipeline(model: LoadedModel, keys: list[tuple[str, str, bool]], negatives: bool) -> list[dict]:
    """The pipeline's ``encode_prompt`` over several (prompt, negative) pairs at once, split
    back into one embedding dict per pair."""
    names = ["prompt_embeds", "negative_prompt_embeds"]
    if model.is_sdxl:
        names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    tensors = model.pipeline.encode_prompt(
        prompt=[key[0] for key in keys],
        device=model.device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=negatives,
        negative_prompt=[key[1] for key in keys] if negatives else None,
    )
    batch = {name: tensor for name, tensor in zip(names, tensors) if tensor is not None}
    return [{name: tensor[index : index + 1] for name, tensor in batch.items()} for index in range(len(keys))]


def _encode_with_compel(model: LoadedModel, prompt: str, negative: str) -> dict:
    conditioner = model.conditioner()
    if model.is_sdxl:
        out = conditioner(main_prompt=prompt, negative_prompt=negative)
        return {
            "prompt_embeds": out.embeds,
            "negative_prompt_embeds": out.negative_embeds,
            "pooled_prompt_embeds": out.pooled_embeds,
            "negative_pooled_prompt_embeds": out.negative_pooled_embeds,
        }
    out = conditioner(prompt, negative_prompt=negative)
    return {"prompt_embeds": out.embeds, "negative_prompt_embeds": out.negative_embeds}


def generate(
    model: LoadedModel,
    prompts: list[str],
    negative_prompts: list[str],
    seeds: list[int],
    width: int,
    height: int,
    steps: int,
    guidance: float,
    scheduler: str = DEFAULT_SCHEDULER,
    init_images: list[Image.Image] | None = None,
    masks: list[Image.Image] | None = None,
    strength: float = 1.0,
) -> RenderOutput:
    """Render a batch; one generator per image. With ``init_images`` this is image-to-image
    at ``strength``; with ``masks`` too, inpainting of their white part. On CUDA
    out-of-memory the batch is halved and retried down to single images; only then does
    the error propagate."""
    # 1. Check inputs
    if not (len(prompts) == len(negative_prompts) == len(seeds)) or not prompts:
        raise ValueError(
            f"prompts, negative_prompts and seeds must be equally long and non-empty, got {len(prompts)}, {len(negative_prompts)}, {len(seeds)}"
        )
    if width % 8 or height % 8:
        raise ValueError(f"`height` and `width` have to be divisible by 8 but are {height} and {width}.")
    check_scheduler(scheduler)
    if masks is not None and init_images is None:
        raise ValueError("masks need init_images")
    task = TEXT2IMG if init_images is None else INPAINT if masks is not None else IMG2IMG
    pipeline = model.with_scheduler(scheduler, task)
    # Per-image inputs that follow each image through grouping and OOM halving.
    extras = [{} for _ in prompts]
    for name, values in (("image", init_images), ("mask_image", masks)):
        if values is not None:
            if len(values) != len(prompts):
                raise ValueError(f"{name}: {len(values)} given for {len(prompts)} prompts")
            for extra, value in zip(extras, values):
                extra[name] = value
    call = {"num_inference_steps": steps, "guidance_scale": guidance}
    if task != IMG2IMG:  # img2img takes its size from the image
        call.update(width=width, height=height)
    if task != TEXT2IMG:
        call["strength"] = strength
    # 2. Encode prompts one by one
    embeddings = encode_prompts(model, prompts, negative_prompts, guidance)
    # 3. Only equally long embeddings share a forward pass (no padding from neighbours)
    groups: dict[tuple, list[int]] = {}
    for index, embeds in enumerate(embeddings):
        length = tuple(tensor.shape[1] for name, tensor in sorted(embeds.items()) if "pooled" not in name)
        groups.setdefault(length, []).append(index)
    images: list = [None] * len(prompts)
    nsfw: list = [False] * len(prompts)
    for indices in groups.values():
        out = _forward_with_oom_backoff(
            pipeline, [embeddings[i] for i in indices], [extras[i] for i in indices], [seeds[i] for i in indices], call
        )
        for position, index in enumerate(indices):
            images[index] = out.images[position]
            nsfw[index] = out.nsfw[position]
    return RenderOutput(images, nsfw)


def _forward_with_oom_backoff(pipeline, embeddings, extras, seeds, call) -> RenderOutput:
    import torch

    try:
        return _forward(pipeline, embeddings, extras, seeds, call)
    except torch.OutOfMemoryError:
        if len(seeds) == 1:
            raise
        half = len(seeds) // 2
        logger.warning(
            "out of memory at batch size %d; retrying as batches of %d and %d", len(seeds), half, len(seeds) - half
        )
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        first = _forward_with_oom_backoff(pipeline, embeddings[:half], extras[:half], seeds[:half], call)
        second = _forward_with_oom_backoff(pipeline, embeddings[half:], extras[half:], seeds[half:], call)
        return RenderOutput(first.images + second.images, first.nsfw + second.nsfw)


def _forward(pipeline, embeddings, extras, seeds, call) -> RenderOutput:
    import torch

    # Generators on the CPU: the same noise whatever the device.
    generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]
    stacked = {key: torch.cat([e[key] for e in embeddings]) for key in embeddings[0]}
    per_image = {key: [extra[key] for extra in extras] for key in extras[0]}
    with torch.inference_mode():
        output = pipeline(**stacked, **per_image, **call, generator=generators, output_type="pil")
    flags = getattr(output, "nsfw_content_detected", None) or [False] * len(seeds)
    return RenderOutput(list(output.images), [bool(flag) for flag in flags])
