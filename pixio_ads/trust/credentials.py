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


MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "mp4": "video/mp4"}
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


# The soft binding's algorithm name: ours is not in the C2PA soft binding algorithm list
# (github.com/c2pa-org/softbinding-algorithm-list), so it is named by its vendor, reverse-DNS.
SOFT_BINDING_ALG = "io.github.pixio-ads.watermark.tile-v2"
SIDECAR_FOLDER = "c2pa"  # in a run's output: each signed file's manifest store, <file name>.c2pa


def sidecar_path(relative: str) -> str:
    """Where a signed file's manifest store is kept in its run's output (relative to it):
    found again from the file's watermark when a platform has stripped the embedded one."""
    return f"{SIDECAR_FOLDER}/{relative.rsplit('/', 1)[-1]}.c2pa"


def c2pa_manifest(variant_id: str, title: str, payload: str = "") -> dict:
    """The manifest definition: created by a trained model (IPTC digital source type), by
    which variant; with ``payload``, a soft binding naming the watermark that carries it, so
    a copy stripped of this manifest can be linked back to it."""
    manifest = {
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
    if payload:
        binding = {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": payload}]}
        manifest["assertions"].append({"label": "c2pa.soft-binding", "data": binding})
    return manifest


def sign_c2pa(
    data: bytes, output_format: str, signer: C2paSigner, variant_id: str, title: str, payload: str = ""
) -> tuple[bytes, bytes]:
    """(the file's bytes with a signed C2PA manifest embedded, hard-bound to these bytes; the
    manifest store alone, kept beside the run's output as its sidecar)."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=signer.algorithm, sign_cert=signer.cert_chain, private_key=signer.private_key, ta_url=signer.timestamp_url
    )
    out = io.BytesIO()
    manifest = c2pa_manifest(variant_id, title, payload)
    with c2pa.Signer.from_info(info) as native_signer, c2pa.Builder(manifest) as builder:
        store = builder.sign(native_signer, MIME[output_format], io.BytesIO(data), out)
    return out.getvalue(), bytes(store)


@dataclass(frozen=True, slots=True)
class C2paRead:
    present: bool
    state: str  # Valid, Trusted, Invalid, or "" when absent
    failures: tuple[str, ...]  # validation failure codes, e.g. assertion.dataHash.mismatch
    signer: str
    digital_source_type: str
    variant_id: str = ""  # the pixio-ads variant its c2pa.created action names
    soft_binding: str = ""  # the watermark payload its soft binding names ("" none)


def read_c2pa(
    data: bytes, output_format: str, trust_anchors: bytes | None = None, sidecar: bytes | None = None
) -> C2paRead:
    """Validate the embedded manifest (or the ``sidecar`` manifest store, against these
    bytes): signature, and the hash binding to these bytes. ``trust_anchors`` (PEM) makes
    certificates from that CA count as trusted."""
    import c2pa

    context = c2pa.Context.from_dict({"trust": {"trust_anchors": trust_anchors.decode()}}) if trust_anchors else None
    try:
        if sidecar is not None:
            reader = c2pa.Reader(MIME[output_format], io.BytesIO(data), manifest_data=sidecar, context=context)
        else:
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
    source_type, variant_id, binding = "", "", ""
    for assertion in manifest.get("assertions", []):
        data_ = assertion.get("data", {})
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in data_.get("actions", []):
                source_type = source_type or action.get("digitalSourceType", "")
                variant_id = variant_id or (action.get("parameters") or {}).get("pixio_ads.variant_id", "")
        elif assertion.get("label") == "c2pa.soft-binding" and data_.get("alg") == SOFT_BINDING_ALG:
            binding = next((block.get("value", "") for block in data_.get("blocks", [])), "")
    return C2paRead(True, state, failures, signer, source_type, variant_id, binding)
