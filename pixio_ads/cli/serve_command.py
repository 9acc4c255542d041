"""`pixio-ads serve`: the deployments, served from this machine."""

from __future__ import annotations

from pixio_ads.cli.common import app, prefect_defaults, settings_from
from pixio_ads.cli.options import SAFEGUARDS, SERVING, absolute_paths, takes_settings
from pixio_ads.settings import Serving


@app.command()
@takes_settings(*SERVING, "model", *SAFEGUARDS)
def serve(**settings) -> None:
    """Serve the generate-campaign and campaign-inbox deployments (needs PREFECT_API_URL)."""
    prefect_defaults()
    from pixio_ads.flows.deploy import serve_all

    options = absolute_paths(settings)
    serving = Serving(**{name: options.pop(name) for name in SERVING})
    models = settings_from(**options)
    serve_all(serving, models["rendering"], models["safeguards"])
