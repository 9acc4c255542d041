"""AI-generated disclosure, applied to every creative in this order:

1. a visible "AI-generated" label (drawn in overlay.py, inside the safe zone);
2. an invisible watermark (tilemark.py: a tile repeated over the image, found again after
   re-encoding, resizing, cropping and slight rotation) carrying a 24-bit hash of the
   variant id in a BCH(63, 24) code that corrects 7 wrong bits of 63;
3. IPTC/XMP metadata: DigitalSourceType trainedAlgorithmicMedia, generator, variant id;
4. a C2PA manifest (``c2pa-python``) signed with the brand's certificate, when configured,
   with a soft binding naming the watermark; its manifest store is also kept beside the run's
   output (credentials.sidecar_path), found again from the watermark of a stripped copy.

and read back by verify.py for ``pixio-ads verify``.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from pixio_ads import __version__
from pixio_ads.core.pngfile import encode_png
from pixio_ads.trust.credentials import (
    GENERATOR,
    TRAINED_ALGORITHMIC_MEDIA,
    C2paSigner,
    sign_c2pa,
)
from pixio_ads.trust.payload import (
    embed_watermark,
    payload_for,
)

logger = logging.getLogger(__name__)

_SUFFIX_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".mp4": "mp4"}


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
    if output_format == "png":  # libpng's fast filters, zlib's run-length strategy (pngfile.py)
        return encode_png(image, {"XML:com.adobe.xmp": xmp.decode("utf-8")})
    buffer = io.BytesIO()
    if output_format == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True, xmp=xmp)
    else:
        image.save(buffer, format="WEBP", quality=quality, method=4, xmp=xmp)
    return buffer.getvalue()


_XMP_FIELD = re.compile(
    rb"(Iptc4xmpExt:DigitalSourceType|xmp:CreatorTool|pixio:VariantId|pixio:Image|pixio:WatermarkPayload"
    rb'|pixio:Adapters)\s*=\s*"([^"]*)"'
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
    sidecar: bytes | None = None  # the C2PA manifest store alone, when signed


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
    sidecar = None
    if signer is not None:
        data, sidecar = sign_c2pa(data, output_format, signer, variant_id, title, payload)
    return Disclosed(
        data,
        {
            "watermark_payload": payload,
            "xmp_written": True,
            "c2pa_written": signer is not None,
            "signer": signer.name if signer else "",
        },
        sidecar,
    )


def format_of(path: Path) -> str | None:
    return _SUFFIX_FORMAT.get(path.suffix.lower())
