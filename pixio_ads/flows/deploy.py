"""Serve the deployments: ``generate-campaign`` (on demand) and ``campaign-inbox`` (cron).

    pixio-ads serve --inbox inbox/ --out out/ --cron "*/5 * * * *"
    python -m pixio_ads.flows.deploy inbox/ out/          # the same, without the CLI

``campaign-inbox`` scans the inbox, starts one ``generate-campaign`` run per new file with
the file's sha256 as idempotency key (the same file dropped twice is processed once), waits
for none of them (they run side by side), and moves each file to ``done/`` or ``failed/``
with a report beside it as its run ends.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prefect import flow, get_run_logger, serve
from prefect.deployments import run_deployment

from pixio_ads.core import storage
from pixio_ads.flows.fleet import POLL_SECONDS, read_runs
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
    rendering settings and safeguards, all at once; file each under done/ or failed/ as its
    run ends."""
    logger = get_run_logger()
    outcomes = {inbox.DONE: 0, inbox.FAILED: 0}
    started = {}  # flow run id -> (inbox file, output folder)
    for path in inbox.ready_files(inbox_dir, settle_seconds):
        name = inbox.name_of(path)
        item = inbox.claim(path)
        if item is None:
            logger.info("%s is being handled by another run", name.name)
            continue
        problems = inbox.validation_report(path, rendering)
        if problems:
            inbox.finish(item, inbox.FAILED, f"not started: the campaign file is invalid\n{problems}")
            logger.warning("%s is invalid; moved to failed/", name.name)
            outcomes[inbox.FAILED] += 1
            continue
        out_dir = storage.join(storage.absolute(out_root), f"{name.stem}-{item.sha256[:12]}")
        parameters = {"campaign_path": storage.absolute(path), "out_dir": out_dir}
        parameters.update(rendering=rendering.model_dump(), safeguards=safeguards.model_dump())
        run = run_deployment(
            GENERATE_DEPLOYMENT,
            parameters=parameters,
            idempotency_key=item.idempotency_key,
            flow_run_name=f"{name.stem}-{item.sha256[:12]}",
            timeout=0,  # the campaigns run side by side, on whichever workers take them
        )
        started[str(run.id)] = (item, out_dir)
        logger.info("%s: started flow run %s", name.name, run.name)
    _file_as_they_end(started, outcomes)
    return outcomes


def _file_as_they_end(started: dict, outcomes: dict) -> None:
    """Move each started file to done/ or failed/ (with its run's report) as its run ends."""
    logger = get_run_logger()
    while started:
        for run_id, run in read_runs(list(started)).items():
            state = run.state
            if state is None or not state.is_final():
                continue
            item, out_dir = started.pop(run_id)
            outcome = inbox.DONE if state.is_completed() else inbox.FAILED
            report = f"flow run {run.name} ({run.id}): {state.name}\n{state.message or ''}\noutputs: {out_dir}"
            inbox.finish(item, outcome, report)
            logger.info("%s -> %s/ (flow run %s)", inbox.name_of(item.path).name, outcome, run.name)
            outcomes[outcome] += 1
        if started:
            time.sleep(POLL_SECONDS)


def deployments(
    serving: Serving, rendering: RenderSettings = RenderSettings(), safeguards: Safeguards = Safeguards()
) -> list:
    """generate-campaign (started by hand or by the inbox) and campaign-inbox (on the cron),
    both with these rendering settings and safeguards as their defaults."""
    shared = {"rendering": rendering.model_dump(), "safeguards": safeguards.model_dump()}
    folders = {"inbox_dir": storage.absolute(serving.inbox_dir), "out_root": storage.absolute(serving.out_root)}
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
    if not storage.is_remote(serving.inbox_dir):
        Path(serving.inbox_dir).mkdir(parents=True, exist_ok=True)
    serve(*deployments(serving, rendering, safeguards))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m pixio_ads.flows.deploy INBOX_DIR OUT_ROOT")
    serve_all(Serving(inbox_dir=sys.argv[1], out_root=sys.argv[2]))
