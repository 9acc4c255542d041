"""Trust and safety: what may be made, how much, and how it is disclosed.

Owns the content policy (text and image checks), quotas and their usage database, the
invisible watermark (tilemark.py; version 1 still read), provenance (visible label, IPTC/XMP,
C2PA signing with a soft binding and a kept manifest store) and ``verify``'s findings and
verdicts (verify.py, its JSON schema in verify_schema.py).
Imports core and creative (brand kits name the brand a quota counts).
"""
