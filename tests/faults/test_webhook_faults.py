"""Webhook deliveries survive faults: a real Celery worker and beat (separate processes) over a
private Redis, on PostgreSQL, sending to a real receiver on a local port.

The receiver is down, then too slow (past the timeout), then answers 500, then recovers; a worker
is killed with `kill -9` mid-batch and Redis restarts. Every event reaches every endpoint; a
duplicate is only ever a retry, carrying the same `webhook-id` and the same signed body.

Events are committed with the worker's nudge turned off: the beat's sweep (every second here)
finds them, the safety net for a nudge lost with a broker. Retry waits beyond the lease are
fast-forwarded in the database: the schedule itself is tested with a frozen clock in
tests/programs/test_webhooks.py, here only what survives the faults.
"""

import signal
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from programs.models import EventType, WebhookAttempt, WebhookDelivery, WebhookMessage
from programs.webhooks import endpoints, outbox
from tests.faults.test_faults import kill, redis, start, wait_until, worker  # noqa: F401 (redis: the fixture)
from tests.faults.test_faults import pytestmark as fault_marks
from tests.receiver import Receiver, free_port

pytestmark = fault_marks
EVENTS = 200
ENDPOINTS = 3
LEASE = 15
SETTINGS = {
    "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "WEBHOOK_SWEEP_SECONDS": "1",
    "WEBHOOK_LEASE_SECONDS": str(LEASE),
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_BATCH_SIZE": "40",
}


@pytest.fixture
def hooks(partner, partner_admin, settings, monkeypatch):
    """Return a function registering ENDPOINTS endpoints on `port` and committing EVENTS events to them."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(outbox, "nudge_worker", lambda: None)  # the beat's sweep must find them

    def make(port: int) -> dict[str, str]:
        secrets = {}
        for n in range(ENDPOINTS):
            _, secret = endpoints.register_endpoint(
                partner, url=f"http://127.0.0.1:{port}/e{n}", event_types=[EventType.TICKET_CREATED], by=partner_admin
            )
            secrets[f"/e{n}"] = secret
        for first in range(0, EVENTS, 10):  # ten events per transaction, as a busy hour commits them
            with transaction.atomic():
                outbox.publish_many(
                    outbox.Event(partner.pk, EventType.TICKET_CREATED, {"ticket": {"id": n}})
                    for n in range(first, first + 10)
                )
        assert WebhookDelivery.objects.count() == EVENTS * ENDPOINTS
        return secrets

    return make


def beat(redis, tmp_path):  # noqa: F811
    return start(["beat", "--schedule", str(tmp_path / "beat")], redis, **SETTINGS)


def fast_forward() -> bool:
    """Make retry waits longer than the lease due now (a lease held by a worker is left alone)."""
    now = timezone.now()
    WebhookDelivery.objects.filter(state="pending", next_attempt_at__gt=now + timedelta(seconds=LEASE + 5)).update(
        next_attempt_at=now
    )
    return True


def all_delivered() -> bool:
    return not WebhookDelivery.objects.exclude(state="delivered").exists()


def assert_every_event_arrived_intact(receiver, secrets):
    bodies = dict(WebhookMessage.objects.values_list("msg_id", "body"))
    assert len(bodies) == EVENTS
    arrived: dict[tuple[str, str], set[str]] = {}
    for request in receiver.received:
        event = Webhook(secrets[request.path]).verify(request.body, request.headers)  # signed with its endpoint's
        assert request.body == bodies[request.webhook_id], "a body changed between tries"
        assert event["type"] == "ticket.created"
        arrived.setdefault((request.path, request.webhook_id), set()).add(request.body)
    missing = {(path, msg) for path in secrets for msg in bodies} - set(arrived)
    assert not missing, f"{len(missing)} events never reached their endpoint"


def test_an_endpoint_down_then_slow_then_failing_then_back_gets_every_event(hooks, redis, tmp_path):  # noqa: F811
    port = free_port()
    secrets = hooks(port)  # nothing listens there yet: the endpoint is down
    processes = [worker(redis, **SETTINGS), beat(redis, tmp_path)]
    try:
        wait_until(
            lambda: WebhookAttempt.objects.filter(error__startswith="Could not connect").count() >= ENDPOINTS,
            what="every endpoint to be found down",
        )
        with Receiver(port) as receiver:
            receiver.answer(200, delay=2.0)  # past the one-second timeout
            wait_until(
                lambda: (
                    fast_forward() and WebhookAttempt.objects.filter(error__startswith="No answer").count() >= ENDPOINTS
                ),
                what="every endpoint to time out",
            )
            receiver.answer(500)
            wait_until(
                lambda: fast_forward() and WebhookAttempt.objects.filter(response_status=500).count() >= ENDPOINTS,
                what="every endpoint to answer 500",
            )
            receiver.answer(200)
            wait_until(lambda: fast_forward() and all_delivered(), timeout=90, what="every delivery once it recovers")
    finally:
        for process in processes:
            kill(process, signal.SIGTERM)

    assert_every_event_arrived_intact(receiver, secrets)
    # Nothing was sent that the log does not show: each request is one recorded attempt (those
    # refused while it was down never reached it).
    sent = Counter((request.path, request.webhook_id) for request in receiver.received)
    reached = WebhookAttempt.objects.exclude(error__startswith="Could not connect")
    logged = Counter(
        ("/" + url.rsplit("/", 1)[1], msg)
        for url, msg in reached.values_list("delivery__endpoint__url", "delivery__message__msg_id")
    )
    assert sent == logged


def test_a_worker_killed_mid_batch_and_a_redis_restart_lose_nothing(hooks, redis, tmp_path):  # noqa: F811
    with Receiver() as receiver:
        receiver.answer(200, delay=0.02)  # a batch takes long enough to be cut in the middle
        secrets = hooks(receiver.port)
        scheduler = beat(redis, tmp_path)
        first = worker(redis, **SETTINGS)
        try:
            wait_until(lambda: len(receiver.received) >= 60, what="the first deliveries")
            kill(first)  # kill -9, the whole worker, mid-batch
            assert not all_delivered(), "everything was delivered before the kill: make it slower"
            redis.stop()  # and the broker restarts while the beat keeps running
            redis.start()
            second = worker(redis, **SETTINGS)
            try:
                # What the killed worker held comes back when its lease runs out.
                wait_until(all_delivered, timeout=90, what="the restarted worker to deliver the rest")
            finally:
                kill(second, signal.SIGTERM)
        finally:
            kill(first)
            kill(scheduler, signal.SIGTERM)

        assert_every_event_arrived_intact(receiver, secrets)
        copies = Counter((request.path, request.webhook_id) for request in receiver.received)
        doubled = [key for key, n in copies.items() if n > 1]
        # Only what the killed worker had sent without recording it went twice: at most its batches in flight.
        assert len(doubled) <= ENDPOINTS * int(SETTINGS["WEBHOOK_BATCH_SIZE"])
        assert all(
            WebhookDelivery.objects.get(endpoint__url__endswith=path, message__msg_id=msg).attempts >= 1
            for path, msg in doubled
        )
