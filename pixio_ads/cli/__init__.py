"""Command line: ``pixio-ads validate | expand | run | verify | export | review | results | next-round | serve | deploy | doctor``.

Exit codes: 0 ok, 1 some variants failed to render, 2 invalid input (every error printed),
3 the review was not done in time (``run --review``; the flow run is left paused), 130 interrupted.
Library errors become messages that say how to fix them, never tracebacks. Each command module
registers its commands on ``app``; the settings' options are generated from the settings
models (options.py), so a setting is declared once, in pixio_ads/settings.py.
"""

from pixio_ads.cli import (  # noqa: F401 (registration)
    campaign_commands,
    fleet_commands,
    output_commands,
    results_commands,
    run_command,
    serve_command,
    verify_command,
)
from pixio_ads.cli.common import (
    EXIT_ALTERED,
    EXIT_FAILED_VARIANTS,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    EXIT_NOT_RECOGNISED,
    EXIT_REVIEW_PENDING,
    app,
)

__all__ = [
    "app", "EXIT_FAILED_VARIANTS", "EXIT_INTERRUPTED", "EXIT_INVALID_INPUT", "EXIT_REVIEW_PENDING", "EXIT_ALTERED",
    "EXIT_NOT_RECOGNISED",
]  # fmt: skip
