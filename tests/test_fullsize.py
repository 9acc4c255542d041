"""The real-size architectures of benchmarks/fullsize.py, built on the meta device (no
memory): their parameter counts match the published checkpoints'."""

from __future__ import annotations

import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import fullsize  # noqa: E402

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
