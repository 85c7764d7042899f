"""Sending what the outbox holds: claim due deliveries, POST them signed, log every attempt, retry on
the schedule, and disable endpoints that are gone (410) or have failed for five days.

At least once, never lost: a delivery leaves `pending` only when an answer is recorded. A worker
holds the deliveries it claimed for WEBHOOK_LEASE_SECONDS (their `next_attempt_at` moves to the
lease's end); if it dies mid-send, another takes them after that, and the receiver sees a retry
with the same `webhook-id`.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from partnerportal import webhooks as transport
from programs.models import Membership, WebhookAttempt, WebhookDelivery, WebhookEndpoint

State = WebhookDelivery.State
EXCERPT_CHARS = 2000


@dataclass
class Sent:
    """One attempt's result, waiting to be recorded."""

    delivery: WebhookDelivery
    at: datetime
    headers: dict[str, str]
    outcome: transport.Outcome | None  # None: not tried in this batch (see `_send_to_endpoint`)
    behind_failure: bool = False  # not tried because the endpoint just failed to answer


def deliver_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Send one batch of due deliveries; return how many were attempted.

    Each endpoint's answers are recorded as soon as its sends are done, and no send starts after
    half the lease (counted from the claim): what this worker holds is settled before another may
    take it.
    """
    stop_at = time.monotonic() + settings.WEBHOOK_LEASE_SECONDS / 2
    claimed = _claim(now or timezone.now(), limit or settings.WEBHOOK_BATCH_SIZE)
    if not claimed:
        return 0
    by_endpoint: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for delivery in claimed:
        by_endpoint[delivery.endpoint_id].append(delivery)
    workers = min(settings.WEBHOOK_CONCURRENCY, len(by_endpoint))
    attempted = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        sending = [pool.submit(_send_to_endpoint, batch, stop_at=stop_at) for batch in by_endpoint.values()]
        for done in as_completed(sending):
            results = done.result()
            record(results)
            attempted += sum(1 for sent in results if sent.outcome is not None)
    return attempted


def deliver_until_idle(*, seconds: float = 50.0) -> int:
    """Send batches until nothing is due or `seconds` have passed; return how many were attempted."""
    return transport.until_idle(deliver_due, seconds=seconds)


def _claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries of active endpoints and hold them for the lease."""
    pending = WebhookDelivery.objects.filter(state=State.PENDING, endpoint__disabled_at__isnull=True)
    ids = transport.claim_due(pending, now=now, limit=limit, lease_seconds=settings.WEBHOOK_LEASE_SECONDS)
    if not ids:
        return []
    return list(WebhookDelivery.objects.filter(pk__in=ids).select_related("message", "endpoint").order_by("pk"))


def _send_to_endpoint(deliveries: list[WebhookDelivery], *, stop_at: float | None = None) -> list[Sent]:
    """Send one endpoint's deliveries in order over one connection.

    After an attempt that got no answer (down, or past the timeout) the rest wait for that one's
    retry: a dead endpoint is probed on the schedule, not hit once per event. Past half the lease
    the rest go back in line untried, so no claimed delivery outlives its lease while unsent.
    """
    endpoint = deliveries[0].endpoint
    allowed = settings.WEBHOOK_ALLOWED_HOSTS
    stop_at = stop_at if stop_at is not None else time.monotonic() + settings.WEBHOOK_LEASE_SECONDS / 2
    results: list[Sent] = []
    with transport.session_for(endpoint.url, allowed_hosts=allowed) as session:
        for delivery in deliveries:
            at = timezone.now()
            last = results[-1] if results else None
            if last is not None and (last.behind_failure or (last.outcome is not None and last.outcome.status is None)):
                results.append(Sent(delivery, at, {}, None, behind_failure=True))
                continue
            if time.monotonic() > stop_at:
                results.append(Sent(delivery, at, {}, None))
                continue
            body = delivery.message.body
            headers = transport.signed_headers(delivery.message.msg_id, at, body, endpoint.signing_secrets(at))
            outcome = transport.post(
                session,
                endpoint.url,
                body,
                dict(headers),
                allowed_hosts=allowed,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            )
            results.append(Sent(delivery, at, headers, outcome))
    return results


def send_now(delivery: WebhookDelivery) -> Sent:
    """Send `delivery` in this process and record it (the test-event button waits for its answer)."""
    [sent] = _send_to_endpoint([delivery])
    record([sent])
    return sent


@transaction.atomic
def record(results: Iterable[Sent]) -> None:
    """Write each attempt to the log and move its delivery and endpoint on."""
    results = list(results)
    WebhookAttempt.objects.bulk_create([_attempt(sent) for sent in results if sent.outcome is not None])
    delivered = [sent for sent in results if sent.outcome is not None and sent.outcome.delivered]
    _delivered(delivered)
    retry_at: dict[int, datetime] = {}  # per endpoint: when its last failed delivery is tried again
    for sent in results:
        if sent.outcome is not None and sent.outcome.delivered:
            continue
        if sent.outcome is not None:
            retry_at[sent.delivery.endpoint_id] = _move_on(sent) or sent.at
        else:
            again = retry_at.get(sent.delivery.endpoint_id, sent.at) if sent.behind_failure else sent.at
            _held(sent.delivery).update(next_attempt_at=again)


