"""The invisible watermark, version 2: a tile repeated over the whole image, found again after
the platforms' re-encoding, resizing, cropping and slight rotation.

Embedding: one 128 x 128 px tile of 32 x 32 cells (4 x 4 px each) is repeated from the top-left
corner and added to the luminance (the same amount to R, G and B): 2 levels up or down where the
picture is busy, 1 where it is flat (``amplitude``). Half the cells, at fixed pseudo-random places, form the synchronisation pattern (a fixed
+-1 pattern); the other half carry the 64 bits of the codeword (payload.py: 24 payload bits +
BCH parity), 8 cells per bit, each with its own fixed sign. Blocks of 4 px and a tile of 128 px
sit in the low-middle frequencies that JPEG and WebP keep and a 50% resize does not blur away.

Reading (``read``):

1. whiten: the luminance minus its Gaussian blur (sigma one cell), which leaves the pattern and
   the picture's fine detail, not its shapes and gradients; clipped to +-4 levels, so the edges
   of copy and product count no more than any other pixel;
2. fold: every tile-sized window added up, so the mark of each tile adds up and the picture
   averages out; a crop only moves where the tile starts;
3. synchronise: the circular cross-correlation of the folded tile with the sync pattern peaks
   where the tile starts; its height over the other 16,383 offsets (a z-score) says how sure
   the read is (unmarked images: about 4; ``DETECTED_Z`` and above: a mark);
4. if that fails, the scale and rotation are estimated from the whitened image's
   autocorrelation, whose peaks sit one tile (times the scale, turned by the rotation) apart;
   the best of three guesses is refined on the centre 768 px (scale in 0.2% steps, rotation in
   0.15 degree steps: a scale 0.5% off smears a tall image's last tiles), and the whole image is
   warped back and read (steps 2-3);
5. each bit's soft value: the mean of its cells, signed; BCH and the manifest match follow
   (payload.py).

Measured in benchmarks/watermark.py against version 1 (watermark.py, the library's dwtDctSvd,
which is still read for files made before).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

TILE = 128  # px, at the creative's own size
CELL = 4  # px per cell
CELLS = TILE // CELL  # per side
AMPLITUDE = 2  # levels added or taken per pixel where the picture is busy: PSNR >= 20 log10(255 / 2) = 42.1 dB
FLAT_AMPLITUDE = 1  # where it is flat (a plain backdrop)
TEXTURED_STD = 4.0  # local standard deviation (levels) from which a place counts as busy
RESIDUAL_CLIP = 4.0  # levels: whitened pixels are clipped to +-this before they are added up
DETECTED_Z = 7.0  # sync z-score from which a read counts as a mark (unmarked images: ~4, at most ~5)
SURE_Z = 10.0  # a read this clear ends the search over scales and rotations
SCALES = (0.4, 2.1)  # the range of resizes searched (a 1080 px creative shown at 432-2268 px)
MAX_ROTATION = 6.0  # degrees searched either way
SEARCH_SIDE = 768  # px: the centre square the scale and rotation are searched on


def _layout(bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sync cells as +-1 with 0 elsewhere, cell signs, bit index per cell or -1 for sync)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(b"pixio-ads watermark v2").digest()[:8], "big"))
    order = rng.permutation(CELLS * CELLS)
    slot = np.full(CELLS * CELLS, -1)
    message = order[: CELLS * CELLS // 2]
    slot[message] = np.arange(len(message)) % bits
    sync = np.where(slot < 0, rng.choice([-1.0, 1.0], CELLS * CELLS), 0.0)
    sign = rng.choice([-1.0, 1.0], CELLS * CELLS)
    return sync.reshape(CELLS, CELLS), sign.reshape(CELLS, CELLS), slot.reshape(CELLS, CELLS)


BITS = 64
_SYNC, _SIGN, _SLOT = _layout(BITS)
_SYNC_TILE = np.kron(_SYNC, np.ones((CELL, CELL), np.float32)).astype(np.float32)
_SYNC_SPECTRUM = np.conj(np.fft.rfft2(_SYNC_TILE))


def tile(bits: list[int] | np.ndarray) -> np.ndarray:
    """The 128 x 128 tile for ``bits`` (BITS of them): +1 or -1 per pixel (int16)."""
    signed = 2 * np.asarray(bits, np.int16) - 1
    cells = np.where(_SLOT < 0, _SYNC, _SIGN * signed[np.maximum(_SLOT, 0)])
    return np.kron(cells, np.ones((CELL, CELL))).astype(np.int16)


def amplitude(gray: np.ndarray) -> np.ndarray:
    """Levels per pixel: FLAT_AMPLITUDE where the picture is flat (a +-2 grain shows on a plain
    backdrop; +-1 hardly does, and a flat area hides nothing that would drown it), AMPLITUDE
    where its local contrast (9 x 9 px standard deviation) reaches TEXTURED_STD."""
    import cv2

    gray = gray.astype(np.float32)
    mean = cv2.boxFilter(gray, -1, (9, 9))
    spread = cv2.boxFilter(gray * gray, -1, (9, 9)) - mean * mean
    return np.where(spread >= TEXTURED_STD**2, AMPLITUDE, FLAT_AMPLITUDE).astype(np.int16)


def pattern(rgb: np.ndarray, bits: list[int] | np.ndarray) -> np.ndarray:
    """The levels ``embed`` adds to each pixel of this RGB uint8 image (int16, (H, W)): the tile
    of ``bits`` repeated from the top-left corner, stronger where the picture is busy. A video
    adds one pattern (from its poster) to every frame: the mark stays put while the scene moves,
    so a reader adding frames up gains on the picture, frame after frame."""
    import cv2

    height, width = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb[:, :, :3])
    levels = np.tile(tile(bits), (-(-height // TILE), -(-width // TILE)))[:height, :width]
    levels *= amplitude(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    return levels


def embed(rgb: np.ndarray, bits: list[int] | np.ndarray) -> np.ndarray:
    """The RGB uint8 image (H, W, 3) with the tile of ``bits`` repeated from its top-left
    corner, the same change to R, G and B (luminance only), stronger where the picture is busy."""
    import cv2

    rgb = np.ascontiguousarray(rgb[:, :, :3])
    # OpenCV's saturating add: numpy's int16 widen, add, clip and narrow cost twice as long
    return cv2.add(rgb, cv2.merge([pattern(rgb, bits)] * 3), dtype=cv2.CV_8U)


@dataclass(frozen=True, slots=True)
class TileRead:
    soft: np.ndarray  # per bit, in [-1, 1]: the sign is the bit, the size how sure
    confidence: float  # the sync z-score (DETECTED_Z and above: a mark is there)
    scale: float  # the image's size against the creative's (0.5: shown at half size)
    rotation: float  # degrees, counter-clockwise

    @property
    def detected(self) -> bool:
        return self.confidence >= DETECTED_Z

    @property
    def bits(self) -> list[int]:
        return [int(value > 0) for value in self.soft]


def read(rgb: np.ndarray) -> TileRead:
    """The mark of an RGB uint8 image, wherever its tiles now start, at whatever scale in
    SCALES and rotation up to MAX_ROTATION degrees."""
    import cv2

    return read_luminance(cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2GRAY).astype(np.float32))


def read_luminance(gray: np.ndarray) -> TileRead:
    """``read`` on a float32 luminance image: a video's frames averaged (their marks add up,
    their moving scenes blur) keep the levels between whole numbers."""
    import cv2

    # Edges (copy, the product's outline) leave residuals of tens of levels at fixed places; the
    # mark is 1-2 levels. Clipped, they count as much as any other pixel instead of drowning it.
    whitened = np.clip(gray - cv2.GaussianBlur(gray, (0, 0), CELL), -RESIDUAL_CLIP, RESIDUAL_CLIP)
    if min(whitened.shape) < TILE:
        return TileRead(np.zeros(BITS), 0.0, 1.0, 0.0)
    best = _synchronise(_fold(whitened), 1.0, 0.0)
    if best[0] < SURE_Z and min(whitened.shape) >= 2 * TILE * SCALES[0]:
        # searched on the centre (enough tiles, a fraction of the cost), then read on the whole
        centre = _centre(whitened, SEARCH_SIDE)
        guesses = [_warped(centre, scale, rotation) for scale, rotation in _geometry_candidates(centre)]
        if guesses:  # none where the image is too small for a tile's distance at the smallest scale
            scale, rotation = _refine(centre, max(guesses, key=lambda found: found[0]))
            best = max(best, _warped(whitened, scale, rotation), key=lambda found: found[0])
    confidence, scale, rotation, folded = best
    return TileRead(_soft_bits(folded), confidence, scale, rotation)


def _fold(whitened: np.ndarray) -> np.ndarray:
    """Every whole tile-sized window added into one tile."""
    rows, cols = whitened.shape[0] // TILE, whitened.shape[1] // TILE
    return whitened[: rows * TILE, : cols * TILE].reshape(rows, TILE, cols, TILE).sum(axis=(0, 2))


def _synchronise(folded: np.ndarray, scale: float, rotation: float) -> tuple[float, float, float, np.ndarray]:
    """(z-score of the sync peak, scale, rotation, the folded tile rolled to start at it)."""
    correlation = np.fft.irfft2(np.fft.rfft2(folded) * _SYNC_SPECTRUM, s=folded.shape)
    peak = int(np.argmax(correlation))
    z = float((correlation.flat[peak] - correlation.mean()) / (correlation.std() + 1e-9))
    dy, dx = np.unravel_index(peak, correlation.shape)
    return z, scale, rotation, np.roll(folded, (-int(dy), -int(dx)), axis=(0, 1))


def _soft_bits(folded: np.ndarray) -> np.ndarray:
    cells = folded.reshape(CELLS, CELL, CELLS, CELL).mean(axis=(1, 3))
    message = _SLOT >= 0
    soft = np.bincount(_SLOT[message], weights=(cells * _SIGN)[message], minlength=BITS)
    return soft / (np.abs(soft).max() + 1e-9)


def _geometry_candidates(whitened: np.ndarray, count: int = 3) -> list[tuple[float, float]]:
    """Up to ``count`` (scale, rotation) guesses from the autocorrelation: a mark repeated every
    TILE px peaks at one tile's distance (times the scale) along both of its axes."""
    import cv2

    height, width = whitened.shape
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    magnitude = np.abs(np.fft.rfft2(whitened * window))  # magnitude, not power: flatter, sharper peaks
    autocorrelation = np.fft.fftshift(np.fft.irfft2(magnitude, s=whitened.shape)).astype(np.float32)
    radii = np.arange(int(TILE * SCALES[0]), int(min(TILE * SCALES[1], min(height, width) / 2 - 2)))
    angles = np.deg2rad(np.arange(-45, 45, 0.25))
    r, a = np.meshgrid(radii, angles)
    cy, cx = height // 2, width // 2

    def sample(xs, ys):
        return cv2.remap(autocorrelation, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR)

    # both axes of the tile grid; each radius normalised over all angles (the picture's own
    # autocorrelation falls off with distance, the mark's peaks stand out at their angle)
    score = sample(cx + r * np.cos(a), cy + r * np.sin(a)) + sample(cx - r * np.sin(a), cy + r * np.cos(a))
    score = (score - np.median(score, axis=0)) / (score.std(axis=0) + 1e-9)
    near = np.abs(np.rad2deg(angles)) <= MAX_ROTATION
    best_angle = np.rad2deg(angles[near])[np.argmax(score[near], axis=0)]
    peak = score[near].max(axis=0)
    # a tile's distance and its second multiple both peak: the fundamental gets both
    double = np.searchsorted(radii, 2 * radii)
    comb = peak + np.where(double < len(radii), peak[np.minimum(double, len(radii) - 1)], 0.0)
    picks: list[int] = []
    for index in np.argsort(-comb):
        if all(abs(radii[index] - radii[other]) > 4 for other in picks):
            picks.append(int(index))
        if len(picks) == count:
            break
    return [(radii[i] / TILE, -float(best_angle[i])) for i in picks]


