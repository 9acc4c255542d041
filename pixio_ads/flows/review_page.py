"""Prefect flow ``review-page``: the review page of a campaign run that is suspended for
review (``generate-campaign`` with ``review.wait_for_review``, run by a worker).

A suspended run holds no process, no lock and no GPU memory while people review; this small
flow run, started on the ``cpu`` pool by the campaign's run, serves the page until someone
clicks "Review done", then uploads the decisions (to object storage, when the run's outputs
are there) and resumes the campaign's run, which starts again on any worker of its pool,
takes its finished work from the output location and writes the approved set.
"""

from __future__ import annotations

import threading
import time

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import resume_flow_run
from prefect.input import RunInput

from pixio_ads.core import storage
from pixio_ads.delivery import review
from pixio_ads.flows import lifecycle
from pixio_ads.settings import ReviewSettings

REVIEW_PAGE_DEPLOYMENT = "review-page/review-page"
POLL_SECONDS = 1.0


class ReviewDone(RunInput):
    """What 'Review done' on the review page sends to the waiting campaign run."""

    reviewer: str
    done: bool = True


@flow(name="review-page", validate_parameters=True)
def review_page(out_dir: str, campaign_run_id: str, review_settings: ReviewSettings = ReviewSettings()) -> str:
    """Serve the review page of the run's outputs in ``out_dir`` until 'Review done' (or the
    review's timeout, or this run's cancellation); 'Review done' resumes ``campaign_run_id``."""
    from pixio_ads.delivery.reviewapp import ReviewContext, ReviewServer

    lifecycle.bind_to_supervisor()
    logger = get_run_logger()
    workspace = storage.Workspace.open(out_dir, purpose="review")
    workspace.pull()
    done = threading.Event()

    def resume(reviewer: str) -> str:
        workspace.push()  # the decisions where the resumed run will read them
        resume_flow_run(campaign_run_id, run_input=ReviewDone(reviewer=reviewer).model_dump())
        done.set()
        return "review done: the campaign run resumes and writes the approved set"

    settings = review_settings
    context = ReviewContext(workspace.local, review.default_reviewer(), settings.review_token, on_done=resume)
    server = ReviewServer(context, settings.review_host, settings.review_port)
    url = server.start()
    create_markdown_artifact(
        key="review-page",
        markdown=f"Review the creatives of `{out_dir}` at **{url}**, then click *Review done*.",
        description=f"review page of campaign run {campaign_run_id}",
    )
    logger.info("review the creatives at %s, then click 'Review done'", url)
    try:
        outcome = _wait(done, settings.review_timeout_hours * 3600)
    finally:
        server.stop()
        workspace.push()
    logger.info(outcome)
    return outcome


def _wait(done: threading.Event, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not done.wait(POLL_SECONDS):
        if lifecycle.cancel_requested():
            return "cancelled: the campaign run stays suspended; `pixio-ads review` serves the page again"
        if time.monotonic() > deadline:
            return f"no 'Review done' within {timeout / 3600:g} h"
    return "review done"
