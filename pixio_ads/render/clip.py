"""Prompt alignment: CLIPScore (Hessel et al. 2021, as torchmetrics computes it: 100 x the
cosine of CLIP's image and text embeddings, floored at 0) between each variant's prompt and
the scene the model generated (before product and copy are laid on it: the prompt
describes the scene).

``--clip-model`` names a transformers ``CLIPModel`` (a local folder or a hub id); it is
loaded once per process, beside the diffusion model. Typical real pairs score 25-35.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from PIL import Image

from pixio_ads.core.errors import ModelLoadError

ALIGNED_CLIP_SCORE = 35.0  # a CLIPScore this high counts as fully aligned (prompt_alignment_score 1)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_reference(ref: str) -> None:
    """Fail before rendering when the CLIP model cannot be found."""
    path = Path(ref).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"CLIP model folder {ref!r} has no config.json: point --clip-model at a CLIPModel folder"
            )
    elif not _HUB_ID.match(ref):
        raise ModelLoadError(f"CLIP model path {ref!r} does not exist (and it is not a hub id like 'org/name')")


@lru_cache(maxsize=2)
def load_clip(ref: str, device: str):
    """(model, processor), once per process and device."""
    from transformers import CLIPModel, CLIPProcessor

    check_reference(ref)
    try:
        model = CLIPModel.from_pretrained(ref).to(device).eval()
        processor = CLIPProcessor.from_pretrained(ref)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"CLIP model {ref!r} cannot be loaded: {exc}") from None
    return model, processor


def clip_scores(ref: str, device: str, images: list[Image.Image], prompts: list[str]) -> list[float]:
    """CLIPScore of each (image, prompt) pair, in one forward pass."""
    import torch

    model, processor = load_clip(ref, device)
    inputs = processor(
        text=prompts, images=[image.convert("RGB") for image in images], return_tensors="pt", padding=True,
        truncation=True,
    ).to(device)  # fmt: skip
    with torch.no_grad():
        output = model(**inputs)
    image_embeds = torch.nn.functional.normalize(output.image_embeds.float(), dim=-1)
    text_embeds = torch.nn.functional.normalize(output.text_embeds.float(), dim=-1)
    cosine = (image_embeds * text_embeds).sum(dim=-1)
    return [round(100 * max(float(value), 0.0), 2) for value in cosine]


def alignment_columns(score: float) -> dict:
    return {"clip_score": score, "prompt_alignment_score": round(min(score / ALIGNED_CLIP_SCORE, 1.0), 4)}
