"""Tickets, their timeline events and attachments, and the API's idempotency keys."""

from datetime import datetime
from pathlib import PurePath

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from programs.models import Partner, PartnerScopedQuerySet
from support.rules import sla
from support.rules import ticket_states as states

from .plans import Severity, SupportPlan


class TicketQuerySet(PartnerScopedQuerySet):
    def open(self):
        return self.exclude(status__in=states.FINISHED_STATUSES)

    def by_next_deadline(self, *, descending: bool = False):
        """Order by the next running deadline (the queue's order); paused tickets, with none, come last."""
        due = F("next_due_at").desc(nulls_last=True) if descending else F("next_due_at").asc(nulls_last=True)
        return self.order_by(due, "id")

    def for_queue(self):
        return self.select_related("partner", "plan", "assignee", "submitter")

    def due_for_sla_check(self, now):
        return self.filter(next_sla_check_at__lte=now)

    def in_sla_state(self, state: str, now: datetime) -> "TicketQuerySet":
        """Return the tickets whose `Ticket.sla_state(now)` is `state`."""
        return self.filter(sla_state_q(state, now))


def sla_state_q(state: str, now: datetime) -> Q:
    """Return the condition for `Ticket.sla_state(now) == state`: support.rules.sla.sla_state as a query."""
    if state not in sla.SLA_STATES:
        raise ValueError(f"Unknown SLA state {state!r}: one of {', '.join(sla.SLA_STATES)}.")

    # Each comparison is guarded against NULL, so that negating it stays true or false (never unknown).
    def passed(field: str) -> Q:
        return Q(**{f"{field}__isnull": False, f"{field}__lte": now})

    def late(done: str, due: str) -> Q:
        # Done after the deadline, or not done and the deadline is behind us.
        return Q(**{f"{due}__isnull": False}) & (
            Q(**{f"{done}__isnull": False, f"{done}__gt": F(due)}) | Q(**{f"{done}__isnull": True, f"{due}__lt": now})
        )

    breached = late("first_response_at", "first_response_due") | late("resolved_at", "resolution_due")
    finished = Q(status__in=states.FINISHED_STATUSES)
    waiting = Q(status=states.Status.WAITING_ON_PARTNER)
    warned = (
        passed("resolution_warn_at")
        | passed("update_warn_at")
        | (Q(first_response_at__isnull=True) & passed("first_response_warn_at"))
    )
    running = ~breached & ~finished & ~waiting
    return {
        "breached": breached,
        "met": ~breached & finished,
        "paused": ~breached & ~finished & waiting,
        "warning": running & warned,
        "ok": running & ~warned,
    }[state]


REPORTING_FIELDS = (
    "first_response_business_seconds",
    "resolution_business_seconds",
    "reopened",
    "first_contact_resolution",
)