def _warped(whitened: np.ndarray, scale: float, rotation: float) -> tuple[float, float, float, np.ndarray]:
    """The sync of the image warped back from ``scale`` and ``rotation`` (degrees)."""
    import cv2

    height, width = whitened.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -rotation, 1 / scale)
    size = (int(width / scale), int(height / scale))
    matrix[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
    back = cv2.warpAffine(whitened, matrix, size, flags=cv2.INTER_LINEAR)
    return _synchronise(_fold(back), scale, rotation)


def _refine(centre: np.ndarray, guess: tuple) -> tuple[float, float]:
    """(scale, rotation) around a guess: the scale in 0.2% steps, then the rotation in 0.15
    degree steps, each kept where the sync peaks. A scale 0.5% off moves the last tile of a
    1920 px image by 10 px, more than two cells: the guess alone is not enough."""
    z, scale, rotation, _ = guess
    for step in (-0.006, -0.004, -0.002, 0.002, 0.004, 0.006):
        found = _warped(centre, guess[1] * (1 + step), rotation)
        if found[0] > z:
            z, scale = found[0], found[1]
    for turn in (-0.3, -0.15, 0.15, 0.3):
        found = _warped(centre, scale, guess[2] + turn)
        if found[0] > z:
            z, rotation = found[0], found[2]
    return scale, rotation


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    height, width = image.shape
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return image[top : top + side, left : left + side]
