"""``pixio-ads verify``: what an image carries, and what that proves.

Three findings per file, then one verdict:

- **watermark**: found or not, which mark (the tiled one, or version 1 of files made before),
  its payload, the bits BCH corrected, the read's confidence, the scale and rotation it was
  found at, and the manifest row it belongs to (and its bit distance);
- **metadata**: XMP and C2PA ``present`` (all that was written is there), ``stripped`` (some or
  all gone, as platforms do: nothing contradicts the pixels) or ``altered`` (XMP or a C2PA
  manifest that names another variant than the pixels carry, or an XMP whose AI disclosure
  was changed);
- **c2pa**: ``valid`` (the signature and the hash binding to these bytes hold; an untrusted
  signer is a trust decision, not tampering), ``absent`` or ``invalid``; for a file without
  one, the manifest store the run kept is found from the watermark (its soft binding) and
  reported as ``relinked``.

Verdicts, in rising order of concern: ``ai-origin-proven`` (the watermark, or a valid C2PA
manifest declaring AI, proves it; metadata intact or stripped), ``not-recognised`` (nothing
proves it: not ours, or damaged past reading), ``altered`` (a manifest or XMP disagrees with
the pixels or the row, or a C2PA manifest does not validate). The JSON form (``as_json``) is
the stable interface for other systems: docs/verify.md documents JSON_SCHEMA.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pixio_ads.core.video import read_frames
from pixio_ads.trust.credentials import (
    TRAINED_ALGORITHMIC_MEDIA,
    UNTRUSTED,
    C2paRead,
    read_c2pa,
    sidecar_path,
)
from pixio_ads.trust.payload import (
    WATERMARK_METHOD,
    Marks,
    Reads,
    WatermarkRead,
    nearest_row,
    payload_for,
    read_frames_mark,
    read_marks,
    read_of,
)
from pixio_ads.trust.provenance import format_of, read_xmp

PROVEN, NOT_RECOGNISED, ALTERED = "ai-origin-proven", "not-recognised", "altered"
VERDICTS = (PROVEN, NOT_RECOGNISED, ALTERED)  # rising concern: a folder's verdict is its worst file's
JSON_VERSION = "1"
# A version 1 mark decoded with no manifest to match counts only when this clean: BCH "corrects"
# about 1 random read in 1,000 into some payload, but into one within 2 bits 1 in 10 million.
LEGACY_MAX_CORRECTED = 2
VIDEO_FRAMES_READ = 90  # every other frame of the first 6 s at 30 fps: the mark is in each


@dataclass(frozen=True, slots=True)
class WatermarkFinding:
    found: bool
    method: str  # WATERMARK_METHOD, LEGACY_METHOD, or "" when none was read
    payload: str | None
    corrected_bits: int
    confidence: float  # the tiled mark's sync z-score (7 and above: a mark)
    scale: float
    rotation: float
    row: str | None  # manifest row: a variant id, or "<id>/clean" for its clean image
    distance: int  # bits between the read and that row's codeword (-1: no manifest)


@dataclass(frozen=True, slots=True)
class CredentialsFinding:
    status: str  # valid, absent or invalid
    read: C2paRead
    relinked: str | None = None  # the manifest store found from the watermark, for a file without one
    relinked_read: C2paRead | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    path: str
    verdict: str
    reasons: tuple[str, ...]
    watermark: WatermarkFinding
    metadata: str  # present, stripped or altered
    xmp: dict[str, str]
    c2pa: CredentialsFinding
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict:
        """The stable JSON form (JSON_SCHEMA)."""
        mark, c2pa = self.watermark, self.c2pa
        relinked = c2pa.relinked_read
        return {
            "path": self.path,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "watermark": {
                "found": mark.found, "method": mark.method or None, "payload": mark.payload,
                "corrected_bits": mark.corrected_bits if mark.payload else None,
                "confidence": round(mark.confidence, 2), "scale": round(mark.scale, 4),
                "rotation_degrees": round(mark.rotation, 2), "row": mark.row,
                "row_distance_bits": mark.distance if mark.row else None,
            },
            "metadata": {
                "status": self.metadata,
                "xmp_digital_source_type": self.xmp.get("Iptc4xmpExt:DigitalSourceType") or None,
                "xmp_variant_id": self.xmp.get("pixio:VariantId") or None,
            },
            "c2pa": {
                "status": c2pa.status, "state": c2pa.read.state or None, "failures": list(c2pa.read.failures),
                "signer": c2pa.read.signer or None, "digital_source_type": c2pa.read.digital_source_type or None,
                "variant_id": c2pa.read.variant_id or None, "relinked_manifest": c2pa.relinked,
                "relinked_signer": relinked.signer if relinked else None,
                "relinked_variant_id": relinked.variant_id if relinked else None,
            },
            "notes": list(self.notes),
        }  # fmt: skip


class Manifests:
    """The rows of one or more run manifests, and where each run's output is (its sidecars)."""

    def __init__(self, runs: list[tuple[Path, list[dict]]] = (), sidecar_folders: list[Path] = ()):
        self.rows: dict[str, dict] = {}
        self.run_of: dict[str, Path] = {}
        for folder, rows in runs:
            for row in rows:
                self.rows[row["variant_id"]] = row
                self.run_of[row["variant_id"]] = folder
        self.payloads = _payloads(self.rows)
        self.by_payload = {payload: key for key, payload in self.payloads.items()}
        self._sidecar_folders = list(sidecar_folders)
        self._sidecars: dict[str, Path] | None = None  # indexed on first need: reading them all costs

    def sidecar_for(self, payload: str, row: str | None) -> Path | None:
        """A stripped file's manifest store: the run's copy of its row's file, else one from
        the folders given whose soft binding names this watermark."""
        variant = (row or "").split("/")[0]
        if variant in self.run_of:
            record = self.rows[variant]
            relative = record.get("clean_path") if row.endswith("/clean") else record.get("output_path")
            if relative and (found := self.run_of[variant] / sidecar_path(relative)).is_file():
                return found
        if self._sidecars is None:
            self._sidecars = _index_sidecars(self._sidecar_folders)
        return self._sidecars.get(payload)


