"""Creative: how one ad image is laid out and judged, given a scene.

Owns layout and safe zones, the product cut-out and composite, copy fitting and drawing
(overlay, fonts, emoji), brand kits, and the creative scores. Imports only core. It does not
know campaigns or runs: run/compose.py assembles a creative for a variant from these parts.
"""

from pixio_ads._moved import lazy_names

__getattr__ = lazy_names(__name__, "pixio_ads.run.compose")  # `pixio_ads.creative.X` of the last release
