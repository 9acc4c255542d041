"""The compiled render path (``--compile``): torch.compile of the denoiser (the UNet, or the
transformer of a DiT family: families.py) and the VAE decoder.

What it does to a loaded pipeline, once per process:

- the UNet and the VAE in channels_last memory format (what cuDNN's fastest convolutions
  and Inductor's kernels expect on a GPU);
- torch.compile of the UNet's forward and of the VAE's ``decode``, in ``mode`` (Inductor's
  "default": compiles in about a minute; "max-autotune" tries kernel variants for several
  minutes more, "reduce-overhead" and "max-autotune" add CUDA graphs, which pay off at small
  batches where launch overhead dominates: benchmarks/gpu_suite.sh measures each mode named
  in COMPILE_MODES= beside eager, see RESULTS.md);
- every forward at one batch shape: the render loop pads a short batch (the last of a group)
  to the batch size with copies of its last image, dropped afterwards. Each image has its own
  generator, so padding changes no other image; without it the last batch of every shard
  would compile again (minutes on a GPU with max-autotune).

Compilation happens at the first call of each shape; that call's time is counted as the
step "compile" (stepclock.py), not as the GPU's work, and reported in the run's summary.
Compiled and eager images agree to within float rounding (tests: PSNR >= 35 dB).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
DEFAULT_COMPILE_MODE = "default"


def compile_pipeline(pipeline, mode: str = DEFAULT_COMPILE_MODE, denoiser: str = "unet") -> None:
    """Compile the pipeline's ``denoiser`` ("unet" or "transformer") and VAE decoder in place
    (see the module's docstring)."""
    import torch

    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; valid: {', '.join(COMPILE_MODES)}")
    module = getattr(pipeline, denoiser)
    if denoiser == "unet":  # convolutions: channels_last; a transformer's linear layers gain nothing
        module.to(memory_format=torch.channels_last)
    pipeline.vae.to(memory_format=torch.channels_last)
    # fullgraph off: a LoRA's or IP-Adapter's layers may break the graph; they then run eager
    # between compiled parts instead of failing the batch.
    setattr(pipeline, denoiser, torch.compile(module, mode=mode, fullgraph=False, dynamic=False))
    pipeline.vae.decode = torch.compile(pipeline.vae.decode, mode=mode, fullgraph=False, dynamic=False)
    logger.info("compiling the %s and VAE decoder (%s) at each batch shape's first call", denoiser, mode)


def padded(items: list, size: int | None) -> list:
    """``items`` extended to ``size`` with copies of its last item (a fixed batch shape)."""
    if not size or len(items) >= size:
        return items
    return items + [items[-1]] * (size - len(items))
