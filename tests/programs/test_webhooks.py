"""Partner webhooks: registering endpoints, the outbox written with the change, signed delivery to a
real receiver on a local port, retries, disabling, rotation, the delivery log and its replays."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from partnerportal import webhooks as transport
from programs.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from programs.webhooks import delivery, endpoints
from support.tickets import lifecycle
from tests.factories import file_ticket
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db

TICKET_EVENTS = [
    EventType.TICKET_CREATED,
    EventType.TICKET_COMMENTED,
    EventType.TICKET_STATUS_CHANGED,
    EventType.TICKET_RESOLVED,
]


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with Receiver() as running:
        yield running


@pytest.fixture
def endpoint_and_secret(partner, partner_admin, receiver):
    return endpoints.register_endpoint(
        partner, url=receiver.url(), event_types=TICKET_EVENTS, description="Our ServiceNow", by=partner_admin
    )


@pytest.fixture
def endpoint(endpoint_and_secret):
    return endpoint_and_secret[0]


def verified(received, secret) -> dict:
    """Return the body if the request carries a valid Standard Webhooks signature (raises otherwise)."""
    return Webhook(secret).verify(received.body, received.headers)


# --- Registering ---------------------------------------------------------------------------------


def test_a_partner_admin_adds_an_endpoint_and_sees_its_secret_once(client, partner_admin, receiver):
    client.force_login(partner_admin)
    response = client.post(
        reverse("webhooks"), {"url": receiver.url(), "description": "Ops", "event_types": ["ticket.created"]}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["ticket.created"] and endpoint.created_by == partner_admin
    again = client.get(reverse("webhooks")).content.decode()
    assert receiver.url() in again and endpoint.secret not in again
    assert endpoint.secret not in client.get(reverse("webhook_detail", args=[endpoint.pk])).content.decode()


def test_a_partner_member_cannot_manage_webhooks(client, partner_member, endpoint):
    client.force_login(partner_member)
    assert client.get(reverse("webhooks")).status_code == 403
    assert client.get(reverse("webhook_detail", args=[endpoint.pk])).status_code == 403


def test_another_partners_admin_gets_404_for_our_endpoint(client, other_partner, endpoint):
    client.force_login(other_partner)
    assert client.get(reverse("webhook_detail", args=[endpoint.pk])).status_code == 404
    assert client.post(reverse("webhook_remove", args=[endpoint.pk])).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://" + "a" * 10_000 + ".com/", "at most 2000"),
        ("http://127.0.0.1:8000/hook", "internal address"),
        ("http://localhost/hook", "internal address"),
        ("http://[::1]/hook", "internal address"),
        ("http://[::ffff:10.0.0.1]/hook", "internal address"),
        ("http://169.254.169.254/latest/meta-data/", "internal address"),
        ("http://10.1.2.3/", "internal address"),
        ("http://0.0.0.0/", "internal address"),
        ("https://user:pass@example.com/hook", "no user name or password"),
        ("https:///nohost", "no host name"),
        ("http://[not-an-ip/", "not a valid URL"),
    ],
)
def test_unsafe_urls_are_refused_with_a_reason(client, partner_admin, settings, url, message):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    client.force_login(partner_admin)
    response = client.post(reverse("webhooks"), {"url": url, "event_types": ["ticket.created"]})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_allowed_host_may_be_internal(partner, partner_admin, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["relay.internal.test"]
    endpoint, _ = endpoints.register_endpoint(
        partner, url="http://relay.internal.test/hook", event_types=["tier.changed"], by=partner_admin
    )
    assert endpoint.url == "http://relay.internal.test/hook"


def test_a_name_that_resolves_inside_is_refused_again_when_sending(partner, partner_admin, receiver, settings):
    endpoint, _ = endpoints.register_endpoint(partner, url=receiver.url(), event_types=TICKET_EVENTS, by=partner_admin)
    settings.WEBHOOK_ALLOWED_HOSTS = []  # the host is no longer allowed: its address is loopback
    sent = endpoints.send_test_event(endpoint, by=partner_admin)
    assert sent.outcome.status is None and "internal address" in sent.outcome.error
    assert receiver.received == []


# --- The outbox ----------------------------------------------------------------------------------


def test_filing_a_ticket_writes_its_event_in_the_same_transaction(partner, partner_member, plan, endpoint):
    ticket = file_ticket(partner, partner_member)
    message = WebhookMessage.objects.get()
    body = json.loads(message.body)
    assert body["type"] == "ticket.created" and body["data"]["ticket"]["id"] == ticket.pk
    assert body["data"]["ticket"]["url"].startswith("http")  # absolute: the receiver follows it
    assert WebhookDelivery.objects.get().endpoint == endpoint


def test_a_change_rolled_back_leaves_no_event(partner, partner_member, plan, endpoint):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        file_ticket(partner, partner_member)
        raise RuntimeError("the request failed after filing")
    assert not WebhookMessage.objects.exists()


def test_events_go_only_to_the_partners_own_subscribed_endpoints(
    partner, partner_member, plan, endpoint, other_partner, other_partner_org, receiver
):
    endpoints.register_endpoint(
        other_partner_org, url=receiver.url("/contoso"), event_types=TICKET_EVENTS, by=other_partner
    )
    endpoints.register_endpoint(
        partner, url=receiver.url("/tiers"), event_types=["tier.changed"], by=partner.memberships.get(role="admin").user
    )
    file_ticket(partner, partner_member)
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [endpoint.pk]


def test_a_partner_without_endpoints_costs_one_query_and_writes_nothing(partner, partner_member, plan):
    ticket = file_ticket(partner, partner_member)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from support.tickets.webhooks import publish_ticket_event

    with CaptureQueriesContext(connection) as queries:
        assert publish_ticket_event(ticket, EventType.TICKET_UPDATED) == 0
    assert len(queries) == 1 and not WebhookMessage.objects.exists()


def test_internal_notes_send_nothing_and_public_replies_send_the_reply(
    partner, partner_member, plan, endpoint, support_l2
):
    ticket = file_ticket(partner, partner_member)
    lifecycle.add_comment(ticket, by=support_l2, body="Internal: customer is on a fork", public=False)
    lifecycle.add_comment(ticket, by=support_l2, body="We are looking into it.")
    bodies = [json.loads(body) for body in WebhookMessage.objects.order_by("pk").values_list("body", flat=True)]
    assert [body["type"] for body in bodies] == ["ticket.created", "ticket.commented"]
    assert bodies[1]["data"]["comment"]["body"] == "We are looking into it."
    assert "fork" not in json.dumps(bodies)


def test_resolving_sends_the_status_change_and_the_resolution(partner, partner_member, plan, endpoint, support_l2):
    ticket = file_ticket(partner, partner_member)
    lifecycle.transition_ticket(ticket, action="resolve", by=support_l2, message="Fixed in 4.2")
    types = list(WebhookMessage.objects.order_by("pk").values_list("event_type", flat=True))
    assert types == ["ticket.created", "ticket.status_changed", "ticket.resolved"]
    resolved = json.loads(WebhookMessage.objects.get(event_type="ticket.resolved").body)["data"]
    assert (resolved["from_status"], resolved["to_status"], resolved["ticket"]["status"]) == (
        "received",
        "resolved",
        "resolved",
    )


# --- Delivery ------------------------------------------------------------------------------------


def test_a_ticket_change_arrives_signed_at_the_receiver(
    partner, partner_member, plan, endpoint_and_secret, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_and_secret
    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_ticket(partner, partner_member)
    [received] = receiver.wait_for(lambda got: len(got) == 1)
    body = verified(received, secret)
    assert body["type"] == "ticket.created" and body["data"]["ticket"]["id"] == ticket.pk
    assert received.webhook_id == WebhookMessage.objects.get().msg_id
    assert abs(int(received.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60  # UTC seconds
    delivered = WebhookDelivery.objects.get()
    assert (delivered.state, delivered.attempts, delivered.last_status) == ("delivered", 1, 200)
    attempt = WebhookAttempt.objects.get()
    assert attempt.request_headers["webhook-id"] == received.webhook_id and attempt.response_status == 200


def test_a_failed_delivery_is_retried_on_the_schedule_with_the_same_webhook_id(
    partner, partner_member, plan, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500, 200)
    with django_capture_on_commit_callbacks(execute=True):
        file_ticket(partner, partner_member)
    pending = WebhookDelivery.objects.get()
    assert (pending.state, pending.attempts, pending.last_status) == ("pending", 1, 500)
    wait = (pending.next_attempt_at - WebhookAttempt.objects.get().at).total_seconds()
    assert 4.5 <= wait <= 5.5  # five seconds, give or take the jitter
    assert delivery.deliver_due() == 0  # not due yet
    assert delivery.deliver_due(now=pending.next_attempt_at) == 1
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    assert WebhookDelivery.objects.get().state == "delivered"
    assert not WebhookEndpoint.objects.get().failing_since  # a success clears the failing run


def test_the_schedule_runs_about_three_days_then_the_delivery_fails():
    waits = [transport.retry_delay(n) for n in range(1, transport.MAX_ATTEMPTS + 1)]
    assert waits[-1] is None and all(waits[:-1])
    total = sum(transport.RETRY_DELAYS, timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=6)
    assert transport.RETRY_DELAYS[:7] == (
        timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
        timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
    )  # fmt: skip


def test_a_delivery_that_runs_out_of_tries_fails(partner, partner_member, plan, endpoint, receiver):
    receiver.answer(503)
    file_ticket(partner, partner_member)
    now = timezone.now()
    for _ in range(transport.MAX_ATTEMPTS):
        now += timedelta(days=2)
        delivery.deliver_due(now=now)
    failed = WebhookDelivery.objects.get()
    assert (failed.state, failed.attempts) == ("failed", transport.MAX_ATTEMPTS)
    assert len(receiver.received) == transport.MAX_ATTEMPTS


def test_a_410_disables_the_endpoint_at_once(partner, partner_member, plan, endpoint, receiver):
    receiver.answer(410)
    file_ticket(partner, partner_member)
    delivery.deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    file_ticket(partner, partner_member, title="Another")
    assert delivery.deliver_due(now=timezone.now() + timedelta(days=1)) == 0  # nothing goes to a disabled endpoint
    assert len(receiver.received) == 1


def test_five_days_of_failures_disable_the_endpoint_and_tell_the_partner_admins(
    partner, partner_member, partner_admin, plan, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    file_ticket(partner, partner_member)
    delivery.deliver_due()
    later = timezone.now() + timedelta(days=5, minutes=1)
    file_ticket(partner, partner_member, title="Still failing")
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(later, tick=False):
        delivery.deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "five days" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == [partner_admin.email] and endpoint.url in message.body
    assert reverse("webhook_detail", args=[endpoint.pk]) in message.body


def test_a_slow_receiver_times_out_and_the_rest_of_its_batch_waits(
    partner, partner_member, plan, endpoint, receiver, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer(200, delay=1.0)
    file_ticket(partner, partner_member)
    file_ticket(partner, partner_member, title="Second")
    assert delivery.deliver_due() == 1
    slow, waiting = WebhookDelivery.objects.order_by("pk")
    assert slow.attempts == 1 and "No answer" in slow.attempt_log.get().error
    assert waiting.attempts == 0 and waiting.next_attempt_at == slow.next_attempt_at


def test_redirects_are_not_followed(partner, partner_member, plan, endpoint, receiver):
    receiver.answer(302, headers={"location": "http://169.254.169.254/"})
    file_ticket(partner, partner_member)
    delivery.deliver_due()
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().last_status == 302


def test_only_the_start_of_a_large_answer_is_read_and_kept(partner, partner_member, plan, endpoint, receiver):
    receiver.answer(200, body=b"x" * (5 * 1024 * 1024))
    file_ticket(partner, partner_member)
    delivery.deliver_due()
    attempt = WebhookAttempt.objects.get()
    assert attempt.response_status == 200 and len(attempt.response_body) == delivery.EXCERPT_CHARS


def test_a_lease_left_by_a_dead_worker_is_taken_again(partner, partner_member, plan, endpoint, receiver, settings):
    file_ticket(partner, partner_member)
    claimed = delivery._claim(timezone.now(), 10)  # a worker took it and died before sending
    assert [d.pk for d in claimed] == [WebhookDelivery.objects.get().pk]
    assert delivery.deliver_due() == 0  # held by the lease
    assert delivery.deliver_due(now=timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)) == 1
    assert WebhookDelivery.objects.get().state == "delivered"


# --- Rotation, test events, replays --------------------------------------------------------------


def test_during_a_rotation_both_secrets_sign_then_only_the_new_one(
    partner, partner_member, partner_admin, plan, endpoint_and_secret, receiver
):
    endpoint, old = endpoint_and_secret
    new = endpoints.rotate_secret(endpoint, by=partner_admin)
    endpoints.send_test_event(endpoint, by=partner_admin)
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(during, old) and verified(during, new)
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        endpoints.send_test_event(endpoint, by=partner_admin)
        after = receiver.received[-1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(Exception, match="signature"):
            verified(after, old)


def test_the_test_button_sends_and_the_log_shows_it(client, partner_admin, endpoint, receiver):
    client.force_login(partner_admin)
    response = client.post(reverse("webhook_test", args=[endpoint.pk]), follow=True)
    assert "Test event delivered" in response.content.decode()
    assert receiver.received[-1].json()["type"] == "webhook.test"
    page = client.get(reverse("webhook_detail", args=[endpoint.pk])).content.decode()
    assert "webhook.test" in page and receiver.received[-1].webhook_id in page


def test_a_replay_sends_the_same_webhook_id_again(
    client, partner_admin, endpoint, receiver, django_capture_on_commit_callbacks
):
    endpoints.send_test_event(endpoint, by=partner_admin)
    sent = WebhookDelivery.objects.get()
    client.force_login(partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhook_replay", args=[endpoint.pk, sent.pk]), follow=True)
    assert response.status_code == 200
    first, again = receiver.received
    assert first.webhook_id == again.webhook_id
    assert [a.replay for a in sent.attempt_log.all()] == [False, True]
    assert "replay" in client.get(reverse("webhook_delivery", args=[endpoint.pk, sent.pk])).content.decode()


def test_a_paused_endpoint_gets_what_waited_once_resumed(
    partner, partner_member, partner_admin, plan, endpoint, receiver, django_capture_on_commit_callbacks
):
    endpoints.set_endpoint_enabled(endpoint, enabled=False, by=partner_admin)
    file_ticket(partner, partner_member)
    assert delivery.deliver_due() == 0
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.set_endpoint_enabled(endpoint, enabled=True, by=partner_admin)
    receiver.wait_for(lambda got: len(got) == 1)
    assert WebhookDelivery.objects.get().state == "delivered"


def test_the_log_shows_the_headers_as_sent(client, partner_admin, endpoint, receiver):
    endpoints.send_test_event(endpoint, by=partner_admin)
    [got] = receiver.received
    logged = WebhookAttempt.objects.get().request_headers
    assert got.headers["user-agent"] == logged["user-agent"] == "PartnerPortal-Webhooks/1.0"
    assert sorted(logged) == ["content-type", "user-agent", "webhook-id", "webhook-signature", "webhook-timestamp"]
    assert all(got.headers[name] == value for name, value in logged.items())


# --- The API -------------------------------------------------------------------------------------


def test_the_api_registers_lists_changes_and_removes_endpoints(api_client_for, partner_admin, receiver):
    api = api_client_for(partner_admin)
    created = api.post(
        "/api/v1/webhooks/", {"url": receiver.url(), "event_types": ["ticket.created", "tier.changed"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk, secret = created.json()["id"], created.json()["secret"]
    assert secret.startswith("whsec_")
    listed = api.get("/api/v1/webhooks/").json()["results"]
    assert [row["id"] for row in listed] == [pk] and "secret" not in listed[0]
    changed = api.patch(f"/api/v1/webhooks/{pk}/", {"event_types": ["ticket.resolved"]}, format="json")
    assert changed.status_code == 200 and changed.json()["event_types"] == ["ticket.resolved"]
    rotated = api.post(f"/api/v1/webhooks/{pk}/rotate-secret/").json()
    assert rotated["secret"] != secret
    tested = api.post(f"/api/v1/webhooks/{pk}/test/").json()
    assert tested["state"] == "delivered" and tested["attempt_log"][0]["response_status"] == 200
    log = api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()["results"]
    assert [row["event_type"] for row in log] == ["webhook.test"]
    assert api.post(f"/api/v1/webhooks/{pk}/deliveries/{log[0]['id']}/replay/").status_code == 202
    assert api.post(f"/api/v1/webhooks/{pk}/state/", {"is_active": False}, format="json").json()["is_active"] is False
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"url": "https://example.com/h", "event_types": "ticket.created"}, "event_types", "list"),
        ({"url": "https://example.com/h", "event_types": []}, "event_types", "empty"),
        ({"url": "https://example.com/h", "event_types": ["ticket.deleted"]}, "event_types", "not a valid choice"),
        ({"url": "https://example.com/h", "event_types": [{"a": 1}]}, "event_types", "not a valid choice"),
        ({"url": "gopher://example.com/", "event_types": ["ticket.created"]}, "url", "https://"),
        ({"url": "http://127.0.0.1/", "event_types": ["ticket.created"]}, "url", "internal address"),
        ({"url": "x" * 10_000, "event_types": ["ticket.created"]}, "url", "2000"),
        ({"url": ["https://example.com"], "event_types": ["ticket.created"]}, "url", "valid"),
    ],
)
def test_the_api_refuses_bad_endpoints_with_the_field_and_a_reason(
    api_client_for, partner_admin, settings, payload, field, message
):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    response = api_client_for(partner_admin).post("/api/v1/webhooks/", payload, format="json")
    assert response.status_code == 400, response.json()
    [(key, error)] = response.json()["fields"].items()
    assert key.split(".")[0] == field and message in error
    assert not WebhookEndpoint.objects.exists()


def test_the_api_is_for_partner_admins_and_scoped_to_their_partner(
    api_client_for, partner_member, other_partner, endpoint, support_l2
):
    assert api_client_for(partner_member).get("/api/v1/webhooks/").status_code == 403
    assert api_client_for(support_l2).get("/api/v1/webhooks/").status_code == 403
    outsider = api_client_for(other_partner)
    assert outsider.get("/api/v1/webhooks/").json()["results"] == []
    assert outsider.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert outsider.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"description": "x"}, format="json").status_code == 404
    assert outsider.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert WebhookEndpoint.objects.get().description == "Our ServiceNow"


def test_staff_see_no_webhook_pages(client, support_l2):
    client.force_login(support_l2)
    assert client.get(reverse("webhooks")).status_code == 403


def test_a_secret_sent_to_the_api_is_ignored_the_portal_makes_its_own(api_client_for, partner_admin, receiver):
    mine = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    api = api_client_for(partner_admin)
    answer = api.post(
        "/api/v1/webhooks/", {"url": receiver.url(), "event_types": ["ticket.created"], "secret": mine}, format="json"
    ).json()
    assert answer["secret"].startswith("whsec_") and answer["secret"] != mine
    api.patch(f"/api/v1/webhooks/{answer['id']}/", {"secret": mine}, format="json")
    assert WebhookEndpoint.objects.get().secret == answer["secret"]


def documented_receiver() -> dict:
    """Return the names defined by the Python example of docs/webhooks.md (its server is not started)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [code] = [block.split("\n", 1)[1] for block in text.split("```")[1::2] if block.startswith("python")]
    names: dict = {"__name__": "docs_example"}
    exec(compile(code, "docs/webhooks.md", "exec"), names)  # noqa: S102 (our own documentation)
    return names


