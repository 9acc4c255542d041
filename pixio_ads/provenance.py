"""AI-generated disclosure, applied to every creative in this order:

1. a visible "AI-generated" label (drawn in overlay.py, inside the safe zone);
2. an invisible watermark (``invisible-watermark``'s dwtDctSvd, computed on arrays in
   watermark.py) carrying a 24-bit hash of the variant id in a BCH(63, 24) code that
   corrects 7 wrong bits of 63 (an 89% read);
3. IPTC/XMP metadata: DigitalSourceType trainedAlgorithmicMedia, generator, variant id;
4. a C2PA manifest (``c2pa-python``) signed with the brand's certificate, when configured.

and read back by :func:`inspect` for ``pixio-ads verify``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from pixio_ads import __version__, watermark
from pixio_ads.errors import PixioError

logger = logging.getLogger(__name__)

GENERATOR = "pixio-ads"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
WATERMARK_METHOD = "dwtDctSvd"
PAYLOAD_BYTES = 3  # 24 bits of the variant id's hash
BCH_T, BCH_M = 7, 6  # BCH over GF(2^6): n = 63 bits, 39 parity bits, corrects 7
WATERMARK_BITS = 64  # 24 data + 39 parity + 1 padding bit
# XORed over the embedded bits, so that a flat read (all zeros from an unmarked image) is not
# the codeword of payload 000000.
_SCRAMBLE = np.unpackbits(np.frombuffer(hashlib.sha256(b"pixio-ads watermark v1").digest()[:8], dtype=np.uint8))
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
UNTRUSTED = "signingCredential.untrusted"
# zlib level 4: within 1-4% of level 9's size at 60% of the default level 6's time
# (benchmarks/png_level.py, table in benchmarks/RESULTS.md)
PNG_COMPRESS_LEVEL = 4
_SUFFIX_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


class ProvenanceError(PixioError):
    pass


# --- invisible watermark -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _bch():
    import bchlib

    return bchlib.BCH(t=BCH_T, m=BCH_M)


def payload_for(variant_id: str) -> str:
    """The 24-bit short hash a creative carries, as 6 hex digits."""
    return hashlib.sha256(variant_id.encode()).digest()[:PAYLOAD_BYTES].hex()


def payload_bits(payload_hex: str) -> list[int]:
    """Payload + BCH parity as WATERMARK_BITS bits."""
    data = bytes.fromhex(payload_hex)
    ecc = bytes(_bch().encode(bytearray(data)))
    bits = np.unpackbits(np.frombuffer(data + ecc, dtype=np.uint8))[: PAYLOAD_BYTES * 8 + _bch().ecc_bits]
    bits = np.concatenate([bits, np.zeros(WATERMARK_BITS - len(bits), np.uint8)])
    return [int(b) for b in bits ^ _SCRAMBLE]


def decode_bits(bits: list[int]) -> tuple[str | None, int]:
    """(payload hex, corrected bit errors), or (None, -1) when more than BCH_T bits are wrong."""
    bch = _bch()
    bits = np.array(bits, dtype=np.uint8) ^ _SCRAMBLE
    data_bits = bits[: PAYLOAD_BYTES * 8]
    ecc_bits = bits[PAYLOAD_BYTES * 8 : PAYLOAD_BYTES * 8 + bch.ecc_bits]
    data = bytearray(np.packbits(data_bits).tobytes())
    ecc = bytearray(
        np.packbits(np.concatenate([ecc_bits, np.zeros(bch.ecc_bytes * 8 - bch.ecc_bits, np.uint8)])).tobytes()
    )
    errors = bch.decode(data, ecc)
    if errors < 0:
        return None, -1
    bch.correct(data, ecc)
    return bytes(data).hex(), errors


def embed_watermark(image: Image.Image, payload_hex: str) -> Image.Image:
    """The image with the payload's codeword embedded (see watermark.py: the library's
    dwtDctSvd in U, the same bits again in V)."""
    return Image.fromarray(watermark.embed(np.asarray(image.convert("RGB")), payload_bits(payload_hex)))


def read_watermark_bits(image: Image.Image) -> list[int]:
    return watermark.read_bits(np.asarray(image.convert("RGB")), WATERMARK_BITS)


@dataclass(frozen=True, slots=True)
class WatermarkRead:
    payload: str | None  # decoded and error-corrected; None when unreadable
    corrected_bits: int  # -1 when unreadable
    size: tuple[int, int]  # the size it was read at (after scaling back to a format)


def candidate_sizes(size: tuple[int, int], sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The image's own size, then the known format sizes of about its aspect ratio."""
    width, height = size
    return [size] + sorted(
        {s for s in sizes if s != size and abs(s[0] / s[1] - width / height) < 0.03}, key=lambda s: abs(s[0] - width)
    )