def _payloads(rows: dict[str, dict]) -> dict[str, str]:
    """Every watermark a manifest's files carry: ``variant id`` for the creative,
    ``variant id/clean`` for its clean image (deliverables.py)."""
    payloads = {}
    for vid, row in rows.items():
        if row.get("watermark_payload"):
            payloads[vid] = row["watermark_payload"]
        if row.get("clean_watermark_payload"):
            payloads[f"{vid}/clean"] = row["clean_watermark_payload"]
    return payloads


def _index_sidecars(folders: list[Path]) -> dict[str, Path]:
    """Manifest stores (.c2pa) under ``folders``, by the watermark payload their soft binding
    names (read against an empty PNG: only the claims are wanted here)."""
    index: dict[str, Path] = {}
    blank = io.BytesIO()
    Image.new("RGB", (8, 8)).save(blank, "PNG")
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.c2pa")):
            found = read_c2pa(blank.getvalue(), "png", sidecar=path.read_bytes())
            if found.soft_binding:
                index.setdefault(found.soft_binding, path)
    return index


def verify_file(
    path: Path, sizes: list[tuple[int, int]], manifests: Manifests | None = None, trust_anchors: bytes | None = None
) -> Verification:
    """Everything ``pixio-ads verify`` reports for one image. A re-encoded, resized, cropped
    or damaged file gives what can still be read, never an exception."""
    manifests = manifests or Manifests()
    data = path.read_bytes()
    notes: list[str] = []
    mark = _watermark(data, sizes, manifests, notes)
    xmp = read_xmp(data)
    c2pa = _credentials(data, _format_in(data) or format_of(path) or "png", trust_anchors, mark, manifests)
    metadata, metadata_reasons = _metadata(xmp, c2pa, mark, manifests)
    verdict, reasons = _verdict(mark, metadata, metadata_reasons, c2pa, xmp)
    return Verification(str(path), verdict, tuple(reasons), mark, metadata, xmp, c2pa, tuple(notes))


def _format_in(data: bytes) -> str | None:
    """The file's real type from its first bytes: platform downloads are often misnamed (a
    WebP saved as .jpg), and C2PA is read per type."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        return "mp4"
    return None


def _marks(data: bytes, sizes) -> Marks:
    """The marks of an image, or of a video's frames added up (payload.read_frames_mark)."""
    if _format_in(data) == "mp4":
        import av

        try:
            return read_frames_mark(read_frames(io.BytesIO(data), every=2, limit=VIDEO_FRAMES_READ))
        except av.FFmpegError as exc:
            raise ValueError(f"video data unreadable: {exc}") from None
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return read_marks(image, sizes)


def _watermark(data: bytes, sizes, manifests: Manifests, notes: list[str]) -> WatermarkFinding:
    try:
        marks = _marks(data, sizes)
    except (OSError, SyntaxError, ValueError) as exc:  # damaged pixels: the metadata may still be read
        notes.append(f"image data unreadable ({exc})")
        return WatermarkFinding(False, "", None, -1, 0.0, 1.0, 0.0, None, -1)
    read = read_of(marks)
    row, distance = match_row(marks.reads, read, manifests)
    if marks.method == WATERMARK_METHOD:
        found = True  # the sync pattern alone proves the mark is ours, even if its payload is damaged
    else:
        found = row is not None or (read.payload is not None and read.corrected_bits <= LEGACY_MAX_CORRECTED)
    method = marks.method if found else ""
    payload = read.payload if found else None
    corrected = read.corrected_bits if payload else -1
    return WatermarkFinding(
        found, method, payload, corrected, marks.confidence, marks.scale, marks.rotation, row, distance
    )


