"""Prompt embeddings per image, for every family (families.py ``encoder``), and what a row's
guidance number becomes in the pipeline call.

Every image's embeddings are its own: they never depend on the other prompts of its batch.
Plain prompts go through the pipeline's own ``encode_prompt`` (what a bare diffusers call does),
the batch's new ones in one text-encoder pass where the pipeline pads each prompt to a fixed
length (CLIP's 77 tokens, T5's ``max_sequence_length``), or trimmed back to their own length
where it pads to the batch's longest (Qwen-Image). Weighted prompts (``(red dress)1.3``,
``word++``) and, for CLIP-only families, prompts over 77 tokens go through compel where it
supports the family (SD, SDXL, FLUX), one at a time. Results are cached per loaded model.
"""

from __future__ import annotations

import logging
import re

from pixio_ads.render.families import CFG, DISTILLED, TRUE_CFG, Family

logger = logging.getLogger(__name__)

# compel's weighting and conjunction syntax: (word)1.3, word++, [word], .and(), .blend(), .swap()
_COMPEL_SYNTAX = re.compile(r"[()\[\]+\-]|\.(and|blend|swap)\(")
EMBEDDING_CACHE_SIZE = 64
_WARNED: set[str] = set()  # families warned about weighting syntax they cannot read


def uses_negatives(family: Family, guidance: float) -> bool:
    """Whether the pipeline runs a negative pass: classifier-free guidance (or Qwen-Image's true
    CFG) above 1. FLUX's distilled guidance and schnell have none."""
    return family.guidance in (CFG, TRUE_CFG) and guidance > 1


def guidance_arguments(family: Family, guidance: float) -> dict:
    """The call's guidance keyword arguments for a row's ``guidance``."""
    if family.guidance in (CFG, DISTILLED):
        return {"guidance_scale": guidance}
    if family.guidance == TRUE_CFG:
        return {"true_cfg_scale": guidance}
    return {}  # schnell: the transformer embeds no guidance


def encode_prompts(model, prompts: list[str], negative_prompts: list[str], guidance: float = 7.5) -> list[dict]:
    """Per-image prompt embeddings as the pipeline's keyword arguments; the negative ones only
    when the pipeline uses them (``uses_negatives``). Cached per process and model."""
    import torch

    negatives = uses_negatives(model.family, guidance)
    keys = [(prompt, negative, negatives, model.lora_key) for prompt, negative in zip(prompts, negative_prompts)]
    new = [key for key in dict.fromkeys(keys) if key not in model._embeddings]
    # (a CFG family's negative prompt is checked even when unused, as it always was: same ids)
    weighted = {
        key
        for key in new
        if _needs_compel(model, key[0]) or (model.family.guidance == CFG and _needs_compel(model, key[1]))
    }
    plain = [key for key in new if key not in weighted]
    with torch.inference_mode():
        computed = dict(zip(plain, ENCODERS[model.family.encoder](model, plain, negatives))) if plain else {}
        for key in new:
            if key in weighted:
                both = _encode_with_compel(model, key[0], key[1])
                computed[key] = {name: value for name, value in both.items() if negatives or "negative" not in name}
    for key, embeddings in computed.items():
        if len(model._embeddings) >= EMBEDDING_CACHE_SIZE:
            model._embeddings.pop(next(iter(model._embeddings)))  # oldest first
        model._embeddings[key] = embeddings
    return [computed.get(key) or model._embeddings[key] for key in keys]


def _needs_compel(model, text: str) -> bool:
    """Weighting syntax, or (SD, SDXL: CLIP is their only encoder) longer than CLIP's window.
    A family compel does not support gets the text as written, with a warning once."""
    family = model.family
    weighted = bool(_COMPEL_SYNTAX.search(text))
    if family.compel is None:
        if weighted and family.name not in _WARNED:
            _WARNED.add(family.name)
            logger.warning(
                "%s: compel cannot weight its prompts; weighting syntax is read as plain text", family.title
            )
        return False
    if weighted:
        return True
    if family.encoder not in ("sd", "sdxl"):
        return False  # T5 reads up to its max_sequence_length; CLIP's pooled part truncates, as diffusers does
    tokenizer = model.pipeline.tokenizer
    return len(tokenizer(text).input_ids) > tokenizer.model_max_length


def _split(tensors: dict, count: int) -> list[dict]:
    return [{name: tensor[index : index + 1] for name, tensor in tensors.items()} for index in range(count)]


