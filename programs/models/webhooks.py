"""Partners' webhook endpoints, the outbox of events for them, and the log of every delivery attempt."""

from datetime import datetime, timedelta

import pghistory
from django.db import models
from django.utils import timezone

from .partners import Partner, PartnerScopedQuerySet
from .people import User


class EventType(models.TextChoices):
    """What a partner can subscribe to. `webhook.test` is sent on request only."""

    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated (severity, assignee)"
    TICKET_COMMENTED = "ticket.commented", "Public reply added"
    TICKET_STATUS_CHANGED = "ticket.status_changed", "Ticket status changed"
    TICKET_ESCALATED = "ticket.escalated", "Ticket escalated"
    TICKET_RESOLVED = "ticket.resolved", "Ticket resolved"
    SLA_WARNING = "ticket.sla_warning", "SLA deadline near"
    SLA_BREACHED = "ticket.sla_breached", "SLA deadline missed"
    TIER_CHANGED = "tier.changed", "Tier changed"
    TIER_AT_RISK = "tier.at_risk", "Tier drop pending (grandfathered)"
    POLICY_PUBLISHED = "policy.published", "Criteria policy published"
    CLAIM_RELEASED = "claim.released", "Named-account claim released"
    TEST = "webhook.test", "Test event"

    @classmethod
    def subscribable(cls) -> list[tuple[str, str]]:
        return [(value, label) for value, label in cls.choices if value != cls.TEST]


class WebhookEndpointQuerySet(PartnerScopedQuerySet):
    def active(self) -> "WebhookEndpointQuerySet":
        return self.filter(disabled_at__isnull=True)


# The secrets are not copied into the history tables; the delivery bookkeeping moves too often.
@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["secret", "previous_secret", "failing_since"],
)
class WebhookEndpoint(models.Model):
    """A URL of a partner's system that receives signed events of the types it subscribed to."""

    ROTATION_OVERLAP = timedelta(hours=24)  # both secrets sign for this long after a rotation
    DISABLE_AFTER_FAILING = timedelta(days=5)

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types it receives (EventType values).")
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current run of failed attempts; cleared by a success."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["partner__name", "created_at", "pk"]
        indexes = [
            models.Index(fields=["partner"], condition=models.Q(disabled_at__isnull=True), name="webhook_active")
        ]

    def __str__(self):
        return f"{self.url} ({self.partner})"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def receives(self, event_type: str) -> bool:
        """Return True if the endpoint subscribed to `event_type` (every endpoint takes test events)."""
        return event_type == EventType.TEST or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """Return the secrets that sign a request sent at `now`: the current one, and the previous during the overlap."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def event_type_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [labels.get(value, value) for value in self.event_types]


class WebhookMessage(models.Model):
    """One event for one partner, written in the same transaction as the change it reports (the outbox).

    `msg_id` is the `webhook-id` header: every attempt and every replay of it carries the same one,
    so receivers can drop duplicates.
    """

    msg_id = models.CharField(max_length=40, unique=True)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_messages")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    body = models.TextField(help_text="The JSON sent, exactly as signed.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.event_type} {self.msg_id}"


class WebhookDeliveryQuerySet(PartnerScopedQuerySet):
    partner_path = "endpoint__partner"


class WebhookDelivery(models.Model):
    """One message on its way to one endpoint: pending until a 2xx, failed when the schedule runs out."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker may take it next (also the lease of one that took it)."
    )
    last_status = models.PositiveIntegerField(null=True, blank=True)
    replay = models.BooleanField(default=False, help_text="Its next attempt was asked for by hand.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint("message", "endpoint", name="one_delivery_per_endpoint")]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"], condition=models.Q(state="pending"), name="webhook_delivery_due"
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self):
        return f"{self.message} → {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what was sent, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The start of the answer (at most 2,000 characters).")
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField()
    replay = models.BooleanField(default=False, help_text="Sent by hand from the delivery log.")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"attempt {self.number} of {self.delivery_id}: {self.response_status or self.error}"
