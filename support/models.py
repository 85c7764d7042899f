import datetime as dt

import pghistory
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from programs.models import Partner, PartnerScopedQuerySet, validate_time_zone

from . import businesstime


class Severity(models.TextChoices):
    """Ticket severities with the definitions of seeds 000 and 001."""

    P1 = "P1", "P1 – Critical"
    P2 = "P2", "P2 – High"
    P3 = "P3", "P3 – Medium"
    P4 = "P4", "P4 – Low"


SEVERITY_GUIDE = {
    Severity.P1: (
        "Production down or critical, no workaround.",
        "System outage, data loss, checkout failing for every customer.",
    ),
    Severity.P2: (
        "Major degradation or a key feature impaired; a workaround may exist but the impact is significant.",
        "Login broken for many users, an integration failing for an enterprise account.",
    ),
    Severity.P3: (
        "Limited impact; a workaround is available.",
        "A report exports an empty file, a UI bug, a cosmetic issue.",
    ),
    Severity.P4: ("Questions, cosmetic issues or enhancement requests.", "How-to questions, feature ideas."),
}


class BusinessCalendar(models.Model):
    """Support hours: a time zone, weekly windows and holidays, or 24/7."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    always_open = models.BooleanField("24/7", default=False)
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code whose public holidays close the support desk."
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True, help_text="State or region code, optional.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def to_businesstime(self, years: range) -> businesstime.BusinessCalendar:
        """Return the pure calendar for `years`, with public and custom holidays resolved."""
        windows = tuple(businesstime.Window(w.weekday, w.start, w.end) for w in self.windows.all())
        return businesstime.BusinessCalendar(
            time_zone=self.time_zone,
            windows=windows,
            holidays=frozenset(self.holiday_dates(years)),
            always_open=self.always_open,
        )

    def holiday_dates(self, years: range) -> set[dt.date]:
        """Return the local dates the desk is closed in `years`: public holidays plus custom ones."""
        dates = {h.date for h in self.holidays.all() if h.date.year in years}
        if self.holiday_country:
            import holidays

            dates |= set(
                holidays.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision or None, years=list(years)
                )
            )
        return dates


class CalendarWindow(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="windows")
    weekday = models.IntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="Local time. An end at or before the start runs past midnight (overnight).")

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class CalendarHoliday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendar_holiday_unique")]

    def __str__(self):
        return f"{self.date} {self.name}"


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    DEDICATED_CSM = "csm", "Dedicated CSM"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class SupportPlan(models.Model):
    """What a partner's tier entitles it to: hours, channels, targets per severity, services."""

    name = models.CharField(max_length=100, unique=True)
    rank = models.PositiveSmallIntegerField(
        default=0, help_text="Higher is better; a partner with several plans gets the highest."
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="plans")
    channels = models.JSONField(default=list, help_text="Channels the plan includes.")
    includes_phone = models.BooleanField(default=False)
    includes_dedicated_csm = models.BooleanField(default=False)
    includes_executive_escalation = models.BooleanField(default=False)
    partner_responsibilities = models.TextField(blank=True)
    warning_ratio = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=0.75,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text="Share of a target after which a ticket shows as 'warning'.",
    )

    class Meta:
        ordering = ["-rank", "name"]

    def __str__(self):
        return self.name

    def channel_labels(self) -> list[str]:
        return [Channel(value).label for value in self.channels if value in Channel.values]


class SeverityTarget(models.Model):
    """First-response and resolution targets of one plan for one severity, in business minutes."""

    plan = models.ForeignKey(SupportPlan, on_delete=models.CASCADE, related_name="targets")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    first_response_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    resolution_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    update_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Status update cadence (P1/P2), in business minutes."
    )

    class Meta:
        ordering = ["plan", "severity"]
        constraints = [models.UniqueConstraint(fields=["plan", "severity"], name="severity_target_unique")]

    def __str__(self):
        return f"{self.plan} {self.severity}"


class TicketQuerySet(PartnerScopedQuerySet):
    def open(self):
        return self.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])

    def for_queue(self):
        return self.select_related("partner", "plan", "assignee", "submitter")

    def due_for_sla_check(self, now):
        return self.filter(next_sla_check_at__lte=now)


# The audit model is TicketHistory: TicketEvent is the ticket's own timeline.
@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    model_name="TicketHistory",
    obj_field=pghistory.ObjForeignKey(related_name="history"),
)
class Ticket(models.Model):
    """A partner's escalation of an end customer's issue, with its SLA clocks."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING_ON_PARTNER = "waiting_on_partner", "Waiting on partner"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

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
    # Stored SLA clock (derived from the events by support.sla.compute_clock; recomputable).
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True, help_text="Empty while the clock is paused.")
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0, help_text="Business time spent paused.")
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
            models.Index(fields=["partner", "-received_at"], name="ticket_partner_recent_idx"),
            models.Index(
                fields=["next_due_at", "id"],
                name="ticket_open_next_due_idx",
                condition=~Q(status__in=["resolved", "closed"]),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self):
        return reverse("ticket_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.CLOSED)

    def compute_next_due(self):
        """Return the next deadline that still runs: first response until answered, then resolution."""
        if not self.is_open:
            return None
        if self.first_response_at is None:
            candidates = [d for d in (self.first_response_due, self.resolution_due) if d]
            return min(candidates) if candidates else None
        return self.resolution_due

    def sla_state(self, now) -> str:
        """Return 'breached', 'warning', 'paused', 'met' or 'ok' for the clocks that still run."""
        frt_breached = self.first_response_due and (self.first_response_at or now) > self.first_response_due
        res_breached = self.resolution_due and (self.resolved_at or now) > self.resolution_due
        if frt_breached or res_breached:
            return "breached"
        if not self.is_open:
            return "met"
        if self.status == self.Status.WAITING_ON_PARTNER:
            return "paused"
        warn = [self.resolution_warn_at]
        if self.first_response_at is None:
            warn.append(self.first_response_warn_at)
        if any(at and now >= at for at in warn):
            return "warning"
        return "ok"


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    RESOLUTION = "resolution", "Resolution"


class TicketEventQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"

    def visible_to(self, user):
        """Return the events `user` may read: partners never see internal notes."""
        events = self.for_user(user)
        return events if user.is_portal_staff else events.filter(public=True)


class TicketEvent(models.Model):
    """One step of a ticket's timeline, with its time and actor (none for the system)."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        STARTED = "started", "Work started"
        WAITING = "waiting", "Waiting on partner"
        RESUMED = "resumed", "Work resumed"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"
        REOPENED = "reopened", "Reopened"
        COMMENT = "comment", "Comment"
        NOTE = "note", "Internal note"
        SEVERITY = "severity", "Severity changed"
        ASSIGNED = "assigned", "Assigned"
        ATTACHMENT = "attachment", "Attachment added"
        AUTO_ACK = "auto_ack", "Automatic acknowledgement sent"
        SLA_WARNING = "sla_warning", "SLA warning"
        SLA_BREACH = "sla_breach", "SLA breached"

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

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["ticket", "at"])]
        constraints = [
            # A warning or a breach of one target is recorded once, whoever records it first.
            models.UniqueConstraint(
                fields=["ticket", "kind", "sla_target"],
                condition=Q(kind__in=["sla_warning", "sla_breach"]),
                name="ticket_sla_event_once",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class TicketAttachmentQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"


def attachment_path(instance, filename):
    return f"tickets/{instance.ticket_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


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