# The audit model is TicketHistory: TicketEvent is the ticket's own timeline. The sweep's cursor
# columns are left out, so moving them (every sweep, for every due ticket) writes no history.
@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["next_sla_check_at", "next_due_at", "escalation_steps", "updated_at", *REPORTING_FIELDS],
    model_name="TicketHistory",
    obj_field=pghistory.ObjForeignKey(related_name="history"),
)
class Ticket(models.Model):
    """A partner's escalation of an end customer's issue, with its SLA clocks."""

    class Status(models.TextChoices):
        RECEIVED = states.Status.RECEIVED.value, "Received"
        ACKNOWLEDGED = states.Status.ACKNOWLEDGED.value, "Acknowledged"
        IN_PROGRESS = states.Status.IN_PROGRESS.value, "In progress"
        WAITING_ON_PARTNER = states.Status.WAITING_ON_PARTNER.value, "Waiting on partner"
        RESOLVED = states.Status.RESOLVED.value, "Resolved"
        CLOSED = states.Status.CLOSED.value, "Closed"

    class Category(models.TextChoices):
        DEFECT = "defect", "Product defect"
        CONFIGURATION = "configuration", "Configuration"
        BACKEND = "backend", "Backend or data issue"
        HOW_TO = "how_to", "How-to question"
        SECURITY = "security", "Security or privacy event"
        DATA_INTEGRITY = "data_integrity", "Data integrity"
        OTHER = "other", "Other"

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        STAGING = "staging", "Staging / test"
        DEVELOPMENT = "development", "Development"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tickets")
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_tickets")
    title = models.CharField(max_length=200)
    customer_name = models.CharField("end customer", max_length=200)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    environment_details = models.CharField(
        max_length=300, blank=True, help_text="Version, region, browser, integration: whatever narrows it down."
    )
    steps_to_reproduce = models.TextField()
    business_impact = models.TextField()
    severity = models.CharField(max_length=2, choices=Severity.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    # The plan the ticket was opened under: a later change of the partner's tier does not move it.
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="tickets")

    received_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Stored SLA clock (derived from the events by support.rules.sla.compute_clock; recomputable).
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True, help_text="Empty while the clock is paused.")
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0, help_text="Business time spent paused.")
    # P1/P2 status update cadence: when the next public update from us is due (empty when none runs).
    update_due = models.DateTimeField(null=True, blank=True)
    update_warn_at = models.DateTimeField(null=True, blank=True)
    # Escalation: the policy as it was when the ticket was opened, the level working on it now
    # (0 before the first routing), and the steps still to come (derived, recomputed like the clocks).
    escalation_terms = models.JSONField(default=dict, blank=True, editable=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalation_steps = models.JSONField(default=list, blank=True, editable=False)
    # Reporting facts, derived from the events with the clocks (support.rules.sla.outcome; recomputable):
    # business time to the first response and to the resolution (paused time left out).
    first_response_business_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    resolution_business_seconds = models.PositiveIntegerField(null=True, blank=True, editable=False)
    reopened = models.BooleanField(default=False, editable=False)
    first_contact_resolution = models.BooleanField(
        default=False, editable=False, help_text="Resolved on our first reply: one answer, no wait, never reopened."
    )
    # The deadline that runs next (first response until answered, then resolution): the queue's order.
    next_due_at = models.DateTimeField(null=True, blank=True)
    # The next instant the sweep must look at this ticket (the earliest threshold not yet recorded).
    next_sla_check_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["next_sla_check_at"], name="ticket_sla_check_idx", condition=Q(next_sla_check_at__isnull=False)
            ),
            # Newest first, ties by id: the ticket lists' order (a partner's, and staff's across partners).
            models.Index(fields=["partner", "-received_at", "-id"], name="ticket_partner_recent_idx"),
            models.Index(fields=["received_at", "id"], name="ticket_received_idx"),
            models.Index(
                fields=["next_due_at", "id"],
                name="ticket_open_next_due_idx",
                condition=~Q(status__in=list(states.FINISHED_STATUSES)),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("ticket_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return states.is_open(self.status)

    def compute_next_due(self) -> datetime | None:
        """Return the next deadline that still runs: first response until answered, then resolution."""
        if not self.is_open:
            return None
        if self.first_response_at is None:
            candidates = [d for d in (self.first_response_due, self.resolution_due) if d]
            return min(candidates) if candidates else None
        return self.resolution_due

    def sla_state(self, now: datetime) -> str:
        """Return the SLA state at `now`: 'breached', 'warning', 'paused', 'met' or 'ok' (support.rules.sla.sla_state)."""
        return sla.sla_state(
            now,
            is_open=self.is_open,
            waiting_on_partner=self.status == self.Status.WAITING_ON_PARTNER,
            first_response_at=self.first_response_at,
            first_response_due=self.first_response_due,
            first_response_warn_at=self.first_response_warn_at,
            resolved_at=self.resolved_at,
            resolution_due=self.resolution_due,
            resolution_warn_at=self.resolution_warn_at,
            update_warn_at=self.update_warn_at,
        )


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = states.SlaTarget.FIRST_RESPONSE.value, "First response"
    RESOLUTION = states.SlaTarget.RESOLUTION.value, "Resolution"
    UPDATE = states.SlaTarget.UPDATE.value, "Status update"


class TicketEventQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"

    def visible_to(self, user):
        """Return the events `user` may read: partners never see internal notes."""
        events = self.for_user(user)
        return events if user.is_portal_staff else events.filter(public=True)


class TicketEvent(models.Model):
    """One step of a ticket's timeline, with its time and actor (none for the system)."""

    class Kind(models.TextChoices):
        RECEIVED = states.EventKind.RECEIVED.value, "Received"
        ACKNOWLEDGED = states.EventKind.ACKNOWLEDGED.value, "Acknowledged"
        STARTED = states.EventKind.STARTED.value, "Work started"
        WAITING = states.EventKind.WAITING.value, "Waiting on partner"
        RESUMED = states.EventKind.RESUMED.value, "Work resumed"
        RESOLVED = states.EventKind.RESOLVED.value, "Resolved"
        CLOSED = states.EventKind.CLOSED.value, "Closed"
        REOPENED = states.EventKind.REOPENED.value, "Reopened"
        COMMENT = states.EventKind.COMMENT.value, "Comment"
        NOTE = states.EventKind.NOTE.value, "Internal note"
        SEVERITY = states.EventKind.SEVERITY.value, "Severity changed"
        ASSIGNED = states.EventKind.ASSIGNED.value, "Assigned"
        ATTACHMENT = states.EventKind.ATTACHMENT.value, "Attachment added"
        AUTO_ACK = states.EventKind.AUTO_ACK.value, "Automatic acknowledgement sent"
        SLA_WARNING = states.EventKind.SLA_WARNING.value, "SLA warning"
        SLA_BREACH = states.EventKind.SLA_BREACH.value, "SLA breached"
        ESCALATED = states.EventKind.ESCALATED.value, "Escalated"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    by_staff = models.BooleanField(default=False, help_text="The actor acted as support staff.")
    public = models.BooleanField(default=True)
    body = models.TextField(blank=True)
    from_value = models.CharField(max_length=100, blank=True)
    to_value = models.CharField(max_length=100, blank=True)
    sla_target = models.CharField(max_length=20, choices=SlaTarget.choices, blank=True)

    objects = TicketEventQuerySet.as_manager()
    stored_attachments: list["TicketAttachment"]  # set by add_comment on the event it returns, not stored

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["ticket", "at"])]
        constraints = [
            # A warning or a breach of one target is recorded once, whoever records it first. The
            # update cadence can be missed again after each update: its events carry the missed due
            # time in `to_value` (empty for the first-response and resolution targets).
            models.UniqueConstraint(
                fields=["ticket", "kind", "sla_target", "to_value"],
                condition=Q(kind__in=[states.EventKind.SLA_WARNING.value, states.EventKind.SLA_BREACH.value]),
                name="ticket_sla_event_once",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class TicketAttachmentQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"

    def visible_to(self, user):
        """Return the files `user` may download: partners never see those attached to internal notes."""
        files = self.for_user(user)
        return files if user.is_portal_staff else files.filter(public=True)


def attachment_path(instance, filename):
    """Return where an attachment is stored: its ticket's folder, a timestamp and a short, safe form of its name.

    File systems refuse names over 255 bytes and partners' names can be longer (and of any script):
    the name on disk is ASCII and at most 80 characters; `original_name` keeps what the partner sent.
    """
    name = PurePath(filename)
    stem = slugify(name.stem)[:80] or "file"
    suffix = "".join(c for c in name.suffix.lower() if c.isascii() and (c.isalnum() or c == "."))[:10]
    return f"tickets/{instance.ticket_id}/{timezone.now():%Y%m%d%H%M%S}-{stem}{suffix}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    uploaded_at = models.DateTimeField(default=timezone.now)
    public = models.BooleanField(default=True, help_text="Visible to the partner.")

    objects = TicketAttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self):
        return self.original_name


class IdempotencyKey(models.Model):
    """An API client's Idempotency-Key for a ticket it filed: the same key and request give the same ticket.

    Kept per person; the fingerprint is of the request's fields, so the key reused for a different
    ticket is refused rather than answered with the wrong one.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]

    def __str__(self):
        return f"{self.key} → ticket #{self.ticket_id}"
