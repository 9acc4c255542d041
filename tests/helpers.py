"""Helpers shared by the tests (fixtures stay in conftest.py): paths, campaign rows and
files, a creative-like image."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixio_ads.core.formats import NAMED_FORMATS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CAMPAIGN = REPO / "campaigns" / "spring-sale" / "campaign.csv"
SIZES = [(f.width, f.height) for f in NAMED_FORMATS.values()]


def good_row(**changes) -> dict:
    row = {
        "campaign_id": "test-campaign",
        "product_id": "widget",
        "product_name": "Widget",
        "product_image": "products/widget.png",
        "template": "studio",
        "audiences": "makers; parents",
        "styles": "minimal",
        "formats": "square; story",
        "headline": "Build more",
        "cta": "Buy now",
    }
    row.update(changes)
    return row


def write_csv(folder: Path, rows: list[dict], name: str = "campaign.csv") -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def scene(width: int = 1080, height: int = 1080) -> Image.Image:
    """A creative-like image: gradient, shapes, texture."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([120 + 80 * np.sin(x / 90), 110 + 60 * np.cos(y / 70), 140 + 50 * np.sin((x + y) / 120)], axis=2)
    image = Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((380, 300, 700, 860), radius=60, fill=(30, 90, 200))
    draw.ellipse((100, 100, 300, 300), fill=(240, 200, 60))
    return image


def make_chain() -> tuple[bytes, bytes, bytes]:
    """A throwaway CA -> ES256 signing certificate, with the extensions C2PA requires."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    usage = dict(
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pixio-ads tests"),
            ]
        )

    def builder(subject, issuer, key):
        return (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )  # fmt: skip

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder(name("pixio-ads test CA"), name("pixio-ads test CA"), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder(name("Spring Co. signer"), ca.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = lambda cert: cert.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem(leaf) + pem(ca), private, pem(ca)


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    """The image as a JPEG of ``quality`` decodes (a platform's re-encoding)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def tiny_safety_checker(always_flag: bool | None):
    """A real StableDiffusionSafetyChecker with tiny random weights and its image processor;
    its concept thresholds are set so that every image is (or no image is) flagged; None:
    left as built (tests set them)."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    if always_flag is not None:
        threshold = -10.0 if always_flag else 10.0
        checker.concept_embeds_weights.data.fill_(threshold)
        checker.special_care_embeds_weights.data.fill_(threshold)
    extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return checker, extractor
