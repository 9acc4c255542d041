"""Delivery: from a run's outputs to a person's decision and the ad platforms.

Owns the review store, ranks and the approved set (review.py), the review page (reviewapp.py)
and the exports to Meta, Google and CSV (export.py). Imports outputs and below; it renders
nothing. A new stage that reads results back from the platforms belongs here.
"""
