"""Keeping a pipeline call on the device: no host round trips diffusers makes by default.

Applied to every pipeline a process creates (loading.py), eager or compiled:

- **The safety checker's input prepared on the device.** diffusers converts the decoded batch
  to PIL images on the CPU, runs the CLIP image processor there (resize to 224 px, crop,
  normalise) and sends the result back: ~20-30 ms of a render process's CPU per batch of
  four 512 px images (more at 1024 px), while the GPU waits. ``clip_pixels`` does the same
  steps on the decoded tensor where it lies: quantised to 8 bits as the PIL image is,
  bicubic resize with antialiasing (PyTorch's port of Pillow's filter, in Pillow's two
  8-bit passes), centre crop,
  rescale and normalise with the processor's own settings. The checker's verdicts are
  diffusers' own (its ``forward``). Only the processor settings the SD checkpoints use are
  reproduced; any other processor keeps diffusers' path.
- **The scheduler's first step located without a sync.** Schedulers find their first step
  by searching the device's timesteps for the current one (a device-to-host copy, so the
  CPU stops queueing work until the GPU has caught up) unless told where the schedule
  begins. Text-to-image always begins at the first timestep: ``set_begin_index(0)`` after
  each ``set_timesteps``. Image-to-image and inpainting set their own begin index after it,
  as diffusers does. Same images (tests compare every scheduler with and without).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types

_RESAMPLE_BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, what CLIP's processor resizes with
_HOOKED = "_pixio_begins_at_zero"


def streamline(pipeline) -> None:
    """Install both changes on ``pipeline`` (idempotent; shared schedulers are hooked once)."""
    scheduler = getattr(pipeline, "scheduler", None)
    if scheduler is not None:
        begin_at_first_timestep(scheduler)
    if getattr(pipeline, "safety_checker", None) is not None and hasattr(pipeline, "run_safety_checker"):
        if processor_supported(getattr(pipeline, "feature_extractor", None)):
            pipeline.run_safety_checker = types.MethodType(_run_safety_checker_on_device, pipeline)


def begin_at_first_timestep(scheduler) -> None:
    """After each ``set_timesteps``, the begin index 0 (see the module's docstring)."""
    if not hasattr(scheduler, "set_begin_index") or getattr(scheduler, _HOOKED, False):
        return
    original = scheduler.set_timesteps

    @functools.wraps(original)
    def set_timesteps(*args, **kwargs):
        result = original(*args, **kwargs)
        scheduler.set_begin_index(0)
        return result

    scheduler.set_timesteps = set_timesteps
    setattr(scheduler, _HOOKED, True)


def as_diffusers_does(pipeline):
    """A pipeline sharing ``pipeline``'s modules that behaves as diffusers' own (the PIL
    round trip, the timestep search): the benchmarks' bare loop and the tests' reference.
    Its scheduler is a copy (``from_config`` would lose what the pipeline set in its config)."""
    scheduler = copy.deepcopy(pipeline.scheduler)
    for hooked in ("set_timesteps", _HOOKED):
        scheduler.__dict__.pop(hooked, None)
    plain = type(pipeline).from_pipe(pipeline, scheduler=scheduler)
    plain.set_progress_bar_config(disable=True)
    return plain


def processor_supported(processor) -> bool:
    """A CLIP image processor set up as SD checkpoints ship it: shortest-edge bicubic resize,
    centre crop, rescale, normalise, RGB."""
    size, crop = _sizes(processor, "size"), _sizes(processor, "crop_size")
    return (
        processor is not None
        and set(size) == {"shortest_edge"}
        and {"height", "width"} <= set(crop)
        and max(crop["height"], crop["width"]) <= size["shortest_edge"]  # a crop, never padding
        and all(
            getattr(processor, flag, False) for flag in ("do_resize", "do_center_crop", "do_rescale", "do_normalize")
        )
        and int(getattr(processor, "resample", -1)) == _RESAMPLE_BICUBIC
    )


def _sizes(processor, name: str) -> dict:
    """A processor's size setting as a dict of the entries set: a dict in transformers 4, a
    SizeDict dataclass (every key, unset ones None) in transformers 5."""
    value = getattr(processor, name, None)
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return {key: entry for key, entry in (value or {}).items() if entry is not None}


def clip_pixels(images, processor):
    """The CLIP processor's ``pixel_values`` for a decoded batch (B, 3, H, W, values -1..1,
    on any device), computed there in float32 (see the module's docstring)."""
    import torch
    import torch.nn.functional as F

    pixels = ((images.float() / 2 + 0.5).clamp(0, 1) * 255).round()  # the 8-bit image diffusers makes
    height, width = pixels.shape[-2:]
    short = _sizes(processor, "size")["shortest_edge"]
    # transformers' get_resize_output_image_size: the short side to `short`, the long one scaled and truncated
    size = (short, int(short * width / height)) if height <= width else (int(short * height / width), short)
    # Pillow resizes rows, then columns, rounding to 8 bits after each pass: so do we (one
    # pass in float differs by up to 9 levels on noise; these two by 1 in 0.05% of values)
    for pass_size in ((height, size[1]), size):
        if pass_size != tuple(pixels.shape[-2:]):
            pixels = F.interpolate(pixels, size=pass_size, mode="bicubic", antialias=True, align_corners=False)
            pixels = pixels.round().clamp(0, 255)
    crop = _sizes(processor, "crop_size")
    crop_height, crop_width = crop["height"], crop["width"]
    top, left = (size[0] - crop_height) // 2, (size[1] - crop_width) // 2
    pixels = pixels[..., top : top + crop_height, left : left + crop_width]
    mean = torch.tensor(processor.image_mean, device=pixels.device).view(1, -1, 1, 1)
    std = torch.tensor(processor.image_std, device=pixels.device).view(1, -1, 1, 1)
    return (pixels * processor.rescale_factor - mean) / std


def _run_safety_checker_on_device(self, image, device, dtype):
    """diffusers' ``run_safety_checker`` with the checker's input made by ``clip_pixels``."""
    import torch

    if self.safety_checker is None or not torch.is_tensor(image):
        return type(self).run_safety_checker(self, image, device, dtype)
    clip_input = clip_pixels(image, self.feature_extractor).to(device=device, dtype=dtype)
    return self.safety_checker(images=image, clip_input=clip_input)