def test_the_documented_receiver_verifies_a_real_delivery_and_refuses_a_changed_one(
    partner, partner_member, plan, endpoint_and_secret, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_and_secret
    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_ticket(partner, partner_member)
    [got] = receiver.wait_for(lambda received: len(received) == 1)
    verify = documented_receiver()["verify"]
    headers, body = got.headers, got.body.encode()  # the raw bytes, as a receiver reads them

    assert verify(secret, headers, body)["data"]["ticket"]["id"] == ticket.pk
    with pytest.raises(ValueError, match="no valid signature"):
        verify(secret, headers, body.replace(b"Checkout", b"Checkin"))
    with pytest.raises(ValueError, match="no valid signature"):
        verify(transport.new_secret(), headers, body)
    with pytest.raises(ValueError, match="too far"):
        verify(secret, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}, body)


def test_a_worker_late_past_its_lease_does_not_overwrite_the_one_that_took_over(
    partner, partner_member, plan, endpoint, receiver
):
    file_ticket(partner, partner_member)
    [held] = delivery._claim(timezone.now(), 10)
    [sent] = delivery._send_to_endpoint([held])  # delivered, but this worker is slow to say so
    taken_over = timezone.now() + timedelta(minutes=10)
    WebhookDelivery.objects.update(next_attempt_at=taken_over)  # the lease ran out: another worker holds it
    delivery.record([sent])
    row = WebhookDelivery.objects.get()
    assert (row.state, row.next_attempt_at, row.attempts) == ("pending", taken_over, 0)
    assert WebhookAttempt.objects.count() == 1  # the request happened, and the log says so


