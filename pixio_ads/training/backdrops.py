"""A seeded, procedural data set of ad backdrops with captions: what the embedded model is
trained on (backdrop_model.py).

Each picture is drawn from a scene (studio sweep, wall and floor, window light, gradient,
bokeh, spotlight, surface), a palette and a light, with numpy only, so the set is the same on
every machine for a seed. Its caption is one of the built-in prompt templates rendered with a
style phrase that names what was drawn ("golden hour wood", "cozy evening bokeh", "navy
minimal studio") and random products and audiences, so the model learns which words of a real
prompt change the picture and which do not.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixio_ads.campaign.prompts import TEMPLATE_SUFFIX, PromptRenderer, builtin_templates_dir

# Moods: (hue 0-1 or None for the colour word's, saturation, value of the wall, value of the
# light, colour temperature of the light: + warm, - cool). The styles of the built-in
# templates and the example campaign are here, and common others.
MOODS: dict[str, tuple[float | None, float, float, float, float]] = {
    "golden hour": (0.09, 0.55, 0.72, 1.0, 0.9),
    "sunset": (0.04, 0.6, 0.62, 0.95, 1.0),
    "sunrise": (0.1, 0.35, 0.78, 1.0, 0.6),
    "warm pastel": (0.05, 0.22, 0.93, 1.0, 0.4),
    "pastel": (None, 0.22, 0.92, 1.0, 0.1),
    "minimal studio": (None, 0.03, 0.9, 1.0, 0.0),
    "minimal": (None, 0.04, 0.88, 1.0, 0.0),
    "clean": (None, 0.03, 0.94, 1.0, 0.0),
    "cozy evening": (0.07, 0.55, 0.28, 0.6, 0.8),
    "evening": (0.62, 0.35, 0.3, 0.55, -0.2),
    "night": (0.64, 0.45, 0.14, 0.35, -0.4),
    "dark": (None, 0.2, 0.16, 0.4, 0.0),
    "moody": (None, 0.3, 0.25, 0.5, -0.1),
    "bright": (None, 0.25, 0.95, 1.0, 0.1),
    "vibrant": (None, 0.8, 0.8, 1.0, 0.1),
    "bold": (None, 0.85, 0.7, 1.0, 0.0),
    "cool morning": (0.55, 0.2, 0.85, 1.0, -0.5),
    "luxury": (0.12, 0.45, 0.2, 0.55, 0.5),
    "earthy": (0.08, 0.4, 0.5, 0.85, 0.3),
}
COLOURS: dict[str, float] = {
    "red": 0.0, "coral": 0.02, "terracotta": 0.04, "orange": 0.07, "gold": 0.11, "yellow": 0.14,
    "olive": 0.2, "sage": 0.27, "green": 0.33, "mint": 0.42, "teal": 0.5, "blue": 0.6, "navy": 0.63,
    "lavender": 0.73, "purple": 0.78, "pink": 0.92,
}  # fmt: skip
NEUTRALS = ("white", "grey", "black", "beige", "cream")
SCENES = ("studio sweep", "wall and floor", "window light", "gradient", "bokeh", "spotlight", "surface")
SURFACES = ("marble", "wood", "concrete", "fabric", "sand", "water")
PRODUCTS = (
    "water bottle", "ceramic mug", "desk lamp", "running shoe", "leather bag", "watch", "phone case", "perfume",
    "headphones", "candle", "sunglasses", "backpack", "skincare serum", "coffee beans", "tea tin", "sneaker",
)  # fmt: skip
AUDIENCES = ("runners", "commuters", "students", "remote workers", "parents", "gamers", "travellers", "chefs")
TEMPLATES = ("lifestyle", "studio")
# Words the captions use that the tokenizer should know whole (tiny_model.write_tokenizer).
VOCABULARY = sorted(
    {w for phrase in (*MOODS, *COLOURS, *NEUTRALS, *SCENES, *SURFACES, *PRODUCTS, *AUDIENCES) for w in phrase.split()}
)
SIZE = 256


@dataclass(frozen=True, slots=True)
class Backdrop:
    image: np.ndarray  # H x W x 3 uint8
    caption: str
    style: str  # the phrase the caption's {{ style }} carries


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [-1, 1]: a cells x cells random grid, upsampled bicubically."""
    grid = rng.uniform(0, 255, (cells, cells)).astype(np.uint8)
    big = np.asarray(Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64)
    return big / 127.5 - 1.0


