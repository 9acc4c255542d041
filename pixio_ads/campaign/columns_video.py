"""The spreadsheet's video columns (part of columns.COLUMNS) and their checks across columns: a
row with a ``motion`` other than ``none`` makes an MP4 of each of its variants (run/clips.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from pixio_ads.campaign import parsers
from pixio_ads.campaign.assets import ImageProblem, locate
from pixio_ads.campaign.parsers import Column
from pixio_ads.campaign.rows import ImageRef
from pixio_ads.core.errors import Issue
from pixio_ads.core.fileio import sha256_file
from pixio_ads.core.video import VideoError, audio_seconds
from pixio_ads.creative.motion import MOTIONS
from pixio_ads.render.video_families import VideoModelError, video_family

FRAME_RATES = ("24", "25", "30")
DEFAULT_DURATION, MIN_DURATION, MAX_DURATION = 6.0, 3.0, 30.0


def audio(text: str, check, column: str) -> ImageRef | None:
    """An audio file beside the campaign that FFmpeg decodes (a music bed)."""
    if not text:
        return None
    path = locate(check.campaign.folder, text, "audio", "music/bed.m4a")
    if isinstance(path, ImageProblem):
        found = path
    else:
        stat = path.stat()
        found = _audio_file(path, stat.st_mtime_ns, stat.st_size)
    if isinstance(found, ImageProblem):
        check.problem(column, found.message, found.fix, text)
        return None
    return ImageRef(text, *found)


@lru_cache(maxsize=256)
def _audio_file(path: Path, mtime_ns: int, size: int) -> tuple[Path, str] | ImageProblem:
    """Decoded once per file version (its mtime and size in the key: a long-lived `serve`
    sees a replaced music bed), not once per row."""
    try:
        audio_seconds(path)
    except VideoError as exc:
        return ImageProblem(str(exc), "give an audio file (M4A/AAC, MP3, WAV, OGG) that plays")
    return path, sha256_file(path)


def motion_prompt(text: str, check, column: str) -> str:
    """A Jinja template like the prompt's (the same names); its syntax checked here."""
    if text:
        try:
            _ENV.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            check.problem(
                column, f"template syntax error: {exc.message}", "correct the Jinja syntax in the cell", text
            )
    return text


_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)

VIDEO_COLUMNS: tuple[Column, ...] = (
    Column(
        "motion",
        False,
        "Makes each variant a video (MP4): `none` (default: a still), `zoom`, `pan` or `parallax` (the scene moves "
        "under the product and copy, any model), or `model` (the scene animated by `video_model`). docs/creatives.md.",
        "zoom",
        parse=parsers.choice(MOTIONS, "none"),
    ),
    Column(
        "duration",
        False,
        f"Video length in seconds, {MIN_DURATION:g}-{MAX_DURATION:g} (default {DEFAULT_DURATION:g}).",
        "6",
        parse=parsers.number(float, DEFAULT_DURATION, MIN_DURATION, MAX_DURATION),
    ),
    Column(
        "fps",
        False,
        "Video frame rate: " + ", ".join(FRAME_RATES) + " (default 30).",
        "30",
        parse=parsers.choice(FRAME_RATES, "30"),
    ),
    Column(
        "video_model",
        False,
        "Image-to-video diffusers checkpoint for `motion = model` (LTX-Video, Wan 2.x I2V/TI2V; the CLI's "
        "--video-model wins): a folder or a hub id in the local cache.",
        "Lightricks/LTX-Video",
        parse=parsers.optional,
    ),
    Column(
        "motion_prompt",
        False,
        "What moves, for `motion = model`: a Jinja template like the prompt's (same names); default: the scene's prompt.",
        "{{ style }} light, leaves drifting slowly",
        parse=motion_prompt,
    ),
    Column(
        "audio",
        False,
        "Music bed for the video (an audio file beside the campaign: M4A, MP3, WAV...); silent by default.",
        "music/upbeat.m4a",
        parse=audio,
    ),
)


def check_motion(values: dict, cells: dict, check) -> None:
    """Video settings on a still row are a mistake worth naming (the video model itself is
    checked when the row expands, where --video-model is known: video_model_issue)."""
    values["fps"] = int(values["fps"])
    if values["motion"] != "none":
        return
    for name in ("video_model", "motion_prompt", "audio", "duration", "fps"):
        if cells.get(name):
            fix = "set motion (zoom, pan, parallax or model) or clear the cell"
            check.problem(name, f"{name} is for videos and this row's motion is none", fix, cells[name])


def video_model_issue(motion: str, model: str, row: int, file: str, given: str) -> Issue | None:
    """What is wrong with a video row's model (``model``: --video-model, else the row's cell
    ``given``): missing for ``motion = model``, set for a camera motion, or not an image-to-video
    checkpoint of a supported family (read from its model_index.json, not loaded)."""
    if motion == "model" and not model:
        return Issue(
            file,
            "motion 'model' needs an image-to-video model",
            "name one in video_model (or --video-model), or use motion zoom, pan or parallax",
            row=row,
            column="video_model",
        )
    if motion != "model" and given:
        return Issue(
            file,
            f"motion {motion!r} moves the camera and uses no video model",
            "set motion to model or clear the cell",
            row=row,
            column="video_model",
            value=given,
        )
    found = _family_or_error(model) if motion == "model" else None
    if isinstance(found, str):
        return Issue(
            file,
            found,
            "give an image-to-video checkpoint (docs/models.md)",
            row=row,
            column="video_model",
            value=model,
        )
    return None


@lru_cache(maxsize=64)
def _family_or_error(model: str):
    try:
        return video_family(model)
    except VideoModelError as exc:
        return str(exc)


def video_fields(row, override: str | None, file: str) -> tuple[dict, Issue | None]:
    """A row's video values for its variants (``override``: --video-model), and what is wrong
    with its video model, if anything."""
    model = (override or row.video_model or "") if row.motion == "model" else ""
    issue = (
        video_model_issue(row.motion, model, row.row, file, row.video_model or "") if row.motion != "none" else None
    )
    fields = dict(
        motion=row.motion, duration=row.duration, fps=row.fps, video_model=model, motion_prompt="",
        audio=str(row.audio.path) if row.audio else "", audio_sha256=row.audio.sha256 if row.audio else "",
    )  # fmt: skip
    return fields, issue


def motion_prompt_for(env, row, context: dict, prompt: str, file: str) -> tuple[str, Issue | None]:
    """motion = model: the row's motion_prompt template rendered with the prompt's names (the
    prompt itself when the cell is empty); "" for other motions."""
    if row.motion != "model" or not row.motion_prompt:
        return (prompt if row.motion == "model" else ""), None
    try:
        return " ".join(env.from_string(row.motion_prompt).render(context).split()), None
    except Exception as exc:  # undefined names, a sandbox block, any error in the expression
        message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
        fix = "use the names the prompt template sees: " + ", ".join(context)
        return "", Issue(file, f"motion_prompt template failed: {message}", fix, row=row.row,
                         column="motion_prompt", value=row.motion_prompt)  # fmt: skip