Reads = list[tuple[tuple[int, int], list[int]]]


def read_at_scales(image: Image.Image, sizes: list[tuple[int, int]], read=read_watermark_bits) -> Reads:
    """The watermark bits read from the image as it is and scaled back to each known ad
    format size of about its aspect ratio (a platform's resize moves the watermark's
    blocks; scaling back restores them). Each read costs ~25 ms at 1080 px. ``read``:
    the bit reader (the benchmark passes the library's to compare)."""
    reads = []
    for size in candidate_sizes(image.size, sizes):
        scaled = image if size == image.size else image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        reads.append((size, read(scaled)))
    return reads


def decode_reads(reads: Reads) -> WatermarkRead:
    """The read that needed the fewest corrections. A read at the wrong scale is noise,
    which BCH rejects, or now and then "corrects" into a wrong payload with many
    corrections: the cleanest read wins."""
    best = WatermarkRead(None, -1, reads[0][0])
    for size, bits in reads:
        payload, corrected = decode_bits(bits)
        if payload is not None and (best.payload is None or corrected < best.corrected_bits):
            best = WatermarkRead(payload, corrected, size)
    return best


def read_watermark(image: Image.Image, sizes: list[tuple[int, int]]) -> WatermarkRead:
    return decode_reads(read_at_scales(image, sizes))


FALSE_MATCH_RATE = 1e-3  # expected false matches per verified image, over the whole manifest


def match_threshold(rows: int, bits: int = 63) -> int:
    """The largest bit distance that an unrelated read (bits ~ coin flips) reaches with at
    most FALSE_MATCH_RATE over ``rows`` codewords: 16 for 10 rows, 11 for 10,000."""
    tail, distance = 0.0, -1
    while True:
        tail += math.comb(bits, distance + 1) / 2**bits
        if rows * tail > FALSE_MATCH_RATE:
            return distance
        distance += 1


def nearest_row(reads: Reads, payloads: dict[str, str]) -> tuple[str | None, int]:
    """With a manifest at hand: (variant id, bit distance) of the row whose watermark is
    nearest to what the image carries, at any of its read scales; None when none is within
    :func:`match_threshold`. Soft matching reaches past BCH's 7-bit limit (two payloads'
    codewords differ in >= 15 of 63 bits)."""
    max_distance = match_threshold(max(1, len(payloads)))
    codewords = {vid: np.array(payload_bits(payload))[:63] for vid, payload in payloads.items()}
    best: tuple[str | None, int] = (None, 64)
    for _, read in reads:
        bits = np.array(read)[:63]
        for vid, codeword in codewords.items():
            distance = int((bits != codeword).sum())
            if distance < best[1]:
                best = (vid, distance)
    return best if best[1] <= max_distance else (None, best[1])


def match_watermark(
    image: Image.Image, sizes: list[tuple[int, int]], payloads: dict[str, str]
) -> tuple[str | None, int]:
    return nearest_row(read_at_scales(image, sizes), payloads)


# --- XMP / IPTC --------------------------------------------------------------------------


