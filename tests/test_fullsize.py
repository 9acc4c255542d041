"""The real-size architectures of benchmarks/fullsize.py, built on the meta device (no
memory): their parameter counts match the published checkpoints'."""

from __future__ import annotations

import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import fullsize  # noqa: E402
import fullsize_dit  # noqa: E402

# The anchors: SD 1.5 UNet ~860M, SDXL UNet ~2.57B, VAE ~84M, CLIP ViT-L text ~123M.
ANCHORS = {("sd15", "unet"): 860e6, ("sdxl", "unet"): 2.57e9, ("sd15", "vae"): 84e6, ("sd15", "text_encoder"): 123e6}


@pytest.mark.parametrize("arch", fullsize.ARCHS)
def test_parameter_counts_match_the_published_models(arch):
    counts = fullsize.parameter_counts(arch)
    assert set(counts) == set(fullsize.PUBLISHED[arch])
    for name, published in fullsize.PUBLISHED[arch].items():
        assert abs(counts[name] - published) <= 0.01 * published, (arch, name, counts[name], published)
    for (anchor_arch, name), value in ANCHORS.items():
        if anchor_arch == arch:
            assert abs(counts[name] - value) <= 0.01 * value


def test_unknown_arch_is_refused():
    with pytest.raises(SystemExit, match="unknown --arch"):
        fullsize.components("sd3", tokenizer=None, device="meta")


@pytest.mark.parametrize("arch", fullsize_dit.ARCHS)
def test_dit_architectures_match_the_published_sizes(arch):
    """FLUX.1 schnell and SD 3.5 Medium (benchmarks/fullsize_dit.py): the transformer, T5 XXL and
    CLIP encoders as their checkpoints store them; SD 3.5 Medium's "2.5B" is the card's rounding."""
    counts = fullsize_dit.parameter_counts(arch)
    assert {"transformer", "vae", "text_encoder"} <= set(counts)
    for name, published in fullsize_dit.PUBLISHED[arch].items():
        tolerance = 0.03 if (arch, name) == ("sd35m", "transformer") else 0.0
        assert abs(counts[name] - published) <= tolerance * published, (arch, name, counts[name], published)
