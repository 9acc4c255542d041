"""Loading diffusers pipelines, once per process: which device, the checkpoint's source (the
embedded model, a folder, a single .safetensors/.ckpt file, a hub id), precision and
schedulers; a checkpoint is loaded once (keyed by model, revision, dtype, device and
safety-checker setting) and its scheduler variants share its modules (``from_pipe``)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pixio_ads.core.errors import ModelLoadError
from pixio_ads.render import families
from pixio_ads.render.compiled import compile_pipeline
from pixio_ads.render.families import EDIT, IMG2IMG, INPAINT, TEXT2IMG, Family
from pixio_ads.render.streamline import streamline
from pixio_ads.render.tiny_model import (
    BACKDROP_NOTE,
    EMBEDDED_MODEL_ID,
    EMBEDDED_MODELS,
    NOISE_WARNING,
    ensure_embedded_model,
)

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
__all__ = ["EDIT", "IMG2IMG", "INPAINT", "TEXT2IMG"]  # the tasks, as families.py names them
DTYPES = (
    "auto",
    "fp16",
    "bf16",
    "fp32",
)  # auto: on CUDA fp16 for UNet families, bf16 for the DiT ones; fp32 elsewhere
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
OFFLOAD_MODES = ("model", "sequential")  # enable_model_cpu_offload, enable_sequential_cpu_offload

logger = logging.getLogger(__name__)
_PIPELINES: dict[tuple, object] = {}  # loaded pipelines of this process, by key


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything that selects a loaded pipeline (not the per-image settings)."""

    model_id: str
    revision: str | None = None
    dtype: str = "auto"
    safety_checker: bool = True
    compile_mode: str | None = None  # torch.compile mode (compiled.py); None: eager
    vae: str | None = None  # a VAE to decode with instead of the checkpoint's (load_vae)
    offload: str | None = None  # OFFLOAD_MODES: diffusers' CPU offload instead of the whole model on the device


@dataclass(slots=True)
class LoadedModel:
    spec: ModelSpec
    pipeline: object  # a diffusers text-to-image pipeline
    device: str
    dtype: str  # resolved: fp16, bf16 or fp32
    native_side: int  # the side length (px) the model was trained at
    family: Family
    _conditioner: object = None
    _by_scheduler: dict = field(default_factory=dict)
    _embeddings: dict = field(default_factory=dict)  # (prompt, negative, with negatives, LoRAs) -> embedding kwargs
    # adapters.py: the set the last batch ran with, the LoRAs loaded, the IP-Adapter loaded
    _adapters: tuple | None = None
    _loras: set = field(default_factory=set)
    _ip_adapter: tuple | None = None
    _compiled_shapes: set = field(default_factory=set)  # batch shapes compiled so far

    @property
    def compiled(self) -> bool:
        return self.spec.compile_mode is not None

    def first_call(self, shape: tuple) -> bool:
        """A compiled model's first call at ``shape`` (it compiles there); records it."""
        if not self.compiled or shape in self._compiled_shapes:
            return False
        self._compiled_shapes.add(shape)
        return True

    @property
    def lora_key(self) -> tuple:
        """The LoRAs (and weights) now active: a text encoder LoRA changes prompt embeddings."""
        return self._adapters[0] if self._adapters else ()

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def is_sdxl(self) -> bool:
        return self.family.name == "sdxl"

    def conditioner(self):
        """compel for this pipeline's text encoder(s) (the family's wrapper), created on first use."""
        if self._conditioner is None:
            import compel

            self._conditioner = getattr(compel, self.family.compel)(self.pipeline, device=self.device)
        return self._conditioner

    def with_scheduler(self, name: str, task: str = TEXT2IMG):
        """The family's pipeline for ``task`` (text2img, img2img, inpaint, edit) with scheduler
        ``name``, sharing every module (weights included) with the loaded one."""
        if task not in self.family.pipelines:
            raise ValueError(f"{self.model_id} ({self.family.title}) has no {task} pipeline")
        if name == DEFAULT_SCHEDULER and (
            task == TEXT2IMG or self.family.pipelines[task] == self.family.pipelines[TEXT2IMG]
        ):
            return self.pipeline  # FLUX Kontext: one pipeline makes images and edits them
        pipeline_class = self.family.pipeline_class(task)
        if (name, task) not in self._by_scheduler:
            import diffusers

            kwargs = {}
            if name != DEFAULT_SCHEDULER:
                class_name, overrides = SCHEDULERS[name]
                kwargs["scheduler"] = getattr(diffusers, class_name).from_config(
                    self.pipeline.scheduler.config, **overrides
                )
            pipeline = pipeline_class.from_pipe(self.pipeline, **kwargs)
            pipeline.set_progress_bar_config(disable=True)
            streamline(pipeline)
            self._by_scheduler[name, task] = pipeline
        return self._by_scheduler[name, task]


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
    path = _local_or_hub_id(model_id, "model")
    if path.exists():
        if path.is_dir() and not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"model folder {model_id!r} has no model_index.json: point --model at a diffusers checkpoint folder"
            )
        if path.is_file() and path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise ModelLoadError(f"model file {model_id!r} is not a {' or '.join(SINGLE_FILE_SUFFIXES)} checkpoint")
        return str(path)
    return model_id