def _delivered(sent: list[Sent]) -> None:
    """Mark the accepted deliveries (each only while still under this worker's lease), and clear the
    failing mark of the endpoints that had one: nothing else to write for an endpoint that is well."""
    for item in sent:
        _held(item.delivery).update(
            attempts=item.delivery.attempts + 1,
            last_status=item.outcome.status if item.outcome else None,
            replay=False,
            state=State.DELIVERED,
            delivered_at=item.at,
            next_attempt_at=None,
        )
    recovered = {item.delivery.endpoint_id for item in sent if item.delivery.endpoint.failing_since is not None}
    if recovered:
        WebhookEndpoint.objects.filter(pk__in=recovered).update(failing_since=None)


def _held(delivery: WebhookDelivery) -> Any:
    """Return the delivery's row while it is still under the lease this worker took (its `next_attempt_at`):
    once the lease is over another worker may hold it, and then what this one learnt is only logged."""
    return WebhookDelivery.objects.filter(pk=delivery.pk, state=State.PENDING, next_attempt_at=delivery.next_attempt_at)


def _attempt(sent: Sent) -> WebhookAttempt:
    assert sent.outcome is not None
    return WebhookAttempt(
        delivery=sent.delivery,
        number=sent.delivery.attempts + 1,
        at=sent.at,
        request_headers=sent.headers,
        response_status=sent.outcome.status,
        response_body=sent.outcome.body[:EXCERPT_CHARS],
        error=sent.outcome.error[:300],
        duration_ms=sent.outcome.duration_ms,
        replay=sent.delivery.replay,
    )


def _move_on(sent: Sent) -> datetime | None:
    """Record the answer on the delivery and its endpoint; return when it is tried next (None: done)."""
    delivery, outcome = sent.delivery, sent.outcome
    assert outcome is not None
    attempts = delivery.attempts + 1
    update: dict[str, Any] = {"attempts": attempts, "last_status": outcome.status, "replay": False}
    if outcome.delivered:
        update |= {"state": State.DELIVERED, "delivered_at": sent.at, "next_attempt_at": None}
    else:
        wait = transport.retry_delay(attempts)
        update |= (
            {"state": State.FAILED, "next_attempt_at": None} if wait is None else {"next_attempt_at": sent.at + wait}
        )
    _held(delivery).update(**update)
    _endpoint_health(delivery.endpoint, outcome, sent.at)
    next_attempt: datetime | None = update["next_attempt_at"]
    return next_attempt


def _endpoint_health(endpoint: WebhookEndpoint, outcome: transport.Outcome, at: datetime) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if outcome.delivered:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=at)
    if outcome.status == 410:
        disable_endpoint(
            endpoint, reason="It answered 410 Gone: the receiver says this URL is no longer in use.", at=at
        )
        return
    cutoff = at - WebhookEndpoint.DISABLE_AFTER_FAILING
    if endpoints.filter(failing_since__lte=cutoff, disabled_at__isnull=True).exists():
        disable_endpoint(endpoint, reason="Every attempt failed for five days.", at=at, tell_admins=True)


def disable_endpoint(
    endpoint: WebhookEndpoint, *, reason: str, at: datetime | None = None, tell_admins: bool = False
) -> bool:
    """Stop sending to `endpoint` (its pending deliveries wait until it is enabled again); return whether it changed."""
    at = at or timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
        disabled_at=at, disabled_reason=reason
    )
    park(endpoint)
    if changed and tell_admins:
        transaction.on_commit(lambda: _mail_admins_disabled(endpoint.pk), robust=True)
    return bool(changed)


def park(endpoint: WebhookEndpoint) -> None:
    """Take a paused or disabled endpoint's waiting deliveries out of the due line (resuming puts them back)."""
    WebhookDelivery.objects.filter(endpoint=endpoint, state=State.PENDING, next_attempt_at__lte=timezone.now()).update(
        next_attempt_at=None
    )


def _mail_admins_disabled(endpoint_id: int) -> None:
    endpoint = WebhookEndpoint.objects.select_related("partner").get(pk=endpoint_id)
    admins = Membership.objects.filter(partner=endpoint.partner, role=Membership.Role.ADMIN).select_related("user")
    recipients = [membership.user.email for membership in admins if membership.user.is_active]
    if not recipients:
        return
    context = {"endpoint": endpoint, "portal_url": settings.PORTAL_URL}
    send_mail(
        subject=f"Webhook endpoint disabled: {endpoint.url}",
        message=render_to_string("emails/webhook_disabled.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
