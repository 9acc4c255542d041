"""The content policy's image side: checks on each rendered image, before anything is written.

Models without a safety checker (SDXL has none in diffusers) still get screened. The policy
file names them::

    image_checkers:
      - my_company.moderation:check_image       # def check_image(image, variant) -> Match | None
    image_classifiers:
      - model: /models/nsfw-vit                 # a transformers image-classification model
        labels: [nsfw, porn]                    # labels that block...
        threshold: 0.8                          # ...at this score or above

A blocked image is never written; its manifest row is ``blocked`` with ``policy_field`` =
``image``, the category and the label or checker that matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from PIL import Image

from pixio_ads.core.errors import Issue
from pixio_ads.trust.checks import Match, import_functions

ImageChecker = Callable[[Image.Image, object], "Match | None"]


@dataclass(frozen=True)
class Classifier:
    """A transformers image-classification pipeline whose listed labels block an image."""

    model: str
    labels: frozenset[str]
    threshold: float = 0.5
    category: str = "image_classifier"

    def __call__(self, image: Image.Image, variant: object) -> Match | None:
        for result in _pipeline(self.model)(image.convert("RGB"), top_k=None):
            if result["label"].lower() in self.labels and result["score"] >= self.threshold:
                return Match(self.category, f"{result['label']} ({result['score']:.2f})", "image")
        return None


@lru_cache(maxsize=4)
def _pipeline(model: str):
    """Loaded once per process (local folder or hub id)."""
    from transformers import pipeline

    return pipeline("image-classification", model=model)


def image_checkers(file: str, data: dict, issues: list[Issue]) -> list[ImageChecker]:
    """The policy file's ``image_checkers`` (import paths) and ``image_classifiers``; every
    problem names the file and the key."""
    checkers: list[ImageChecker] = import_functions(file, "image_checkers", data.get("image_checkers") or [], issues)
    for index, spec in enumerate(data.get("image_classifiers") or []):
        key = f"image_classifiers.{index}"
        if not isinstance(spec, dict) or not spec.get("model") or not spec.get("labels"):
            issues.append(
                Issue(
                    file,
                    "an image classifier needs a model and labels",
                    "see pixio_ads/trust/image_policy.py",
                    key=key,
                )
            )
            continue
        model = str(spec["model"])
        if model.startswith("."):  # relative to the policy file, as its other paths
            model = str((Path(file).parent / model).resolve())
        if model.startswith("/") and not Path(model).exists():
            issues.append(
                Issue(
                    file,
                    "image classifier model folder not found",
                    "give its path or a hub id",
                    key=f"{key}.model",
                    value=model,
                )
            )
            continue
        labels = frozenset(str(label).lower() for label in spec["labels"])
        checkers.append(Classifier(model, labels, float(spec.get("threshold", 0.5))))
    return checkers


def kept_block(row: dict, image_checks_id: str | None) -> bool:
    """Whether a manifest row is an image the policy's image checks blocked, under the same
    checks as now (``image_checks_id``, Policy.image_checks_id): a rerun keeps the verdict
    instead of rendering the image again; changed checks re-decide it."""
    return (
        row["status"] == "blocked"
        and row.get("policy_field") == "image"
        and bool(row.get("policy_checks"))
        and row["policy_checks"] == image_checks_id
    )


def check_image(checkers: list[ImageChecker], image: Image.Image, variant: object) -> Match | None:
    for checker in checkers:
        found = checker(image, variant)
        if found is not None:
            return Match(found.category, found.term, found.field or "image")
    return None
