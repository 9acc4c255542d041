"""C2PA content credentials: signing a creative with the run's certificate, and reading and
validating a file's manifest."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from pixio_ads import __version__
from pixio_ads.core.errors import PixioError

GENERATOR = "pixio-ads"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
UNTRUSTED = "signingCredential.untrusted"


class ProvenanceError(PixioError):
    pass


# --- C2PA --------------------------------------------------------------------------------


@dataclass(frozen=True)
class C2paSigner:
    """A brand's signing credentials: a PEM certificate chain (leaf first) and its private
    key. ``name`` is recorded in the manifest's ``signer`` column."""

    cert_chain: bytes
    private_key: bytes
    algorithm: str = "es256"
    timestamp_url: str | None = None
    name: str = ""

    @classmethod
    def from_files(
        cls, cert_path: str | Path, key_path: str | Path, algorithm: str = "es256", timestamp_url: str | None = None
    ) -> "C2paSigner":
        cert, key = Path(cert_path), Path(key_path)
        for path, what in ((cert, "certificate chain"), (key, "private key")):
            if not path.is_file():
                raise ProvenanceError(f"C2PA {what} not found: {path}")
        chain = cert.read_bytes()
        return cls(chain, key.read_bytes(), algorithm, timestamp_url, _signer_subject(chain))


def _signer_subject(chain_pem: bytes) -> str:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(chain_pem)[0].subject.rfc4514_string()
    except ValueError as exc:
        raise ProvenanceError(f"C2PA certificate chain is not PEM: {exc}") from None


def c2pa_manifest(variant_id: str, title: str) -> dict:
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": __version__}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": GENERATOR, "version": __version__},
                            "parameters": {"pixio_ads.variant_id": variant_id},
                        }
                    ]
                },
            }
        ],
    }


def sign_c2pa(data: bytes, output_format: str, signer: C2paSigner, variant_id: str, title: str) -> bytes:
    """The file's bytes with a signed C2PA manifest embedded (hard-bound to these bytes)."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=signer.algorithm, sign_cert=signer.cert_chain, private_key=signer.private_key, ta_url=signer.timestamp_url
    )
    out = io.BytesIO()
    with c2pa.Signer.from_info(info) as native_signer, c2pa.Builder(c2pa_manifest(variant_id, title)) as builder:
        builder.sign(native_signer, MIME[output_format], io.BytesIO(data), out)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class C2paRead:
    present: bool
    state: str  # Valid, Trusted, Invalid, or "" when absent
    failures: tuple[str, ...]  # validation failure codes, e.g. assertion.dataHash.mismatch
    signer: str
    digital_source_type: str


def read_c2pa(data: bytes, output_format: str, trust_anchors: bytes | None = None) -> C2paRead:
    """Validate the embedded manifest: signature, and the hash binding to these bytes.
    ``trust_anchors`` (PEM) makes certificates from that CA count as trusted."""
    import c2pa

    context = c2pa.Context.from_dict({"trust": {"trust_anchors": trust_anchors.decode()}}) if trust_anchors else None
    try:
        reader = c2pa.Reader.try_create(MIME[output_format], io.BytesIO(data), context=context)
    except c2pa.C2paError as exc:
        return C2paRead(True, "Invalid", (f"unreadable: {exc}",), "", "")
    if reader is None:
        return C2paRead(False, "", (), "", "")
    with reader:
        state = reader.get_validation_state() or ""
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = tuple(item["code"] for item in (results.get("activeManifest") or {}).get("failure", []))
    signer = (manifest.get("signature_info") or {}).get("common_name") or (manifest.get("signature_info") or {}).get(
        "issuer", ""
    )
    source_type = ""
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                source_type = source_type or action.get("digitalSourceType", "")
    return C2paRead(True, state, failures, signer, source_type)
