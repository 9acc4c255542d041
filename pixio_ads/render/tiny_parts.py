"""The embedded models' shared tiny parts: a CLIP byte-level BPE tokenizer built from a word
list (no hub), the tiny CLIP text encoder's configuration and the 8x VAE. Shared by the tiny SD
models (tiny_model.py), the tiny DiT families (tiny_families.py), the trained backdrop model and
the real-size benchmark builds."""

from __future__ import annotations

from pathlib import Path


def _byte_to_unicode_chars() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable-character table (256 characters)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for _, code in sorted(zip(printable, codes))]


# Words the tiny tokenizer knows whole (prompts then fit CLIP's 77 tokens as with a real
# vocabulary); anything else falls back to byte-level pieces. Changing this list changes
# the model: bump EMBEDDED_MODEL_VERSION.
_WORDS = """
a an and the of for in on with to at by from that this your our you it its is are be
photo photograph photography image picture render background backdrop scene studio lifestyle
advertising advert ad product products packshot shot commercial brand campaign poster banner
light lighting soft hard natural warm cool golden hour sunset sunrise morning evening night cozy
minimal minimalist modern vintage retro bold bright dark pastel vibrant colorful clean elegant luxury
sharp focus detail high quality detailed blurry text watermark logo people person hands
open space empty centre center composition vertical horizontal tall wide square portrait story landscape
seamless paper sweep gentle gradient box appealing speaks runners commuters students workers remote
outdoor indoor kitchen office desk table wood marble concrete garden beach city street home
bottle mug lamp cup water coffee tea shoe sneaker bag watch phone
""".split()


def _byte_level_vocab(words: list[str] | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A small CLIP BPE vocabulary built offline: every byte, every byte ending a word,
    and left-to-right merges that spell out each word of ``words`` (default _WORDS)."""
    chars = _byte_to_unicode_chars()
    tokens = chars + [c + "</w>" for c in chars]
    known = set(tokens)
    merges: list[tuple[str, str]] = []
    for word in dict.fromkeys(words or _WORDS):
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        left = pieces[0]
        for right in pieces[1:]:
            merged = left + right
            if merged not in known:
                merges.append((left, right))
                tokens.append(merged)
                known.add(merged)
            left = merged
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, merges


def write_tokenizer(folder: Path, words: list[str] | None = None) -> int:
    """An offline CLIP BPE tokenizer (byte table + merges for ``words``, default _WORDS) saved
    in ``folder``; returns its vocabulary size. Also used by benchmarks/fullsize.py."""
    from transformers import CLIPTokenizer

    vocab, merges = _byte_level_vocab(words)
    CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77).save_pretrained(folder)
    return len(vocab)


def _text_config(vocab_size: int, tokenizer, **extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def tiny_vae(sample_size: int, norm_groups: int = 8, latent_channels: int = 4, **extra):
    """The 8x VAE of the embedded models: no mid-block attention, 8-16 channels. With 8
    groups of 8 channels GroupNorm is per channel, which erases a flat area's colour: the
    trained backdrop model normalises over all channels (1 group) to keep it. ``extra``: more
    AutoencoderKL settings (the flow-matching families' shift, no quant convolutions)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(8, 16, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=norm_groups,
        sample_size=sample_size,
        mid_block_add_attention=False,
        **extra,
    )
