"""Core: what every stage uses and that knows nothing of any stage.

Owns errors (the user-facing error model), atomic file writes, ad formats and sizes, image
decoding, processes that end with their parent (lifeline), the stall watchdog.
Imports nothing else of pixio_ads.
"""
