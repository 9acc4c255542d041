"""Motion for video creatives: the scene moves, the product and the copy do not.

A clip is layers over a scene, composited per frame with whole-array operations (OpenCV's
saturating multiply/add on each layer's window, one affine warp or remap of the scene):

- the scene: the generated picture under a camera move (``zoom``: a slow push in, ``pan``: a
  slide across a slightly enlarged scene, ``parallax``: the lower, nearer part of the scene
  sliding further than the upper, farther part, a depth cue from position in the frame), or
  the frames of an image-to-video model (``model``);
- the product, with its shadow: the cut-out's own pixels, at the same place in every frame;
- the copy (headline, button, logo): fading in over the first ENTRANCE_SECONDS, where the
  still has it (inside the format's safe zone);
- the AI label: visible in every frame.

A layer is read off a drawing function by drawing it twice, over black and over white (what
the drawing adds and how much it hides: premultiplied colour and alpha), so the still's own
drawing code makes the video's layers and the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.core.formats import Box

CAMERA_MOTIONS = ("zoom", "pan", "parallax")
MOTIONS = ("none", *CAMERA_MOTIONS, "model")
ZOOM = 0.10  # the push in: 10% closer by the last frame
PAN_ZOOM = 0.08  # pan and parallax: the scene enlarged by this much, the headroom they move in
ENTRANCE_SECONDS = 0.6  # the copy's fade in


@dataclass(frozen=True, slots=True)
class Layer:
    """Content drawn over a window of the canvas: premultiplied RGB and alpha (uint8)."""

    box: Box
    rgb: np.ndarray  # (h, w, 3): colour x alpha / 255
    alpha: np.ndarray  # (h, w, 3): the same alpha for each channel (OpenCV multiplies per channel)
    shows: np.ndarray  # 255 - alpha: how much of what is under it shows through

    @property
    def opaque(self) -> np.ndarray:
        """(h, w) bool: where the layer hides what is under it completely."""
        return self.alpha[..., 0] == 255


def layer_of(draw: Callable[[Image.Image], Image.Image], size: tuple[int, int]) -> Layer | None:
    """The layer ``draw`` puts over a canvas of ``size``: drawn over black (its premultiplied
    colour) and over white (the difference is what shows through: 255 - alpha). ``draw`` must
    composite fixed content over the canvas (paste with alpha, text, translucent panels); None
    when it draws nothing."""
    black = np.asarray(draw(Image.new("RGB", size, (0, 0, 0))).convert("RGB"), np.int16)
    white = np.asarray(draw(Image.new("RGB", size, (255, 255, 255))).convert("RGB"), np.int16)
    alpha = np.clip(255 - (white - black).max(axis=2), 0, 255).astype(np.uint8)
    rows, cols = np.nonzero(alpha.any(axis=1))[0], np.nonzero(alpha.any(axis=0))[0]
    if not len(rows):
        return None
    box = Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    window = (slice(box.top, box.bottom), slice(box.left, box.right))
    colour = np.minimum(black[window], alpha[window][..., None]).astype(np.uint8)  # premultiplied: <= alpha
    alpha3 = np.repeat(alpha[window][..., None], 3, axis=2)
    return Layer(box, np.ascontiguousarray(colour), alpha3, 255 - alpha3)


def over(frame: np.ndarray, layer: Layer, opacity: float = 1.0) -> None:
    """Composite ``layer`` onto ``frame`` in place, at ``opacity``."""
    import cv2

    box = layer.box
    region = frame[box.top : box.bottom, box.left : box.right]
    colour, shows = layer.rgb, layer.shows
    if opacity < 1.0:
        colour = cv2.convertScaleAbs(colour, alpha=opacity)  # rounded, saturating
        shows = 255 - cv2.convertScaleAbs(layer.alpha, alpha=opacity)
    region[:] = cv2.add(cv2.multiply(region, shows, scale=1 / 255), colour)


def eased(progress: float) -> float:
    """Smoothstep: a camera move that starts and ends gently."""
    progress = min(max(progress, 0.0), 1.0)
    return progress * progress * (3 - 2 * progress)


class Camera:
    """The scene under one of CAMERA_MOTIONS, ``progress`` 0 (first frame) to 1 (last)."""

    def __init__(self, scene: np.ndarray, motion: str) -> None:
        if motion not in CAMERA_MOTIONS:
            raise ValueError(f"unknown camera motion {motion!r}: use one of {', '.join(CAMERA_MOTIONS)}")
        self.scene, self.motion = np.ascontiguousarray(scene), motion
        self.height, self.width = scene.shape[:2]
        if motion == "parallax":
            rows = np.arange(self.height, dtype=np.float32)
            self._depth = (0.3 + 0.7 * rows / max(1, self.height - 1))[:, None]  # 0.3 far (top) .. 1 near
            self._x = np.arange(self.width, dtype=np.float32)[None, :]
            self._y = np.repeat(rows[:, None], self.width, axis=1)

    def frame(self, progress: float) -> np.ndarray:
        import cv2

        step = eased(progress)
        if self.motion == "parallax":
            return self._parallax(step)
        if self.motion == "zoom":
            scale, shift = 1.0 + ZOOM * step, 0.0
        else:  # pan: left to right across the headroom of a PAN_ZOOM enlargement
            scale = 1.0 + PAN_ZOOM
            shift = (step - 0.5) * self.width * PAN_ZOOM
        centre_x, centre_y = self.width / 2, self.height / 2
        matrix = np.float32([[scale, 0, centre_x * (1 - scale) - shift], [0, scale, centre_y * (1 - scale)]])
        return cv2.warpAffine(
            self.scene, matrix, (self.width, self.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )

    def _parallax(self, step: float) -> np.ndarray:
        """Each row sampled from further left or right the nearer it is, within the headroom
        of a PAN_ZOOM enlargement about the centre."""
        import cv2

        scale = 1.0 + PAN_ZOOM
        travel = (step - 0.5) * self.width * PAN_ZOOM / scale  # in the source's pixels, at the nearest row
        centre_x, centre_y = self.width / 2, self.height / 2
        map_x = centre_x + (self._x - centre_x) / scale - travel * self._depth
        map_y = centre_y + (self._y - centre_y) / scale
        return cv2.remap(self.scene, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@dataclass(frozen=True, slots=True)
class Overlays:
    """What stays still over the moving scene."""

    product: Layer | None  # with its shadow; None where the mode places no product
    copy: Layer | None  # headline, button, logo
    label: Layer | None  # the AI label


def frames(
    scene_at: Callable[[int], np.ndarray], overlays: Overlays, count: int, fps: int, mark: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """The clip's ``count`` frames: the scene of each frame (``scene_at(index)``: the format's
    size, RGB uint8; a fresh array the caller may change) with the layers over it, then
    ``mark`` (the watermark's per-pixel levels, int16 (h, w, 3)) added."""
    import cv2

    entrance_frames = max(1, round(ENTRANCE_SECONDS * fps))
    for index in range(count):
        frame = scene_at(index)
        if overlays.product is not None:
            over(frame, overlays.product)
        if overlays.copy is not None:
            over(frame, overlays.copy, eased(min(1.0, (index + 1) / entrance_frames)))
        if overlays.label is not None:
            over(frame, overlays.label)
        yield cv2.add(frame, mark, dtype=cv2.CV_8U) if mark is not None else frame


def looped(count: int, available: int, fps: int, source_fps: float) -> list[int]:
    """Which of a model's ``available`` frames (made at ``source_fps``) each of ``count`` output
    frames shows: by time, played forward and then backward (a ping-pong loop: no jump where
    it starts over) when the clip is longer than the model's."""
    if available <= 1:
        return [0] * count
    period = 2 * (available - 1)
    indices = []
    for index in range(count):
        position = round(index * source_fps / fps) % period
        indices.append(position if position < available else period - position)
    return indices


def fit_cover_array(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height and centre-crop (the array form of composite.fit_cover)."""
    import cv2

    scale = max(width / image.shape[1], height / image.shape[0])
    size = (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, size, interpolation=interpolation)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])
