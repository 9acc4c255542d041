"""Tiny random-weight pipelines of the DiT families (families.py), built offline the way
diffusers' own tests build them (``get_dummy_components``: a seeded tiny module each), but with
every tokenizer made here with the ``tokenizers`` library instead of fetched from the hub:
CLIP's byte-level BPE (tiny_model.write_tokenizer), T5's Unigram and Qwen's byte-level BPE.

They are saved with ``save_pretrained`` and loaded with ``from_pretrained`` like a real
checkpoint (embedded ids ``embedded:tiny-sd3``, ``embedded:tiny-flux``...), so the whole render
path of each family runs on a CPU in tests. Their images are noise. Sizes: an 8x VAE as the
embedded SD models' (tiny_model.tiny_vae), transformers of one or two blocks of 2-4 heads; a
512 px image takes ~0.3-1 s at 4 steps on 2 CPU cores (Qwen-Image's 3D VAE ~3 s).
"""

from __future__ import annotations

from pathlib import Path

from pixio_ads.render.tiny_parts import _WORDS, _byte_to_unicode_chars, _text_config, tiny_vae, write_tokenizer

SPECIAL_QWEN_TOKENS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]


def write_t5_tokenizer(folder: Path, words: list[str] | None = None):
    """A T5 (SentencePiece Unigram) tokenizer: the words whole, every other text letter by letter."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5TokenizerFast

    words = list(dict.fromkeys(words or _WORDS))
    letters = sorted(
        set("".join(words)) | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'\"-()%&/")
    )
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [("▁" + word, -1.0) for word in words] + [(letter, -5.0) for letter in letters]
    model = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    model.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    model.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer = T5TokenizerFast(
        tokenizer_object=model,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=0,
        model_max_length=512,
    )
    tokenizer.save_pretrained(folder)
    return T5TokenizerFast.from_pretrained(folder)


def write_qwen_tokenizer(folder: Path, words: list[str] | None = None):
    """A Qwen2 byte-level BPE tokenizer (GPT-2's byte table, merges spelling out ``words``
    with their leading space) with the chat and vision special tokens Qwen-Image's prompt
    template uses."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    tokens = list(_byte_to_unicode_chars())
    known, merges = set(tokens), []
    for word in dict.fromkeys("Ġ" + word for word in (words or _WORDS)):
        left = word[0]
        for right in word[1:]:
            if left + right not in known:
                merges.append((left, right))
                tokens.append(left + right)
                known.add(left + right)
            left += right
    model = Tokenizer(models.BPE(vocab={token: index for index, token in enumerate(tokens)}, merges=merges))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=model, unk_token=None, bos_token=None, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_QWEN_TOKENS})
    tokenizer.save_pretrained(folder)
    return Qwen2TokenizerFast.from_pretrained(folder)


def _vae(latent_channels: int = 4):
    """The embedded models' 8x VAE (tiny_parts.tiny_vae), as FLUX's and SD3's configs have it:
    no quant convolutions, a shift."""
    return tiny_vae(
        512, latent_channels=latent_channels, use_quant_conv=False, use_post_quant_conv=False,
        shift_factor=0.0609, scaling_factor=1.5035,
    )  # fmt: skip


def _clip_and_t5(scratch: Path, t5_width: int) -> dict:
    """A CLIP text encoder with projection (pooled width 32) and a T5 encoder, seeded."""
    import torch
    from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel

    vocab_size = write_tokenizer(scratch / "clip")
    clip_tokenizer = CLIPTokenizer.from_pretrained(scratch / "clip")
    t5_tokenizer = write_t5_tokenizer(scratch / "t5")
    torch.manual_seed(0)
    clip = CLIPTextModel(_text_config(vocab_size, clip_tokenizer, projection_dim=32))
    torch.manual_seed(0)
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=len(t5_tokenizer), d_model=t5_width, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        )
    )  # fmt: skip
    return dict(text_encoder=clip, tokenizer=clip_tokenizer, text_encoder_2=t5, tokenizer_2=t5_tokenizer)