def family_of(model_id: str) -> Family | None:
    """The model's family, read from its files (families.detect); None for a hub id not yet cached."""
    return families.detect(model_id, resolve_source(model_id))


def resolve_vae(reference: str) -> str:
    """What AutoencoderKL loads for ``--vae``: a folder with config.json (or a checkpoint folder
    with vae/), a single .safetensors/.ckpt file, or a hub id. Raises ModelLoadError naming a
    bad path (planning calls it, so a bad VAE fails before any rendering)."""
    path = _local_or_hub_id(reference, "VAE")
    if path.is_dir() and not any((path / sub / "config.json").is_file() for sub in ("", "vae")):
        raise ModelLoadError(f"VAE folder {reference!r} has no config.json: point --vae at an AutoencoderKL folder")
    if path.is_file() and path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
        raise ModelLoadError(f"VAE file {reference!r} is not a {' or '.join(SINGLE_FILE_SUFFIXES)} file")
    return str(path) if path.exists() else reference


def _local_or_hub_id(reference: str, what: str) -> Path:
    """``reference`` as a local path; one that does not exist must look like a hub id."""
    path = Path(reference).expanduser()
    if not path.exists() and not _HUB_ID.match(reference):
        raise ModelLoadError(f"{what} path {reference!r} does not exist (and it is not a hub id like 'org/name')")
    return path


def torch_dtype_for(dtype: str, device: str, family: Family | None = None):
    import torch

    """('fp16', torch.float16) etc.; 'auto' is fp32 off CUDA and on CUDA fp16 for the UNet
    families, bf16 for the DiT ones (FLUX, SD3, Qwen-Image are trained and released in bf16;
    their activations overflow fp16)."""
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if dtype == "auto":
        unet = family is None or family.denoiser == "unet"
        dtype = ("fp16" if unet else "bf16") if device.startswith("cuda") else "fp32"
    return dtype, {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]


def _pipeline_from_source(source: str, spec: ModelSpec, family: Family | None, torch_dtype):
    """The text-to-image pipeline of the checkpoint's family (diffusers' auto pipeline where
    the family could not be read before loading: a hub id not yet in the local cache)."""
    kwargs: dict = {"dtype": torch_dtype}
    if spec.revision:
        kwargs["revision"] = spec.revision
    if not spec.safety_checker and (family is None or family.safety_checker):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    if spec.vae:
        kwargs["vae"] = load_vae(spec.vae, torch_dtype)
    if Path(source).is_file():  # single file: diffusers maps it to the family's configuration
        return family.pipeline_class(TEXT2IMG).from_single_file(source, **kwargs)
    if family is None:  # imported only here: the auto pipeline imports every pipeline (~2 s of CPU)
        from diffusers import AutoPipelineForText2Image

        return AutoPipelineForText2Image.from_pretrained(source, **kwargs)
    return family.pipeline_class(TEXT2IMG).from_pretrained(source, **kwargs)


