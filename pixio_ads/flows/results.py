"""The ``read-results`` flow: the results loop with its report published as a Prefect
markdown artifact (``results-<campaign>``), so operators see what wins in the dashboard."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from pixio_ads.results.analysis import Outcome, read_results


@flow(name="read-results")
def read_results_flow(
    out_dir: str, reports: list[str], min_impressions: int = 1000, threshold: float = 0.95, learn_weights: bool = False
) -> Outcome:
    outcome = read_results(out_dir, reports, min_impressions, threshold, learn_weights)
    campaign = "-".join(sorted({row["campaign_id"] for row in outcome.performance.to_pylist()})) or "campaign"
    key = "results-" + "".join(ch if ch.isalnum() else "-" for ch in campaign.lower())
    create_markdown_artifact(key=key, markdown=outcome.report, description="What wins, with its uncertainty")
    return outcome
