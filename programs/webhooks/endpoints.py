"""A partner admin's endpoints: register, change, rotate the secret, pause, remove, test, replay."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from partnerportal import webhooks as transport
from partnerportal.audit import audit_context
from programs.models import EventType, Partner, User, WebhookDelivery, WebhookEndpoint

from .delivery import Sent, park, send_now
from .outbox import Event, nudge_worker, publish_many

MAX_ENDPOINTS_PER_PARTNER = 20


def require_partner_admin(partner: Partner, user: User) -> None:
    """Raise PermissionDenied unless `user` is an admin of `partner`."""
    membership = user.membership
    if membership is None or membership.partner_id != partner.pk or not membership.is_admin:
        raise PermissionDenied("Only a partner admin can manage webhooks.")


def clean_url(url: Any) -> str:
    """Return a webhook URL that may be registered, or raise ValidationError({"url": …})."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"url": "Enter the URL that should receive the events."})
    try:
        return transport.check_url(url.strip(), allowed_hosts=settings.WEBHOOK_ALLOWED_HOSTS)
    except transport.UnsafeURL as error:
        raise ValidationError({"url": str(error)}) from None


def clean_event_types(event_types: Any) -> list[str]:
    """Return the subscribed types in a stable order, or raise ValidationError({"event_types": …})."""
    if not isinstance(event_types, list | tuple) or not all(isinstance(value, str) for value in event_types):
        raise ValidationError({"event_types": 'Give the event types as a list of names, e.g. ["ticket.created"].'})
    known = [value for value, _ in EventType.subscribable()]
    unknown = sorted(set(event_types) - set(known))
    if unknown:
        raise ValidationError(
            {"event_types": f"Unknown event type: {', '.join(unknown)[:200]}. Known: {', '.join(known)}."}
        )
    if not event_types:
        raise ValidationError({"event_types": "Pick at least one event type."})
    return [value for value in known if value in event_types]


@transaction.atomic
def register_endpoint(
    partner: Partner, *, url: str, event_types: Sequence[str], description: str = "", by: User
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for `partner`; return it and its signing secret (shown to the person once)."""
    require_partner_admin(partner, by)
    fields = {"url": clean_url(url), "event_types": clean_event_types(event_types), "description": description.strip()}
    Partner.objects.select_for_update().filter(pk=partner.pk).first()  # one count at a time per partner
    if WebhookEndpoint.objects.filter(partner=partner).count() >= MAX_ENDPOINTS_PER_PARTNER:
        raise ValidationError(f"A partner can have at most {MAX_ENDPOINTS_PER_PARTNER} endpoints: remove one first.")
    secret = transport.new_secret()
    with audit_context(action="register_webhook", actor=by.pk):
        endpoint = WebhookEndpoint.objects.create(partner=partner, secret=secret, created_by=by, **fields)
    return endpoint, secret


@transaction.atomic
def change_endpoint(endpoint: WebhookEndpoint, *, by: User, **changes: Any) -> WebhookEndpoint:
    """Change an endpoint's URL, event types or description (only those given)."""
    require_partner_admin(endpoint.partner, by)
    if "url" in changes:
        endpoint.url = clean_url(changes.pop("url"))
    if "event_types" in changes:
        endpoint.event_types = clean_event_types(changes.pop("event_types"))
    if "description" in changes:
        endpoint.description = str(changes.pop("description")).strip()
    if changes:
        raise ValidationError(f"These cannot be changed: {', '.join(sorted(changes))}.")
    with audit_context(action="change_webhook", actor=by.pk):
        endpoint.save(update_fields=["url", "event_types", "description"])
    return endpoint


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint, *, by: User) -> str:
    """Give the endpoint a new secret; the old one keeps signing too for ROTATION_OVERLAP. Return the new one."""
    require_partner_admin(endpoint.partner, by)
    now = timezone.now()
    secret = transport.new_secret()
    with transaction.atomic(), audit_context(action="rotate_webhook_secret", actor=by.pk):
        # Locked: two rotations at once would otherwise hand out a secret already replaced.
        current = WebhookEndpoint.objects.select_for_update().values_list("secret", flat=True).get(pk=endpoint.pk)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret=current, previous_secret_until=now + WebhookEndpoint.ROTATION_OVERLAP, secret=secret
        )
    endpoint.refresh_from_db()
    return secret


@transaction.atomic
def set_endpoint_enabled(endpoint: WebhookEndpoint, *, enabled: bool, by: User) -> WebhookEndpoint:
    """Pause or resume sending; a resumed endpoint gets what waited for it, failures forgotten."""
    require_partner_admin(endpoint.partner, by)
    with audit_context(action="enable_webhook" if enabled else "disable_webhook", actor=by.pk):
        if enabled:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                disabled_at=None, disabled_reason="", failing_since=None
            )
            # What waited while paused (a retry already scheduled keeps its time).
            endpoint.deliveries.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__isnull=True).update(
                next_attempt_at=timezone.now()
            )
            transaction.on_commit(nudge_worker, robust=True)
        else:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
                disabled_at=timezone.now(), disabled_reason=f"Paused by {by.get_full_name()}."
            )
            park(endpoint)
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def remove_endpoint(endpoint: WebhookEndpoint, *, by: User) -> None:
    """Delete the endpoint with its delivery log."""
    require_partner_admin(endpoint.partner, by)
    with audit_context(action="remove_webhook", actor=by.pk):
        endpoint.delete()


def send_test_event(endpoint: WebhookEndpoint, *, by: User) -> Sent:
    """Send a `webhook.test` event to this endpoint now and return what it answered (also in its log)."""
    require_partner_admin(endpoint.partner, by)
    if not endpoint.is_active:
        raise ValidationError("The endpoint is paused: resume it to send a test event.")
    with transaction.atomic():
        data = {"endpoint_id": endpoint.pk, "requested_by": by.email, "message": "A test event from Partner Portal."}
        publish_many([Event(endpoint.partner_id, EventType.TEST, data, endpoints=[endpoint])])
        delivery = (
            WebhookDelivery.objects.select_related("message", "endpoint")
            .filter(endpoint=endpoint, message__event_type=EventType.TEST)
            .latest("pk")
        )
        # Held by this request, not by a worker nudged when the transaction commits.
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.next_attempt_at)
    return send_now(delivery)


@transaction.atomic
def replay_delivery(delivery: WebhookDelivery, *, by: User) -> WebhookDelivery:
    """Send a message again with the same `webhook-id` (its receiver may drop it as a duplicate)."""
    require_partner_admin(delivery.endpoint.partner, by)
    if not delivery.endpoint.is_active:
        raise ValidationError("The endpoint is paused: resume it to replay messages.")
    with audit_context(action="replay_webhook", actor=by.pk):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now(), replay=True
        )
    transaction.on_commit(nudge_worker, robust=True)
    delivery.refresh_from_db()
    return delivery