def xmp_packet(variant_id: str, payload: str) -> bytes:
    """IPTC DigitalSourceType plus who made it; what exiftool shows as XMP-iptcExt."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:pixio="https://github.com/pixio-ads/ns/1.0/"
    Iptc4xmpExt:DigitalSourceType="{TRAINED_ALGORITHMIC_MEDIA}"
    xmp:CreatorTool="{GENERATOR} {__version__}"
    pixio:VariantId="{variant_id}"
    pixio:WatermarkPayload="{payload}">
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">AI-generated image ({GENERATOR})</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode("utf-8")


def encode_with_xmp(image: Image.Image, output_format: str, quality: int, xmp: bytes) -> bytes:
    """The file's bytes with the XMP packet embedded where readers look for it (JPEG APP1,
    PNG iTXt 'XML:com.adobe.xmp', WebP XMP chunk)."""
    buffer = io.BytesIO()
    if output_format == "png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        image.save(buffer, format="PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    elif output_format == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True, xmp=xmp)
    else:
        image.save(buffer, format="WEBP", quality=quality, method=4, xmp=xmp)
    return buffer.getvalue()


_XMP_FIELD = re.compile(rb'(Iptc4xmpExt:DigitalSourceType|pixio:VariantId|xmp:CreatorTool)\s*=\s*"([^"]*)"')


def read_xmp(data: bytes) -> dict[str, str]:
    """The XMP fields we write, found by scanning the file's bytes (XMP is plain text in all
    three formats, so a reader needs no image library)."""
    return {key.decode(): value.decode("utf-8", "replace") for key, value in _XMP_FIELD.findall(data)}


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
        return cls(chain, key.read_bytes(), algorithm, timestamp_url, _subject(chain))


def _subject(chain_pem: bytes) -> str:
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


# --- the whole chain ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Disclosed:
    data: bytes
    values: dict  # manifest columns: watermark_payload, xmp_written, c2pa_written, signer


def disclose(
    image: Image.Image,
    variant_id: str,
    output_format: str,
    quality: int,
    title: str,
    signer: C2paSigner | None,
    keep: Image.Image | None = None,
) -> Disclosed:
    """Steps 2-4 on an image that already carries its visible label. Pixels white in
    ``keep`` stay exact (inpaint mode's product); the watermark lives in the rest."""
    payload = payload_for(variant_id)
    marked = embed_watermark(image, payload)
    if keep is not None:
        marked = Image.composite(image.convert("RGB"), marked, keep)
    data = encode_with_xmp(marked, output_format, quality, xmp_packet(variant_id, payload))
    if signer is not None:
        data = sign_c2pa(data, output_format, signer, variant_id, title)
    return Disclosed(
        data,
        {
            "watermark_payload": payload,
            "xmp_written": True,
            "c2pa_written": signer is not None,
            "signer": signer.name if signer else "",
        },
    )


def format_of(path: Path) -> str | None:
    return _SUFFIX_FORMAT.get(path.suffix.lower())


# --- verify ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    path: str
    watermark: str | None  # decoded payload
    watermark_bits_corrected: int
    matched_variant: str | None  # the manifest row it belongs to, when a manifest was given
    match_distance: int  # bits from that row's watermark (-1: no manifest)
    digital_source_type: str  # from XMP ("" when absent)
    c2pa: C2paRead
    problems: tuple[str, ...]  # what was expected and is missing or broken

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_file(
    path: Path,
    sizes: list[tuple[int, int]],
    manifest_rows: dict[str, dict] | None = None,
    trust_anchors: bytes | None = None,
    require_c2pa: bool = False,
) -> Verification:
    """Everything ``pixio-ads verify`` reports for one image. A re-encoded, resized or
    cropped file gives what can still be read, never an exception."""
    data = path.read_bytes()
    output_format = format_of(path) or "png"
    problems: list[str] = []
    read, matched, distance = WatermarkRead(None, -1, (0, 0)), None, -1
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            reads = read_at_scales(image, sizes)  # shared by the decode and the manifest match
            read = decode_reads(reads)
            if manifest_rows:
                payloads = {
                    vid: row["watermark_payload"] for vid, row in manifest_rows.items() if row.get("watermark_payload")
                }
                by_payload = {payload: vid for vid, payload in payloads.items()}
                if read.payload in by_payload:
                    matched, distance = by_payload[read.payload], read.corrected_bits
                else:  # past what BCH corrects: the nearest row's watermark, within a false-match bound
                    matched, distance = nearest_row(reads, payloads)
    except (OSError, SyntaxError, ValueError) as exc:  # damaged pixels: the metadata may still be read
        problems.append(f"image data unreadable ({exc})")
    if read.payload is None and matched is None:
        problems.append("no invisible watermark could be read")
    elif manifest_rows and matched is None:
        problems.append(f"watermark {read.payload} matches no row of the manifest")
    xmp = read_xmp(data)
    source_type = xmp.get("Iptc4xmpExt:DigitalSourceType", "")
    if source_type != TRAINED_ALGORITHMIC_MEDIA:
        problems.append("no XMP DigitalSourceType trainedAlgorithmicMedia")
    c2pa_read = read_c2pa(data, output_format, trust_anchors)
    expects_c2pa = require_c2pa or bool(manifest_rows and matched and manifest_rows[matched].get("c2pa_written"))
    # An untrusted signer is a trust decision (add the CA with --trust-anchors), not tampering.
    broken = [code for code in c2pa_read.failures if code != UNTRUSTED]
    if c2pa_read.present and (c2pa_read.state == "Invalid" or broken):
        problems.append("C2PA manifest does not validate: " + ", ".join(broken or [c2pa_read.state]))
    elif expects_c2pa and not c2pa_read.present:
        problems.append("no C2PA manifest (the run signed this creative)" if not require_c2pa else "no C2PA manifest")
    return Verification(
        str(path), read.payload, read.corrected_bits, matched, distance, source_type, c2pa_read, tuple(problems)
    )
