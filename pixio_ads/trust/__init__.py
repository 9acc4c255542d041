"""Trust and safety: what may be made, how much, and how it is disclosed.

Owns the content policy (text and image checks), quotas and their usage database, the
invisible watermark, and provenance (visible label, IPTC/XMP, C2PA signing and verification).
Imports core and creative (brand kits name the brand a quota counts).
"""
