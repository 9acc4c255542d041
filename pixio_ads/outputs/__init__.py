"""Outputs: what a run's folder holds, and how it is read.

Owns the versioned manifest schema and its Parquet files (manifest.py), the contact sheet,
thumbnails and report artifacts (report.py), and the folder lock (outlock.py). Imports core,
creative and campaign (a manifest row is a variant plus its results).
"""
