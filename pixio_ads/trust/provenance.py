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

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, PngImagePlugin

from pixio_ads import __version__
from pixio_ads.trust.credentials import (
    GENERATOR,
    TRAINED_ALGORITHMIC_MEDIA,
    UNTRUSTED,
    C2paRead,
    C2paSigner,
    read_c2pa,
    sign_c2pa,
)
from pixio_ads.trust.payload import (
    WatermarkRead,
    decode_reads,
    embed_watermark,
    nearest_row,
    payload_for,
    read_at_scales,
)

logger = logging.getLogger(__name__)

# zlib level 4: within 1-4% of level 9's size at 60% of the default level 6's time
# (benchmarks/png_level.py, table in benchmarks/RESULTS.md)
PNG_COMPRESS_LEVEL = 4
_SUFFIX_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


# --- XMP / IPTC --------------------------------------------------------------------------


def xmp_packet(
    variant_id: str, payload: str, image: str = "creative", language: str = "en", adapters: str = ""
) -> bytes:
    """IPTC DigitalSourceType plus who made it; what exiftool shows as XMP-iptcExt.
    ``adapters``: the LoRAs and style reference it was rendered with (pixio:Adapters)."""
    adapters_field = f'\n    pixio:Adapters="{escape(adapters, {chr(34): "&quot;"})}"' if adapters else ""
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
    pixio:Image="{image}"
    pixio:WatermarkPayload="{payload}"{adapters_field}>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">AI-generated image ({GENERATOR})</rdf:li></rdf:Alt></dc:description>
   <dc:language><rdf:Bag><rdf:li>{language}</rdf:li></rdf:Bag></dc:language>
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


_XMP_FIELD = re.compile(
    rb'(Iptc4xmpExt:DigitalSourceType|pixio:VariantId|xmp:CreatorTool|pixio:Adapters)\s*=\s*"([^"]*)"'
)


def read_xmp(data: bytes) -> dict[str, str]:
    """The XMP fields we write, found by scanning the file's bytes (XMP is plain text in all
    three formats, so a reader needs no image library)."""
    return {key.decode(): value.decode("utf-8", "replace") for key, value in _XMP_FIELD.findall(data)}


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
    kind: str = "creative",
    language: str = "en",
    adapters: str = "",
) -> Disclosed:
    """Steps 2-4 on an image that already carries its visible label. Pixels white in
    ``keep`` stay exact (inpaint mode's product); the watermark lives in the rest. ``kind``:
    the creative or the variant's clean image, each with its own watermark payload;
    ``language``: the copy's and the label's, recorded as dc:language."""
    payload = payload_for(variant_id, kind)
    marked = embed_watermark(image, payload)
    if keep is not None:
        marked = Image.composite(image.convert("RGB"), marked, keep)
    data = encode_with_xmp(marked, output_format, quality, xmp_packet(variant_id, payload, kind, language, adapters))
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


def manifest_payloads(manifest_rows: dict[str, dict]) -> dict[str, str]:
    """Every watermark a manifest's files carry: ``variant id`` for the creative,
    ``variant id/clean`` for its clean image (deliverables.py)."""
    payloads = {}
    for vid, row in manifest_rows.items():
        if row.get("watermark_payload"):
            payloads[vid] = row["watermark_payload"]
        if row.get("clean_watermark_payload"):
            payloads[f"{vid}/clean"] = row["clean_watermark_payload"]
    return payloads


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
                payloads = manifest_payloads(manifest_rows)
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
    row = manifest_rows[matched.split("/")[0]] if manifest_rows and matched else {}
    expects_c2pa = require_c2pa or bool(row.get("c2pa_written"))
    # An untrusted signer is a trust decision (add the CA with --trust-anchors), not tampering.
    broken = [code for code in c2pa_read.failures if code != UNTRUSTED]
    if c2pa_read.present and (c2pa_read.state == "Invalid" or broken):
        problems.append("C2PA manifest does not validate: " + ", ".join(broken or [c2pa_read.state]))
    elif expects_c2pa and not c2pa_read.present:
        problems.append("no C2PA manifest (the run signed this creative)" if not require_c2pa else "no C2PA manifest")
    return Verification(
        str(path), read.payload, read.corrected_bits, matched, distance, source_type, c2pa_read, tuple(problems)
    )