def flux_components(scratch: Path, guidance: bool = False) -> dict:
    """FLUX.1: CLIP + T5 text encoders, a one-double-block one-single-block transformer
    (guidance embedded for dev and Kontext, not for schnell)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel

    parts = _clip_and_t5(scratch, 32)
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8], guidance_embeds=guidance,
    )  # fmt: skip
    torch.manual_seed(0)
    return dict(parts, transformer=transformer, vae=_vae(), scheduler=FlowMatchEulerDiscreteScheduler())


def sd3_components(scratch: Path) -> dict:
    """SD3: two CLIP encoders with projection and T5; an MMDiT of one joint block trained (as
    configured) at 512 px (transformer sample size 64 latents)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
    from transformers import CLIPTextModelWithProjection

    parts = _clip_and_t5(scratch, 64)
    torch.manual_seed(0)
    clip = CLIPTextModelWithProjection(_text_config(len(parts["tokenizer"]), parts["tokenizer"], projection_dim=32))
    torch.manual_seed(1)
    clip_2 = CLIPTextModelWithProjection(_text_config(len(parts["tokenizer"]), parts["tokenizer"], projection_dim=32))
    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=64, patch_size=2, in_channels=16, num_layers=1, attention_head_dim=8, num_attention_heads=4,
        caption_projection_dim=32, joint_attention_dim=64, pooled_projection_dim=64, out_channels=16,
    )  # fmt: skip
    torch.manual_seed(0)
    return dict(  # 16 latent channels: SD3's inpainting pipeline accepts no other
        transformer=transformer, vae=_vae(latent_channels=16), scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        text_encoder=clip, tokenizer=parts["tokenizer"], text_encoder_2=clip_2, tokenizer_2=parts["tokenizer"],
        text_encoder_3=parts["text_encoder_2"], tokenizer_3=parts["tokenizer_2"],
    )  # fmt: skip


def qwen_image_components(scratch: Path) -> dict:
    """Qwen-Image: a two-layer Qwen2.5-VL text encoder, a two-block MMDiT and the 3D causal
    VAE (4x here), as diffusers' tests configure them."""
    import torch
    from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = write_qwen_tokenizer(scratch / "qwen")
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIAL_QWEN_TOKENS}
    text = dict(
        hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}, rope_theta=1e6,
        vocab_size=len(tokenizer), bos_token_id=ids["<|im_start|>"], eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tokenizer), vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"], image_token_id=ids["<|image_pad|>"],
    )  # fmt: skip
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16, num_attention_heads=3,
        joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKLQwenImage(
        base_dim=24, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1, temperal_downsample=[False, True],
        latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )  # fmt: skip
    return dict(
        transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )  # fmt: skip


QWEN_CHAT_TEMPLATE = (  # the chat template FLUX.2 klein's encode_prompt applies (Qwen3's, without tools)
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def flux2_klein_components(scratch: Path) -> dict:
    """FLUX.2 klein (distilled): a Qwen3 text encoder of 27 tiny layers (the pipeline stacks the
    states of layers 9, 18 and 27), a one-double-block one-single-block FLUX.2 transformer, an 8x
    FLUX.2 VAE (2x2 patches: 4 latent channels become 16)."""
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = write_qwen_tokenizer(scratch / "qwen3")
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    torch.manual_seed(0)
    text_encoder = Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=len(tokenizer), hidden_size=16, intermediate_size=16, num_hidden_layers=27,
            num_attention_heads=2, num_key_value_heads=2, head_dim=8, max_position_embeddings=1024,
        )
    )  # fmt: skip
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=48, timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False,
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 16, 16, 16), latent_channels=4, norm_num_groups=8, layers_per_block=1,
        mid_block_add_attention=False, use_quant_conv=False, use_post_quant_conv=False,
    )  # fmt: skip
    return dict(
        transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=FlowMatchEulerDiscreteScheduler(), is_distilled=True,
    )  # fmt: skip


# kind -> (pipeline class, components builder)
BUILDERS = {
    "sd3": ("StableDiffusion3Pipeline", sd3_components),
    "flux-schnell": ("FluxPipeline", flux_components),
    "flux-dev": ("FluxPipeline", lambda scratch: flux_components(scratch, guidance=True)),
    "flux-kontext": ("FluxKontextPipeline", lambda scratch: flux_components(scratch, guidance=True)),
    "flux2-klein": ("Flux2KleinPipeline", flux2_klein_components),
    "qwen-image": ("QwenImagePipeline", qwen_image_components),
}


def build_family_pipeline(kind: str, scratch: Path):
    """The tiny pipeline of ``kind`` (a key of BUILDERS); its tokenizers are made in ``scratch``."""
    import diffusers

    class_name, builder = BUILDERS[kind]
    return getattr(diffusers, class_name)(**builder(Path(scratch)))
