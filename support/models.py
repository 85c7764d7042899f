import datetime as dt

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from programs.models import Partner, PartnerScopedQuerySet, validate_time_zone

from . import businesstime, sla


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


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
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


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
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


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
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
    includes_escalation_requests = models.BooleanField(
        default=False, help_text="Partners may ask for a ticket to go to the next escalation level."
    )
    includes_executive_escalation = models.BooleanField(
        default=False, help_text="Partners may ask for the executive level (needs escalation requests)."
    )
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


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
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

    def in_sla_state(self, state: str, now):
        """Return the tickets whose `Ticket.sla_state(now)` is `state`."""
        return self.filter(sla_state_q(state, now))


def sla_state_q(state: str, now) -> Q:
    """Return the condition for `Ticket.sla_state(now) == state`: support.sla.sla_state as a query."""
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
    closed = Q(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
    waiting = Q(status=Ticket.Status.WAITING_ON_PARTNER)
    warned = (
        passed("resolution_warn_at")
        | passed("update_warn_at")
        | (Q(first_response_at__isnull=True) & passed("first_response_warn_at"))
    )
    running = ~breached & ~closed & ~waiting
    return {
        "breached": breached,
        "met": ~breached & closed,
        "paused": ~breached & ~closed & waiting,
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
    # P1/P2 status update cadence: when the next public update from us is due (empty when none runs).
    update_due = models.DateTimeField(null=True, blank=True)
    update_warn_at = models.DateTimeField(null=True, blank=True)
    # Escalation: the policy as it was when the ticket was opened, the level working on it now
    # (0 before the first routing), and the steps still to come (derived, recomputed like the clocks).
    escalation_terms = models.JSONField(default=dict, blank=True, editable=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalation_steps = models.JSONField(default=list, blank=True, editable=False)
    # Reporting facts, derived from the events with the clocks (support.sla.outcome; recomputable):
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
        """Return the SLA state at `now`: 'breached', 'warning', 'paused', 'met' or 'ok' (support.sla.sla_state)."""
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
    FIRST_RESPONSE = "first_response", "First response"
    RESOLUTION = "resolution", "Resolution"
    UPDATE = "update", "Status update"


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
        ESCALATED = "escalated", "Escalated"

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
            # A warning or a breach of one target is recorded once, whoever records it first. The
            # update cadence can be missed again after each update: its events carry the missed due
            # time in `to_value` (empty for the first-response and resolution targets).
            models.UniqueConstraint(
                fields=["ticket", "kind", "sla_target", "to_value"],
                condition=Q(kind__in=["sla_warning", "sla_breach"]),
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


# --- On call --------------------------------------------------------------------------------------


class OnCallRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class OnCallSchedule(models.Model):
    """Who answers pages for a group of people: rotations in layers, and overrides, in one time zone."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="Handoffs happen on this zone's wall clock."
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class OnCallLayer(models.Model):
    """One rotation of a schedule: people take turns, handing off every N days at a local time."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="layers")
    role = models.CharField(max_length=10, choices=OnCallRole.choices, default=OnCallRole.PRIMARY)
    position = models.PositiveSmallIntegerField(default=1, help_text="Where layers overlap, the higher one wins.")
    name = models.CharField(max_length=100)
    starts_on = models.DateField(help_text="Local date of the first handoff.")
    handoff = models.TimeField(help_text="Local wall-clock time of every handoff.")
    length_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    window_start = models.TimeField(null=True, blank=True, help_text="Only on call from this local time each day.")
    window_end = models.TimeField(
        null=True, blank=True, help_text="… until this local time (at or before the start: past midnight)."
    )
    people = models.ManyToManyField(settings.AUTH_USER_MODEL, through="OnCallMember", related_name="+")

    class Meta:
        ordering = ["schedule", "role", "position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__isnull=True, window_end__isnull=True)
                | Q(window_start__isnull=False, window_end__isnull=False),
                name="oncall_window_both_or_neither",
                violation_error_message="A daily window needs a start and an end, or neither (all day).",
            ),
            models.CheckConstraint(condition=Q(length_days__gte=1), name="oncall_length_at_least_a_day"),
        ]

    def __str__(self):
        return f"{self.schedule}: {self.name} ({self.get_role_display().lower()})"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class OnCallMember(models.Model):
    layer = models.ForeignKey(OnCallLayer, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="Turn order: 1 takes the first shift.")

    class Meta:
        ordering = ["layer", "position"]
        constraints = [models.UniqueConstraint(fields=["layer", "position"], name="oncall_member_turn_unique")]

    def __str__(self):
        return f"{self.position}. {self.person}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class OnCallOverride(models.Model):
    """Someone covers a stretch of time, whatever the rotations say (holiday swaps, incidents)."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="overrides")
    role = models.CharField(max_length=10, choices=OnCallRole.choices, default=OnCallRole.PRIMARY)
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["schedule", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="oncall_override_ends_after_start",
                violation_error_message="An override ends after it starts.",
            )
        ]

    def __str__(self):
        return f"{self.person} covers {self.schedule} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"


# --- Escalation -----------------------------------------------------------------------------------


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class EscalationPolicy(models.Model):
    """A plan's escalation ladder: levels, what moves a ticket up, and the contacts partners see."""

    plan = models.OneToOneField(SupportPlan, on_delete=models.CASCADE, related_name="escalation_policy")
    notes = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "escalation policies"

    def __str__(self):
        return f"Escalation of {self.plan}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class EscalationLevel(models.Model):
    """One level: who it goes to (a rotation or a person), when tickets reach it, what partners read."""

    class Rule(models.TextChoices):
        ENTRY = "entry", "Takes new tickets"
        NO_RESPONSE = "no_response", "No first response after…"
        NO_RESOLUTION = "no_resolution", "Not resolved after…"
        NO_UPDATE = "no_update", "P1/P2 status update overdue"
        ON_REQUEST = "on_request", "Only by hand, a trigger or a partner's request"

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    rank = models.PositiveSmallIntegerField(help_text="1 takes new tickets; higher levels come after.")
    name = models.CharField(max_length=60, help_text="e.g. L2 senior support.")
    rule = models.CharField(max_length=20, choices=Rule.choices)
    after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Business minutes after the ticket was received."
    )
    after_factor = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Or: this many times the target (first response or resolution) of the ticket's severity.",
    )
    schedule = models.ForeignKey(
        OnCallSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="escalation_levels"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigns = models.BooleanField(
        default=True, help_text="The ticket moves to this level's person; off: they are informed only."
    )
    executive = models.BooleanField(
        default=False, help_text="Executive escalation: partners can ask for it only if their plan includes it."
    )
    published = models.BooleanField(default=True, help_text="Shown to partners in the escalation contacts.")
    contact_role = models.CharField(max_length=60, blank=True, help_text="As partners read it, e.g. Tier 2 Lead.")
    contact_name = models.CharField(
        max_length=100, blank=True, help_text="Leave empty for a rotation: the person on call now is shown."
    )
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    when_to_use = models.CharField(max_length=200, blank=True, help_text="e.g. No progress in 2× the SLA.")
    response_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="How fast this level answers, as published."
    )

    class Meta:
        ordering = ["policy", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "rank"], name="escalation_level_rank_unique"),
            models.CheckConstraint(
                condition=Q(schedule__isnull=True, person__isnull=False)
                | Q(schedule__isnull=False, person__isnull=True),
                name="escalation_level_one_target",
                violation_error_message="A level goes to an on-call schedule or to a named person: choose one.",
            ),
        ]

    def __str__(self):
        return f"{self.policy.plan}: {self.rank}. {self.name}"

    def clean(self):
        super().clean()
        timed = self.rule in (self.Rule.NO_RESPONSE, self.Rule.NO_RESOLUTION)
        if timed and (self.after_minutes is None) == (self.after_factor is None):
            raise ValidationError("Say after how long: business minutes or a multiple of the target, one of them.")
        if not timed and (self.after_minutes is not None or self.after_factor is not None):
            raise ValidationError({"rule": "Only the “no first response” and “not resolved” rules take a delay."})
        if self.rule == self.Rule.ENTRY and self.rank != 1:
            raise ValidationError({"rule": "Only level 1 takes new tickets."})


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class EscalationTrigger(models.Model):
    """A condition that sends a ticket straight to a level (seed 001's escalation triggers)."""

    class Condition(models.TextChoices):
        P1 = "p1", "Severity P1"
        P2 = "p2", "Severity P2"
        SECURITY = "security", "Security or privacy event"
        DATA_INTEGRITY = "data_integrity", "Data integrity issue"
        REOPENED_TWICE = "reopened_twice", "Reopened twice (repeated failure)"

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="triggers")
    condition = models.CharField(max_length=20, choices=Condition.choices)
    level = models.ForeignKey(EscalationLevel, on_delete=models.CASCADE, related_name="triggers")

    class Meta:
        ordering = ["policy", "condition"]
        constraints = [models.UniqueConstraint(fields=["policy", "condition"], name="escalation_trigger_unique")]

    def __str__(self):
        return f"{self.get_condition_display()} → {self.level.name}"

    def clean(self):
        super().clean()
        if self.level_id and self.policy_id and self.level.policy_id != self.policy_id:
            raise ValidationError({"level": "Choose a level of the same policy."})


class EscalationQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"


class Escalation(models.Model):
    """A ticket reaching a level: once per ticket and level, whoever (or whatever) got there first."""

    class Cause(models.TextChoices):
        ENTRY = "entry", "New ticket"
        TIMEOUT = "timeout", "Timeout"
        TRIGGER = "trigger", "Trigger"
        MANUAL = "manual", "By hand"
        PARTNER = "partner", "Partner request"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    level_name = models.CharField(max_length=60)
    cause = models.CharField(max_length=10, choices=Cause.choices)
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    routed_via = models.CharField(max_length=200, help_text="How the person was found: rotation, fallback…")
    informed_only = models.BooleanField(default=False)

    objects = EscalationQuerySet.as_manager()

    class Meta:
        ordering = ["at", "level"]
        constraints = [models.UniqueConstraint(fields=["ticket", "level"], name="escalation_once_per_level")]

    def __str__(self):
        return f"#{self.ticket_id} → {self.level_name}"


class NotificationQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(sent_at__isnull=True, send_after__lte=now)


class Notification(models.Model):
    """Mail waiting to go out: pages for P3/P4 tickets wait for business hours, P1/P2 go at once."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    send_after = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["send_after", "pk"]
        indexes = [
            models.Index(fields=["send_after"], name="notification_unsent_idx", condition=Q(sent_at__isnull=True))
        ]

    def __str__(self):
        return f"To {self.recipient}: {self.subject}"


# --- Knowledge base ---------------------------------------------------------------------------------


class ArticleQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Return the published articles `user` may read (Article.audiences_for)."""
        return self.filter(published=True, audience__in=Article.audiences_for(user))


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class ArticleCategory(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first on the knowledge base page.")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "article categories"

    def __str__(self):
        return self.name


# The view counter moves on every read: it writes no history.
@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), exclude=["views"])
class Article(models.Model):
    """A knowledge base article; the body is Markdown, rendered and sanitised on display."""

    class Audience(models.TextChoices):
        PUBLIC = "public", "Public"
        PARTNERS = "partners", "Partners"
        INTERNAL = "internal", "Internal runbook"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    category = models.ForeignKey(ArticleCategory, on_delete=models.PROTECT, related_name="articles")
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PARTNERS)
    summary = models.CharField(max_length=300, blank=True, help_text="One sentence shown in search results.")
    body = models.TextField(help_text="Markdown. HTML is sanitised; scripts never run.")
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    views = models.PositiveIntegerField(default=0, editable=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["category", "title"], name="article_category_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("kb_article", args=[self.slug])

    @classmethod
    def audiences_for(cls, user) -> list[str]:
        """Return the audiences `user` may read: public for everyone, partner articles for
        signed-in people, internal runbooks for our staff only."""
        audiences = [cls.Audience.PUBLIC]
        if user.is_authenticated:
            audiences.append(cls.Audience.PARTNERS)
            if user.is_portal_staff:
                audiences.append(cls.Audience.INTERNAL)
        return audiences


class Deflection(models.Model):
    """What a partner did with the articles suggested while filing a ticket (seed 002's deflection)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Suggestion opened"
        SOLVED = "solved", "This solved it"
        SUBMITTED = "submitted", "Ticket submitted anyway"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="deflections")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["at", "kind"], name="deflection_at_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.article or self.query}"


# --- Satisfaction and reviews ---------------------------------------------------------------------


class CsatResponseQuerySet(PartnerScopedQuerySet):
    partner_path = "ticket__partner"


class CsatResponse(models.Model):
    """The partner's rating of a resolved ticket: once per ticket."""

    LOW = 2  # a score at or below this opens a review item for the support manager

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="csat")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    objects = CsatResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["at"], name="csat_at_idx")]
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="csat_score_1_to_5")]

    def __str__(self):
        return f"#{self.ticket_id}: {self.score}/5"


class ActionItemQuerySet(PartnerScopedQuerySet):
    def open(self):
        return self.filter(closed_at__isnull=True)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class ActionItem(models.Model):
    """Something to follow up to closure: a low CSAT score's review or a monthly review's action."""

    class Source(models.TextChoices):
        LOW_CSAT = "low_csat", "Low CSAT score"
        MONTHLY_REVIEW = "monthly_review", "Monthly ops review"

    source = models.CharField(max_length=20, choices=Source.choices)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="action_items")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="action_items")
    review_month = models.DateField(null=True, blank=True, help_text="First day of the reviewed month.")
    description = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items"
    )
    due_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.TextField(blank=True, help_text="What was done: required to close.")

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["closed_at", "due_on", "created_at"]
        indexes = [models.Index(fields=["partner", "review_month"], name="action_item_review_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=Q(source="low_csat"), name="action_item_one_review_per_ticket"
            )
        ]

    def __str__(self):
        return self.description[:60]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


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