def load_vae(reference: str, torch_dtype):
    """The AutoencoderKL to decode with instead of the checkpoint's own: a diffusers folder
    (its config.json, or a checkpoint folder's vae/), a single .safetensors file, or a hub id
    in the local cache. SDXL's own VAE overflows in fp16, so diffusers decodes it in float32
    (``force_upcast``); an fp16-safe one (madebyollin/sdxl-vae-fp16-fix) decodes in fp16."""
    from diffusers import AutoencoderKL

    source = resolve_vae(reference)
    path = Path(source)
    try:
        if path.is_file():
            return AutoencoderKL.from_single_file(source, dtype=torch_dtype)
        subfolder = "vae" if (path / "vae" / "config.json").is_file() else None
        return AutoencoderKL.from_pretrained(source, subfolder=subfolder, dtype=torch_dtype)
    except Exception as exc:  # OSError, ValueError, hub errors...
        raise _load_failure(
            f"VAE {reference!r}", exc, "a diffusers AutoencoderKL folder, a .safetensors file"
        ) from None


def _load_failure(what: str, exc: Exception, accepted: str) -> ModelLoadError:
    """A loader's exception as an error naming what could not be loaded, why (its first line)
    and what to pass instead (``accepted``, or a hub id in the local cache)."""
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return ModelLoadError(
        f"cannot load {what}: {exc.__class__.__name__}: {first_line}. "
        f"Pass {accepted}, or a hub id already in the local Hugging Face cache"
    )


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


def loaded_models() -> list:
    """The pipelines (LoadedModel and others) this process holds."""
    with _LOAD_LOCK:
        return list(_PIPELINES.values())


def load_stats() -> tuple[int, float]:
    """(pipelines loaded by this process so far, total seconds spent loading them)."""
    return _LOADS[0], _LOADS[1]


def load_pipeline(model_id: str, loader, device: str, offload: str | None = None):
    """Resolve ``model_id``, call ``loader(source)``, move the pipeline to ``device`` (with
    ``offload``: leave it in CPU memory, each module moved to ``device`` for its turn).
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
    except ModelLoadError:
        raise
    except Exception as exc:  # OSError, ValueError, hub errors...
        raise _load_failure(
            f"model {model_id!r}", exc, "a local diffusers checkpoint folder, a .safetensors file"
        ) from None
    if offload == "model":
        pipeline.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipeline.enable_sequential_cpu_offload(device=device)
    else:
        pipeline = pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def load_model(spec: ModelSpec | str, device: str | None = None) -> LoadedModel:
    """Load (or reuse) a text-to-image pipeline."""
    spec = ModelSpec(spec) if isinstance(spec, str) else spec
    device = select_device(device)
    family = family_of(spec.model_id)
    dtype_name, torch_dtype = torch_dtype_for(spec.dtype, device, family)

    def build() -> LoadedModel:
        pipeline = load_pipeline(
            spec.model_id,
            lambda source: _pipeline_from_source(source, spec, family, torch_dtype),
            device,
            spec.offload,
        )
        found = family or families.family_of_pipeline(pipeline, spec.model_id)
        side = families.native_side(pipeline, found)
        logger.info(
            "loaded model %s on %s (%s, %s, native %d px)", spec.model_id, device, dtype_name, found.title, side
        )
        if dtype_name == "fp16" and getattr(pipeline.vae.config, "force_upcast", False):
            logger.info(
                "%s's VAE decodes in float32 (it overflows in fp16); an fp16-safe --vae decodes in fp16", spec.model_id
            )
        streamline(pipeline)
        if spec.compile_mode:
            compile_pipeline(pipeline, spec.compile_mode, found.denoiser)
        return LoadedModel(spec, pipeline, device, dtype_name, side, found)

    key = (
        "text2image",
        spec.model_id,
        spec.revision,
        dtype_name,
        device,
        spec.safety_checker,
        spec.compile_mode,
        spec.vae,
        spec.offload,
    )
    return cached(key, build)
