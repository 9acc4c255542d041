"""Serve the deployments: ``generate-campaign`` (on demand) and ``campaign-inbox`` (cron).

    pixio-ads serve --inbox inbox/ --out out/ --cron "*/5 * * * *"
    python -m pixio_ads.flows.deploy inbox/ out/          # the same, without the CLI

``campaign-inbox`` scans the inbox, starts one ``generate-campaign`` run per new file with
the file's sha256 as idempotency key (the same file dropped twice is processed once), waits
for it, and moves the file to ``done/`` or ``failed/`` with a report beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, get_run_logger, serve
from prefect.deployments import run_deployment

from pixio_ads.flows.generate_campaign import generate_campaign
from pixio_ads.run import inbox
from pixio_ads.settings import RenderSettings, Safeguards, Serving

GENERATE_DEPLOYMENT = "generate-campaign/generate-campaign"


@flow(name="campaign-inbox", validate_parameters=True)
def campaign_inbox(
    inbox_dir: str,
    out_root: str,
    rendering: RenderSettings = RenderSettings(),
    settle_seconds: float = inbox.DEFAULT_SETTLE_SECONDS,
    safeguards: Safeguards = Safeguards(),
) -> dict:
    """Start generate-campaign for each settled, valid file in the inbox, with these
    rendering settings and safeguards."""
    logger = get_run_logger()
    outcomes = {inbox.DONE: 0, inbox.FAILED: 0}
    for path in inbox.ready_files(Path(inbox_dir), settle_seconds):
        item = inbox.claim(path)
        if item is None:
            logger.info("%s is being handled by another run", path.name)
            continue
        problems = inbox.validation_report(path, rendering)
        if problems:
            inbox.finish(item, inbox.FAILED, f"not started: the campaign file is invalid\n{problems}")
            logger.warning("%s is invalid; moved to failed/", path.name)
            outcomes[inbox.FAILED] += 1
            continue
        out_dir = Path(out_root) / f"{path.stem}-{item.sha256[:12]}"
        parameters = {"campaign_path": str(path.resolve()), "out_dir": str(out_dir.resolve())}
        parameters.update(rendering=rendering.model_dump(), safeguards=safeguards.model_dump())
        run = run_deployment(
            GENERATE_DEPLOYMENT,
            parameters=parameters,
            idempotency_key=item.idempotency_key,
            flow_run_name=f"{path.stem}-{item.sha256[:12]}",
        )
        outcome = inbox.DONE if run.state and run.state.is_completed() else inbox.FAILED
        message = run.state.message if run.state else "no state"
        state = run.state.name if run.state else "?"
        inbox.finish(item, outcome, f"flow run {run.name} ({run.id}): {state}\n{message or ''}\noutputs: {out_dir}")
        logger.info("%s -> %s/ (flow run %s)", path.name, outcome, run.name)
        outcomes[outcome] += 1
    return outcomes


def deployments(
    serving: Serving, rendering: RenderSettings = RenderSettings(), safeguards: Safeguards = Safeguards()
) -> list:
    """generate-campaign (started by hand or by the inbox) and campaign-inbox (on the cron),
    both with these rendering settings and safeguards as their defaults."""
    shared = {"rendering": rendering.model_dump(), "safeguards": safeguards.model_dump()}
    folders = {"inbox_dir": str(Path(serving.inbox_dir).resolve()), "out_root": str(Path(serving.out_root).resolve())}
    return [
        generate_campaign.to_deployment(name="generate-campaign", parameters=shared),
        campaign_inbox.to_deployment(
            name="campaign-inbox",
            cron=serving.cron,
            parameters={**folders, "settle_seconds": serving.settle_seconds, **shared},
        ),
    ]


def serve_all(
    serving: Serving, rendering: RenderSettings = RenderSettings(), safeguards: Safeguards = Safeguards()
) -> None:
    Path(serving.inbox_dir).mkdir(parents=True, exist_ok=True)
    serve(*deployments(serving, rendering, safeguards))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m pixio_ads.flows.deploy INBOX_DIR OUT_ROOT")
    serve_all(Serving(inbox_dir=sys.argv[1], out_root=sys.argv[2]))
