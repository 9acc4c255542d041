"""Told when something needs a person: Prefect automations (open-source server) that call a
webhook block when a pixio-ads flow run fails, crashes or is suspended for review.

``pixio-ads deploy --notify URL`` saves the webhook block ``pixio-ads-notify`` (the URL kept as
a secret) and one automation per event; running it again replaces them, never duplicates.
The webhook receives JSON: the event, the flow and flow run's names, id, state and message,
and the run's dashboard address.
"""

from __future__ import annotations

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import EventTrigger, Posture

NOTIFY_BLOCK = "pixio-ads-notify"
FLOWS = ("generate-campaign", "render-shard", "review-page", "campaign-inbox")
EVENTS = {
    "failed": "prefect.flow-run.Failed",
    "crashed": "prefect.flow-run.Crashed",
    "suspended for review": "prefect.flow-run.Suspended",
}
# Jinja over the triggering event and its flow run (Prefect's automation templates); tojson
# keeps a state message with quotes or newlines valid JSON.
PAYLOAD = """{
  "event": {{ event.event | tojson }},
  "flow": {{ event.resource_in_role["flow"].name | tojson }},
  "flow_run": {{ flow_run.name | tojson }},
  "flow_run_id": "{{ flow_run.id }}",
  "state": {{ flow_run.state.name | tojson }},
  "message": {{ (flow_run.state.message or "") | tojson }},
  "url": {{ flow_run | ui_url | tojson }}
}"""


def automation_name(kind: str) -> str:
    return f"pixio-ads: a run {kind}"


def create_notifications(url: str) -> list[str]:
    """Save the webhook block and (re)create the automations; returns their names."""
    block_id = Webhook(method="POST", url=url, allow_private_urls=True).save(NOTIFY_BLOCK, overwrite=True)
    names = []
    for kind, event in EVENTS.items():
        name = automation_name(kind)
        _delete_existing(name)
        Automation(
            name=name,
            description=f"Calls the {NOTIFY_BLOCK} webhook when a pixio-ads flow run is {kind}.",
            trigger=EventTrigger(
                expect={event},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.name": list(FLOWS)},
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD)],
        ).create()
        names.append(name)
    return names


def _delete_existing(name: str) -> None:
    while True:
        try:
            Automation.read(name=name).delete()
        except ValueError:  # none (left) of that name
            return
