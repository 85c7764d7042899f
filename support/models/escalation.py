"""On-call rotations, escalation policies and the escalations and notifications they produce."""

from datetime import datetime

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import PartnerScopedQuerySet, validate_time_zone

from .plans import SupportPlan
from .tickets import Ticket


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
    """A condition that sends a ticket straight to a level (Sev 1/2, security or privacy, data integrity, repeated reopens)."""

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


class NotificationQuerySet(models.QuerySet["Notification"]):
    def due(self, now: datetime) -> "NotificationQuerySet":
        return self.filter(sent_at__isnull=True, send_after__lte=now)


class Notification(models.Model):
    """Mail waiting to go out: pages for P3/P4 tickets wait for business hours, P1/P2 go at once."""

    class Kind(models.TextChoices):
        MESSAGE = "", "Message"
        CSAT_INVITATION = "csat_invitation", "Rating invitation"

    # Only what a later step looks for has a kind: the rating invitation goes out once per ticket.
    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True, default="", db_default="")
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
