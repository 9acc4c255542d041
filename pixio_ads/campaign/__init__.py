"""Campaign: from a marketer's spreadsheet to the list of variants to render.

Owns reading sheets as programs write them (sheets.py), the columns and their validation
(columns.py and its parsers, spreadsheet.py; rows.py the validated rows), prompt templates (prompts.py), the ad platforms' limits a row is checked
against (platforms.py), catalogue feeds and the recipe that turns their items into campaign
rows (feeds.py, recipe.py), and the expansion into variants with their ids (variants.py).
Imports core, render (model ids and defaults), creative (copy must fit the formats), trust
and settings. It renders nothing and writes nothing.
"""

from pixio_ads._moved import lazy_names

# `pixio_ads.campaign.X` of the last release, when pixio_ads.campaign was one module
__getattr__ = lazy_names(
    __name__, "pixio_ads.campaign.spreadsheet", "pixio_ads.campaign.rows", "pixio_ads.campaign.columns"
)