def match_row(reads: Reads, read: WatermarkRead, manifests: Manifests) -> tuple[str | None, int]:
    """The manifest row ``reads`` belong to (``read``: their decoded payload): its exact
    payload, else the nearest codeword within the false-match bound (payload.nearest_row).
    benchmarks/watermark.py counts matches with it too."""
    if not manifests.payloads:
        return None, -1
    if read.payload in manifests.by_payload:
        return manifests.by_payload[read.payload], read.corrected_bits
    row, distance = nearest_row(reads, manifests.payloads)
    return (row, distance) if row else (None, -1)


def _credentials(data: bytes, output_format: str, anchors, mark: WatermarkFinding, manifests: Manifests):
    read = read_c2pa(data, output_format, anchors)
    if read.present:
        broken = [code for code in read.failures if code != UNTRUSTED]
        return CredentialsFinding("invalid" if read.state == "Invalid" or broken else "valid", read)
    payload = mark.payload or manifests.payloads.get(mark.row or "")
    sidecar = manifests.sidecar_for(payload, mark.row) if payload else None
    if sidecar is None:
        return CredentialsFinding("absent", read)
    # the kept manifest against this copy: its claims and signature hold, the hash binding cannot
    return CredentialsFinding(
        "absent", read, str(sidecar), read_c2pa(data, output_format, anchors, sidecar.read_bytes())
    )


def _metadata(xmp: dict, c2pa: CredentialsFinding, mark: WatermarkFinding, manifests: Manifests):
    """(present | stripped | altered, reasons)."""
    carried = manifests.payloads.get(mark.row or "") or mark.payload  # what the pixels say
    altered = []
    variant = xmp.get("pixio:VariantId")
    if variant and carried and payload_for(variant, xmp.get("pixio:Image", "creative")) != carried:
        altered.append(f"XMP names variant {variant}, the pixels carry watermark {carried}")
    if variant and xmp.get("Iptc4xmpExt:DigitalSourceType") != TRAINED_ALGORITHMIC_MEDIA:
        altered.append("XMP names a pixio-ads variant but no longer declares trainedAlgorithmicMedia")
    credentials = c2pa.read
    if c2pa.status == "valid" and carried and credentials.soft_binding and credentials.soft_binding != carried:
        altered.append(f"the C2PA manifest binds watermark {credentials.soft_binding}, the pixels carry {carried}")
    if altered:
        return "altered", altered
    row = manifests.rows.get((mark.row or "").split("/")[0], {})
    missing = [] if xmp.get("Iptc4xmpExt:DigitalSourceType") else ["XMP"]
    if not credentials.present and (row.get("c2pa_written") or c2pa.relinked):
        missing.append("C2PA manifest")
    if missing:
        return "stripped", [f"{' and '.join(missing)} stripped"]
    return "present", []


def _verdict(mark: WatermarkFinding, metadata: str, metadata_reasons: list[str], c2pa: CredentialsFinding, xmp: dict):
    credentials = c2pa.read
    if c2pa.status == "invalid":
        broken = [code for code in credentials.failures if code != UNTRUSTED] or [credentials.state]
        return ALTERED, ["C2PA manifest does not validate: " + ", ".join(broken), *metadata_reasons]
    if metadata == "altered":
        return ALTERED, metadata_reasons
    proofs = []
    if mark.found:
        what = f"watermark {mark.payload}" if mark.payload else "watermark found (payload unreadable)"
        proofs.append(what + (f", row {mark.row}" if mark.row else ""))
    if c2pa.status == "valid" and credentials.digital_source_type == TRAINED_ALGORITHMIC_MEDIA:
        proofs.append(f"C2PA manifest signed by {credentials.signer or 'an unnamed signer'} declares AI")
    if c2pa.relinked:
        proofs.append(f"its C2PA manifest found from the watermark: {c2pa.relinked}")
    if proofs:
        return PROVEN, proofs + metadata_reasons
    if xmp.get("Iptc4xmpExt:DigitalSourceType") == TRAINED_ALGORITHMIC_MEDIA:
        return NOT_RECOGNISED, ["XMP declares AI origin, but no watermark or C2PA manifest proves it"]
    return NOT_RECOGNISED, ["no watermark, C2PA manifest or AI disclosure found"]


def counts(results: list[Verification]) -> dict[str, int]:
    """Files per verdict, in VERDICTS order."""
    return {name: sum(result.verdict == name for result in results) for name in VERDICTS}


def worst(verdicts: list[str]) -> str:
    """The most serious of several files' verdicts (a folder's)."""
    return max(verdicts, key=VERDICTS.index, default=PROVEN)