def test_an_unexpected_error_in_one_send_is_a_failed_attempt_not_a_stuck_batch(
    partner, partner_member, plan, endpoint, receiver, monkeypatch
):
    import requests

    def broken(*args, **kwargs):
        raise ValueError("a bug in a library")

    file_ticket(partner, partner_member)
    monkeypatch.setattr(requests.Session, "post", broken)
    assert delivery.deliver_due() == 1
    attempt = WebhookAttempt.objects.get()
    assert attempt.error == "Failed: ValueError." and WebhookDelivery.objects.get().attempts == 1


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 (an address to refuse, not one to bind)
        ("240.0.0.1", True),
        ("::1", True),
        ("::ffff:10.0.0.1", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("64:ff9b::a00:1", True),
        ("2002:a00:1::", True),
        ("93.184.215.14", False),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False),
    ],
)
def test_internal_addresses_are_told_from_public_ones_as_resolved(address, internal):
    assert transport.is_internal(address) is internal


def test_a_paused_endpoints_deliveries_wait_out_of_the_due_line(partner, partner_member, partner_admin, plan, endpoint):
    endpoints.set_endpoint_enabled(endpoint, enabled=False, by=partner_admin)
    file_ticket(partner, partner_member)
    assert WebhookDelivery.objects.get().next_attempt_at is None
    endpoints.set_endpoint_enabled(endpoint, enabled=True, by=partner_admin)
    assert WebhookDelivery.objects.get().next_attempt_at is not None