def _palette(rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(style words, wall colour, floor colour, light colour) in 0-1 RGB."""
    mood = str(rng.choice(list(MOODS)))
    hue, sat, value, light_value, warmth = MOODS[mood]
    words = [mood]
    if hue is None or rng.random() < 0.3:
        if rng.random() < 0.25 and sat < 0.3:
            neutral = str(rng.choice(NEUTRALS))
            words.insert(0, neutral)
            hue, sat = 0.09, {"white": 0.0, "grey": 0.0, "black": 0.0, "beige": 0.18, "cream": 0.12}[neutral]
            value = {"black": 0.12, "grey": 0.55}.get(neutral, max(value, 0.85))
        else:
            colour = str(rng.choice(list(COLOURS)))
            words.insert(0, colour)
            hue, sat = COLOURS[colour], max(sat, 0.35)
    hue += rng.normal(0, 0.015)
    wall = _hsv(hue, sat * rng.uniform(0.85, 1.1), value * rng.uniform(0.92, 1.05))
    floor = _hsv(hue + rng.normal(0, 0.02), sat * rng.uniform(0.8, 1.2), value * rng.uniform(0.75, 0.95))
    light = np.array([1.0, 1.0, 1.0]) + warmth * np.array([0.12, 0.02, -0.16])
    return " ".join(words), wall, floor, np.clip(light * light_value, 0, 1.2)


def _coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    return x, y


def _surface(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """A texture as brightness variation around 1 (H x W)."""
    x, y = _coordinates(size)
    warp = smooth_noise(rng, size, 6)
    if kind == "marble":
        return 1 + 0.08 * np.sin((x + y) * 9 + warp * 3) ** 8 * -1 + 0.03 * warp
    if kind == "wood":
        return 1 + 0.07 * np.sin(y * 40 + warp * 4) + 0.03 * smooth_noise(rng, size, 12)
    if kind == "concrete":
        return 1 + 0.05 * smooth_noise(rng, size, 16) + 0.03 * warp
    if kind == "fabric":
        return 1 + 0.03 * np.sin(x * 120) * np.sin(y * 120) + 0.05 * warp
    if kind == "sand":
        return 1 + 0.05 * np.sin(y * 30 + warp * 2) + 0.03 * smooth_noise(rng, size, 24)
    return 1 + 0.08 * np.sin(y * 25 + warp * 5) * (0.5 + 0.5 * y)  # water


def draw(rng: np.random.Generator, size: int = SIZE) -> tuple[np.ndarray, str]:
    """One backdrop (H x W x 3 floats 0-1) and its style phrase."""
    style, wall, floor, light = _palette(rng)
    scene = str(rng.choice(SCENES))
    x, y = _coordinates(size)
    horizon = rng.uniform(0.5, 0.75)
    if scene in ("wall and floor", "window light", "surface"):
        blend = 1 / (1 + np.exp(-(y - horizon) * rng.uniform(25, 80)))
    else:  # sweeps, gradients, bokeh and spotlights: one smooth curve from wall to floor
        blend = np.clip((y - 0.25) / 0.75, 0, 1) ** rng.uniform(1.2, 2.5)
    if scene == "gradient":
        angle = rng.uniform(0, np.pi)
        blend = np.clip(0.5 + (np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)), 0, 1)
    picture = wall[None, None] * (1 - blend[..., None]) + floor[None, None] * blend[..., None]
    words = [style]
    if scene == "surface" or rng.random() < 0.25:
        surface = str(rng.choice(SURFACES))
        texture = _surface(rng, surface, size)
        region = blend if scene != "gradient" else np.ones_like(blend)
        picture *= (1 + (texture - 1) * region)[..., None]
        words.append(surface)
    picture *= _light(rng, scene, x, y, light, words)
    if scene != "surface":
        words.append(scene)
    vignette = 1 - rng.uniform(0.1, 0.35) * ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2
    return np.clip(picture * vignette[..., None], 0, 1), " ".join(words)


def _light(rng: np.random.Generator, scene: str, x, y, light: np.ndarray, words: list[str]) -> np.ndarray:
    """The light on the scene: a multiplier (H x W x 3) around 1."""
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.5)
    falloff = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / rng.uniform(0.08, 0.4))
    base = 0.75 + 0.35 * falloff
    if scene == "spotlight":
        base = 0.35 + 0.9 * np.exp(-((x - cx) ** 2 + (y - cy - 0.15) ** 2) / rng.uniform(0.02, 0.06))
    elif scene == "window light":
        skew = rng.uniform(-0.6, 0.6)
        left = rng.uniform(0.15, 0.55)
        u = x - skew * y
        patch = (1 / (1 + np.exp(-(u - left) * 60))) * (1 / (1 + np.exp((u - left - 0.3) * 60)))
        bars = 0.5 + 0.5 * np.cos((u - left) * np.pi * 2 / 0.1)
        base = 0.7 + 0.55 * patch * (0.75 + 0.25 * bars)
    glow = base[..., None] * light[None, None]
    if scene == "bokeh":
        glow = glow + _bokeh(rng, x, y, light)
    return glow


def _bokeh(rng: np.random.Generator, x, y, light: np.ndarray) -> np.ndarray:
    spots = np.zeros(x.shape + (3,))
    for _ in range(int(rng.integers(6, 16))):
        px, py, radius = rng.uniform(0, 1), rng.uniform(0, 0.7), rng.uniform(0.03, 0.09)
        disc = 1 / (1 + np.exp((np.sqrt((x - px) ** 2 + (y - py) ** 2) - radius) * 120))
        spots += disc[..., None] * light[None, None] * rng.uniform(0.15, 0.4)
    return spots


def sample(seed: int, count: int, size: int = SIZE) -> list[Backdrop]:
    """``count`` captioned backdrops, the same for the same seed on any machine."""
    rng = np.random.default_rng(seed)
    renderer = PromptRenderer()
    compiled = {
        name: renderer.compile(name, builtin_templates_dir() / f"{name}{TEMPLATE_SUFFIX}") for name in TEMPLATES
    }
    result = []
    for _ in range(count):
        picture, style = draw(rng, size)
        context = {
            "style": style,
            "product_name": str(rng.choice(PRODUCTS)),
            "audience": str(rng.choice(AUDIENCES)),
            "format": str(rng.choice(["square", "portrait", "story", "landscape"])),
        }
        caption = renderer.render(compiled[str(rng.choice(TEMPLATES))], context)
        result.append(Backdrop((picture * 255).round().astype(np.uint8), caption, style))
    return result
