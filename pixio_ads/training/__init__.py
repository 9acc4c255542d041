"""Training the embedded backdrop model (not needed at run time).

Owns the procedural backdrop data set (backdrops.py) and the trainer (backdrop_model.py,
``python -m pixio_ads.training.backdrop_model``). Imports render (the tiny model it trains)
and campaign (the prompt templates its captions come from).
"""
