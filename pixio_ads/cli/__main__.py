"""`python -m pixio_ads.cli`: the same as `pixio-ads`."""

from pixio_ads.cli import app

app()
