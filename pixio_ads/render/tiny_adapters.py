"""Tiny random adapters for a checkpoint, built offline (tests, the docs' examples): a LoRA made
with peft and saved with diffusers' ``save_lora_weights``, and an IP-Adapter (a tiny CLIP
image encoder plus random projection and cross-attention weights, in the layout diffusers'
``load_ip_adapter`` reads). Their pictures mean nothing; they exercise the real loaders."""

from __future__ import annotations

from pathlib import Path

from pixio_ads.render.loading import resolve_source

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
IMAGE_TOKENS = 4  # the plain IP-Adapter's image tokens (diffusers: "proj.weight" -> 4)


def _pipeline(model_id: str):
    from diffusers import AutoPipelineForText2Image

    return AutoPipelineForText2Image.from_pretrained(resolve_source(model_id))


def build_tiny_lora(model_id: str, target: Path, seed: int = 0, rank: int = 4, text_encoder: bool = False) -> Path:
    """A random LoRA for ``model_id``'s denoiser (its UNet, or the transformer of a FLUX, SD3 or
    Qwen-Image model) and, with ``text_encoder``, its CLIP text encoder(s), saved as ``target``
    (.safetensors). Random A and B (peft's ``init_lora_weights=False``): a LoRA initialised the
    usual way (B = 0) would change nothing."""
    import torch
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    pipeline = _pipeline(model_id)
    denoiser = "unet" if getattr(pipeline, "unet", None) is not None else "transformer"
    torch.manual_seed(seed)
    getattr(pipeline, denoiser).add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=False)
    )
    state = get_peft_model_state_dict(getattr(pipeline, denoiser))
    layers = {f"{denoiser}_lora_layers": convert_state_dict_to_diffusers(state)}
    if text_encoder:
        names = ["text_encoder", "text_encoder_2"] if getattr(pipeline, "text_encoder_2", None) else ["text_encoder"]
        for name in names:
            module = getattr(pipeline, name)
            # peft's own injection: transformers' add_adapter wants a newer peft than the index has
            config = LoraConfig(r=rank, lora_alpha=rank, target_modules=TEXT_LORA_TARGETS, init_lora_weights=False)
            inject_adapter_in_model(config, module)
            layers[f"{name}_lora_layers"] = convert_state_dict_to_diffusers(get_peft_model_state_dict(module))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    type(pipeline).save_lora_weights(target.parent, weight_name=target.name, safe_serialization=True, **layers)
    return target


def build_tiny_ip_adapter(model_id: str, target: Path, seed: int = 0) -> Path:
    """A random IP-Adapter for ``model_id`` saved as ``target`` (.safetensors), its tiny CLIP
    image encoder in ``image_encoder/`` beside it."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = _pipeline(model_id).unet
    width = unet.config.cross_attention_dim
    target = Path(target)
    torch.manual_seed(seed)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            image_size=32, patch_size=8, projection_dim=32,
        )
    )  # fmt: skip
    encoder.save_pretrained(target.parent / "image_encoder")
    tensors = {
        "image_proj.proj.weight": torch.randn(width * IMAGE_TOKENS, 32) * 0.2,
        "image_proj.proj.bias": torch.zeros(width * IMAGE_TOKENS),
        "image_proj.norm.weight": torch.ones(width),
        "image_proj.norm.bias": torch.zeros(width),
    }
    key_id = 1  # diffusers numbers the cross-attention layers 1, 3, 5... in attn_processors order
    for name in unet.attn_processors:
        if name.endswith("attn2.processor"):
            hidden = _hidden_size(unet, name)
            tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hidden, width) * 0.5
            tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hidden, width) * 0.5
            key_id += 2
    save_file(tensors, str(target))
    return target


def _hidden_size(unet, name: str) -> int:
    channels = list(unet.config.block_out_channels)
    if name.startswith("mid_block"):
        return channels[-1]
    block = int(name.split(".")[1])
    return list(reversed(channels))[block] if name.startswith("up_blocks") else channels[block]
