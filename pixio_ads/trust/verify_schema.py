"""The JSON that ``pixio-ads verify --json`` prints: a stable interface for moderation systems
and other tools (docs/verify.md is generated from it; tests validate real output against it).

Version 1. Within a version fields are only ever added; a removed or changed field is a new
version (``schema_version``)."""

from __future__ import annotations

from pixio_ads.trust.verify import JSON_VERSION, VERDICTS

_NULLABLE_STRING = {"type": ["string", "null"]}

_FILE = {
    "type": "object",
    "required": ["path", "verdict", "reasons", "watermark", "metadata", "c2pa", "notes"],
    "properties": {
        "path": {"type": "string", "description": "The file as given or found under the folder."},
        "verdict": {"enum": list(VERDICTS), "description": "ai-origin-proven, not-recognised or altered."},
        "reasons": {"type": "array", "items": {"type": "string"}, "description": "Why, in words."},
        "watermark": {
            "type": "object",
            "description": "What the pixels carry.",
            "properties": {
                "found": {"type": "boolean", "description": "A pixio-ads watermark is in the pixels."},
                "method": {"enum": ["pixio-tile-v2", "dwtDctSvd", None], "description": "Which mark was read."},
                "payload": {**_NULLABLE_STRING, "description": "6 hex digits: a hash of the variant id."},
                "corrected_bits": {"type": ["integer", "null"], "description": "Bits BCH corrected (of 63)."},
                "confidence": {"type": "number", "description": "Sync z-score of the tiled mark; 7 and above: found."},
                "scale": {"type": "number", "description": "The file's size against the creative's."},
                "rotation_degrees": {"type": "number", "description": "Counter-clockwise turn the read undid."},
                "row": {**_NULLABLE_STRING, "description": "Manifest row: a variant id, or <id>/clean."},
                "row_distance_bits": {"type": ["integer", "null"], "description": "Bits off that row's codeword."},
            },
        },
        "metadata": {
            "type": "object",
            "description": "XMP and C2PA together, against the pixels and the row.",
            "properties": {
                "status": {
                    "enum": ["present", "stripped", "altered"],
                    "description": "present: all written is there; stripped: some or all gone, nothing contradicts; "
                    "altered: it names another variant or watermark, or the AI disclosure was changed.",
                },
                "xmp_digital_source_type": {**_NULLABLE_STRING, "description": "IPTC DigitalSourceType in the XMP."},
                "xmp_variant_id": {**_NULLABLE_STRING, "description": "The variant the XMP names."},
            },
        },
        "c2pa": {
            "type": "object",
            "description": "The embedded C2PA manifest, or the kept one the watermark leads to.",
            "properties": {
                "status": {
                    "enum": ["valid", "absent", "invalid"],
                    "description": "valid: signature and hash binding hold (an untrusted signer is still valid).",
                },
                "state": {**_NULLABLE_STRING, "description": "c2pa's validation state: Valid, Trusted, Invalid."},
                "failures": {"type": "array", "items": {"type": "string"}, "description": "Validation codes."},
                "signer": {**_NULLABLE_STRING, "description": "The signing certificate's common name."},
                "digital_source_type": {**_NULLABLE_STRING, "description": "Its c2pa.created action's source type."},
                "variant_id": {**_NULLABLE_STRING, "description": "The pixio-ads variant it names."},
                "relinked_manifest": {**_NULLABLE_STRING, "description": "Manifest store found from the watermark."},
                "relinked_signer": {**_NULLABLE_STRING, "description": "Who signed the kept manifest."},
                "relinked_variant_id": {**_NULLABLE_STRING, "description": "The variant the kept manifest names."},
            },
        },
        "notes": {"type": "array", "items": {"type": "string"}, "description": "E.g. unreadable image data."},
    },
}

JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/pixio-ads/pixio-ads/docs/verify.schema.json",
    "title": "pixio-ads verify --json",
    "type": "object",
    "required": ["schema_version", "verdict", "counts", "files"],
    "properties": {
        "schema_version": {"const": JSON_VERSION, "description": "This schema's version."},
        "verdict": {"enum": list(VERDICTS), "description": "The most serious verdict of all files."},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Files per verdict."},
        "manifests": {"type": "array", "items": {"type": "string"}, "description": "Run manifests matched against."},
        "files": {"type": "array", "items": _FILE, "description": "One entry per image, in path order."},
    },
}
