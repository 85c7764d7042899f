"""Writing events to the outbox: in the caller's transaction, one message per partner event and one
delivery per subscribed endpoint. Nothing is sent here: a worker is nudged once the transaction
commits, and a rolled-back change leaves no event behind.
"""

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from programs.models import WebhookDelivery, WebhookEndpoint, WebhookMessage


@dataclass
class Event:
    """One thing that happened to one partner; `data` is built only if an endpoint wants the event."""

    partner_id: int
    event_type: str
    data: Callable[[], dict[str, Any]] | dict[str, Any]
    at: datetime | None = None
    endpoints: list[WebhookEndpoint] | None = field(default=None)  # only these (a test event), not every subscriber


def new_msg_id() -> str:
    """Return a fresh `webhook-id`: unique across every message we will ever send."""
    return f"msg_{uuid.uuid4().hex}"


def message_body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """Return the JSON body of a message, in the Standard Webhooks shape (type, timestamp, data)."""
    envelope = {"type": event_type, "timestamp": at.astimezone(UTC).isoformat(), "data": data}
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def publish(
    partner_id: int, event_type: str, data: Callable[[], dict[str, Any]] | dict[str, Any], *, at: datetime | None = None
) -> int:
    """Write one event for `partner_id`'s endpoints that subscribed to it; return the deliveries written."""
    return publish_many([Event(partner_id, event_type, data, at=at)])


def publish_many(events: Iterable[Event]) -> int:
    """Write many events with one read of the subscribers; return the deliveries written.

    Must run inside the transaction of the change the events report (the outbox rule).
    """
    events = list(events)
    if not events:
        return 0
    subscribers = _subscribers({event.partner_id for event in events if event.endpoints is None})
    now = timezone.now()
    messages, targets = [], []
    for event in events:
        endpoints = event.endpoints if event.endpoints is not None else subscribers[event.partner_id]
        wanted = [endpoint for endpoint in endpoints if endpoint.receives(event.event_type)]
        if not wanted:
            continue
        data = event.data() if callable(event.data) else event.data
        at = event.at or now
        body = message_body(event.event_type, at, data)
        messages.append(
            WebhookMessage(
                msg_id=new_msg_id(), partner_id=event.partner_id, event_type=event.event_type, body=body, created_at=now
            )
        )
        targets.append(wanted)
    if not messages:
        return 0
    WebhookMessage.objects.bulk_create(messages)
    if any(message.pk is None for message in messages):  # a backend that returns no ids: read them back
        ids = dict(WebhookMessage.objects.filter(msg_id__in=[m.msg_id for m in messages]).values_list("msg_id", "pk"))
        for message in messages:
            message.pk = ids[message.msg_id]
    deliveries = [
        # A paused or disabled endpoint's deliveries wait out of the due line until it is resumed.
        WebhookDelivery(
            message=message, endpoint=endpoint, next_attempt_at=None if endpoint.disabled_at else now, created_at=now
        )
        for message, endpoints in zip(messages, targets, strict=True)
        for endpoint in endpoints
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    transaction.on_commit(nudge_worker, robust=True)
    return len(deliveries)


def _subscribers(partner_ids: set[int]) -> dict[int, list[WebhookEndpoint]]:
    found: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    if partner_ids:
        endpoints = (
            # Paused and disabled endpoints too: their deliveries wait, and a resumed endpoint gets them.
            WebhookEndpoint.objects.filter(partner_id__in=partner_ids).only(
                "id", "partner_id", "event_types", "disabled_at"
            )
        )
        for endpoint in endpoints:
            found[endpoint.partner_id].append(endpoint)
    return found


def nudge_worker() -> None:
    from programs.tasks import deliver_webhooks  # the task module imports the delivery code, which imports this

    deliver_webhooks.delay()
