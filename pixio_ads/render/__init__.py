"""Render: diffusers pipelines from a checkpoint to pixels.

Owns model loading (``from_pretrained``, single files, the embedded tiny models), schedulers,
prompt encoding and generation (pipelines.py), LoRA and IP-Adapter adapters (adapters.py: checked
against a model's layers, loaded once, set per batch), upscaling, CLIP prompt-alignment scores.
Imports only core. It does not know campaigns, creatives or runs: it renders prompts.
"""

from pixio_ads._moved import lazy_names

__getattr__ = lazy_names(
    __name__, "pixio_ads.render.pipelines", "pixio_ads.render.loading"
)  # `pixio_ads.render.X` of the last release