def _encode_sd(model, keys: list[tuple], negatives: bool) -> list[dict]:
    """SD and SDXL's ``encode_prompt`` over several (prompt, negative) pairs at once (CLIP pads
    each to its 77-token window, so a neighbour changes nothing)."""
    names = ["prompt_embeds", "negative_prompt_embeds"]
    if model.family.encoder == "sdxl":
        names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    tensors = model.pipeline.encode_prompt(
        prompt=[key[0] for key in keys],
        device=model.device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=negatives,
        negative_prompt=[key[1] for key in keys] if negatives else None,
    )
    return _split({name: t for name, t in zip(names, tensors) if t is not None}, len(keys))


def _encode_sd3(model, keys: list[tuple], negatives: bool) -> list[dict]:
    """SD3's two CLIPs and T5 (padded to ``max_sequence_length``), in one pass."""
    names = ["prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    tensors = model.pipeline.encode_prompt(
        prompt=[key[0] for key in keys],
        prompt_2=None,
        prompt_3=None,
        device=model.device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=negatives,
        negative_prompt=[key[1] for key in keys] if negatives else None,
    )
    return _split({name: t for name, t in zip(names, tensors) if t is not None}, len(keys))


def _encode_flux(model, keys: list[tuple], negatives: bool) -> list[dict]:
    """FLUX's CLIP (pooled) and T5 (padded to 512 tokens); its guidance has no negative pass."""
    prompt_embeds, pooled, _ = model.pipeline.encode_prompt(
        prompt=[key[0] for key in keys], prompt_2=None, device=model.device, num_images_per_prompt=1
    )
    return _split({"prompt_embeds": prompt_embeds, "pooled_prompt_embeds": pooled}, len(keys))


def _encode_flux2(model, keys: list[tuple], negatives: bool) -> list[dict]:
    """FLUX.2's Qwen3 states (stacked from three layers; each prompt padded to
    ``max_sequence_length``: batch-independent); negatives for the base models' CFG."""
    embeddings = {"prompt_embeds": model.pipeline.encode_prompt(prompt=[k[0] for k in keys], device=model.device)[0]}
    if negatives:
        negative = model.pipeline.encode_prompt(prompt=[k[1] for k in keys], device=model.device)[0]
        embeddings["negative_prompt_embeds"] = negative
    return _split(embeddings, len(keys))


def _encode_qwen(model, keys: list[tuple], negatives: bool) -> list[dict]:
    """Qwen-Image's Qwen2.5-VL states: it pads a batch to its longest prompt (right padding in a
    causal model: the real tokens' states do not change), so each is cut back to its own length."""
    texts = [key[0] for key in keys] + ([key[1] or " " for key in keys] if negatives else [])
    embeds, mask = model.pipeline.encode_prompt(prompt=texts, device=model.device, num_images_per_prompt=1)
    own = []
    for index in range(len(texts)):
        length = int(mask[index].sum())
        own.append((embeds[index : index + 1, :length], mask[index : index + 1, :length]))
    found = []
    for index in range(len(keys)):
        embeddings = {"prompt_embeds": own[index][0], "prompt_embeds_mask": own[index][1]}
        if negatives:
            negative = own[len(keys) + index]
            embeddings.update(negative_prompt_embeds=negative[0], negative_prompt_embeds_mask=negative[1])
        found.append(embeddings)
    return found


ENCODERS = {
    "sd": _encode_sd,
    "sdxl": _encode_sd,
    "sd3": _encode_sd3,
    "flux": _encode_flux,
    "flux2": _encode_flux2,
    "qwen": _encode_qwen,
}


def _encode_with_compel(model, prompt: str, negative: str) -> dict:
    """One prompt through compel, as the family's pipeline takes it."""
    conditioner = model.conditioner()
    encoder = model.family.encoder
    if encoder == "sd":
        out = conditioner(prompt, negative_prompt=negative)
        return {"prompt_embeds": out.embeds, "negative_prompt_embeds": out.negative_embeds}
    out = conditioner(main_prompt=prompt, negative_prompt=negative)
    if encoder == "flux":
        return {"prompt_embeds": out.embeds, "pooled_prompt_embeds": out.pooled_embeds}
    return {
        "prompt_embeds": out.embeds,
        "negative_prompt_embeds": out.negative_embeds,
        "pooled_prompt_embeds": out.pooled_embeds,
        "negative_pooled_prompt_embeds": out.negative_pooled_embeds,
    }
