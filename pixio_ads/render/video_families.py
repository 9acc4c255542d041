"""Image-to-video model families, declared once (as families.py declares the image ones):
how a diffusers checkpoint is recognised from its ``model_index.json`` without loading it,
which pipeline class animates a still with it, and the clip it makes by default.

A clip longer than the model's own is played forward and back (creative/motion.looped): the
models make 2-5 s well and drift or loop badly past that; chained segments would multiply the
GPU time per second of video (docs/creatives.md says when to prefer them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pixio_ads.render.tiny_video import TINY_VIDEO_MODELS, tiny_video_folder


@dataclass(frozen=True, slots=True)
class VideoFamily:
    name: str
    pipeline: str  # the diffusers class that animates a still
    index_classes: tuple[str, ...]  # model_index.json's _class_name values it takes
    frames: int  # the model's own clip length
    fps: int  # what those frames are timed for
    frame_multiple: int  # frames = k * frame_multiple + 1
    size_multiple: int  # width and height a multiple of this
    pixels: int  # about the pixel count it was trained at (width x height)


VIDEO_FAMILIES: tuple[VideoFamily, ...] = (
    # LTX-Video: one checkpoint does text- and image-to-video (the docs load LTXImageToVideoPipeline
    # from Lightricks/LTX-Video, whose model_index names LTXPipeline); 121 frames at 24 fps, 704 x 480.
    VideoFamily(
        "ltx-video",
        "LTXImageToVideoPipeline",
        ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
        121,
        24,
        8,
        32,
        704 * 480,
    ),
    # Wan 2.1 I2V (a CLIP image encoder) and Wan 2.2 TI2V-5B (WanPipeline with expand_timesteps: the
    # image becomes the first latent frame); 81 frames at 16 fps, 832 x 480.
    VideoFamily(
        "wan", "WanImageToVideoPipeline", ("WanImageToVideoPipeline", "WanPipeline"), 81, 16, 4, 32, 832 * 480
    ),
)
SUPPORTED = ", ".join(f"{family.name} ({family.pipeline})" for family in VIDEO_FAMILIES)
# Classes we know, named in the refusal so the user knows what they gave.
_OTHER_VIDEO = ("CogVideoX", "HunyuanVideo", "SanaVideo", "Mochi", "Allegro", "SkyReels", "AnimateDiff")


class VideoModelError(ValueError):
    """A video_model that cannot animate a still here: what it is and what to use."""


def video_model_folder(model: str) -> Path | None:
    """A local checkpoint folder, the embedded tiny ones, or a hub id found in the local cache;
    None when none of them has it (validate then says so)."""
    if model in TINY_VIDEO_MODELS:
        return tiny_video_folder(model)
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not cached: this machine cannot fetch it
        return None


def video_family(model: str) -> VideoFamily:
    """The family of ``model`` read from its model_index.json; VideoModelError when it is not an
    image-to-video checkpoint of a supported family (what it is, and what to use)."""
    folder = video_model_folder(model)
    if folder is None:
        raise VideoModelError(
            f"video model {model!r} is neither a checkpoint folder nor in the local Hugging Face cache; "
            f"download it first (supported: {SUPPORTED})"
        )
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise VideoModelError(f"{folder} has no model_index.json: not a diffusers pipeline folder")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    name = index.get("_class_name", "")
    for family in VIDEO_FAMILIES:
        if name in family.index_classes:
            _check_image_input(family, name, index, folder)
            return family
    raise VideoModelError(
        f"{model} is {_what_it_is(name)}, not an image-to-video model of a supported family ({SUPPORTED})"
    )


def _check_image_input(family: VideoFamily, name: str, index: dict, folder: Path) -> None:
    """Wan's text-to-video checkpoints (2.1 T2V) have no way to take a still: no image encoder,
    no expand_timesteps."""
    if family.name == "wan" and name == "WanPipeline" and not index.get("expand_timesteps"):
        raise VideoModelError(
            f"{folder} is a Wan text-to-video checkpoint (WanPipeline without expand_timesteps): it cannot start from "
            "the scene; use an image-to-video one (Wan2.1-I2V, Wan2.2-TI2V-5B)"
        )
    missing = [
        part for part, spec in index.items() if isinstance(spec, list) and spec[0] and not (folder / part).exists()
    ]
    if missing:
        raise VideoModelError(f"{folder} is missing {', '.join(missing)} (named in its model_index.json)")


def _what_it_is(class_name: str) -> str:
    if any(class_name.startswith(prefix) for prefix in _OTHER_VIDEO):
        return f"a {class_name} video model (not supported yet)"
    if "ImageToVideo" not in class_name and "Video" in class_name or "T2V" in class_name:
        return f"a text-to-video model ({class_name})"
    if "Upscale" in class_name:
        return f"an upscaler ({class_name}), which --upscaler takes"
    if class_name.endswith("Pipeline"):
        return f"an image model ({class_name}), which --model and the model column take"
    return f"not a diffusers pipeline ({class_name or 'no _class_name'})"


def clip_size(family: VideoFamily, aspect: float, pixels: int | None = None) -> tuple[int, int]:
    """(width, height) the model renders at for a format of ``aspect``: about its trained pixel
    count (or ``pixels``), each side a multiple of its size_multiple."""
    width = ((pixels or family.pixels) * aspect) ** 0.5
    step = family.size_multiple
    return max(step, round(width / step) * step), max(step, round(width / aspect / step) * step)
