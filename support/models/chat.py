"""Staff chat: incoming-webhook channels (Slack, Mattermost, Rocket.Chat, Microsoft Teams) and the
alerts queued for them when P1/P2 tickets escalate or breach."""

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from partnerportal.webhooks import UnsafeURL, check_url

from .escalation import EscalationLevel, OnCallSchedule
from .plans import Severity
from .tickets import Ticket


def default_severities() -> list[str]:
    return [Severity.P1, Severity.P2]


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), exclude=["url"])
class ChatChannel(models.Model):
    """A chat room that hears about urgent tickets: its incoming-webhook URL and what it is told."""

    class Flavour(models.TextChoices):
        SLACK = "slack", "Slack, Mattermost or Rocket.Chat (incoming webhook)"
        TEAMS = "teams", "Microsoft Teams (Workflows webhook, Adaptive Card)"

    name = models.CharField(max_length=100, unique=True, help_text="e.g. #support-p1 or Support leads.")
    flavour = models.CharField(max_length=10, choices=Flavour.choices, default=Flavour.SLACK)
    url = models.URLField(
        "webhook URL",
        max_length=2000,
        help_text="The room's incoming-webhook address. It is a secret: anyone holding it can post to the room.",
    )
    severities = models.JSONField(default=default_severities, help_text="Tickets of these severities are posted.")
    on_escalation = models.BooleanField(default=True, help_text="Post when a ticket reaches a level.")
    on_breach = models.BooleanField(default=True, help_text="Post when a ticket misses an SLA deadline.")
    levels = models.ManyToManyField(
        EscalationLevel,
        blank=True,
        related_name="chat_channels",
        help_text="Only tickets at these escalation levels. Leave this and the schedules empty for every level.",
    )
    schedules = models.ManyToManyField(
        OnCallSchedule,
        blank=True,
        related_name="chat_channels",
        help_text="Or: tickets at a level that pages through one of these on-call schedules.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.url:
            try:
                check_url(self.url, allowed_hosts=settings.WEBHOOK_ALLOWED_HOSTS)
            except UnsafeURL as error:
                raise ValidationError({"url": str(error)}) from None
        if not isinstance(self.severities, list) or not self.severities:
            raise ValidationError({"severities": "Pick at least one severity."})
        unknown = sorted(set(map(str, self.severities)) - set(Severity.values))
        if unknown:
            raise ValidationError({"severities": f"Unknown severity: {', '.join(unknown)}."})


class ChatAlert(models.Model):
    """One message to one channel, kept until the room accepted it (or it was given up)."""

    class Kind(models.TextChoices):
        ESCALATION = "escalation", "Escalation"
        BREACH = "breach", "SLA breach"
        TEST = "test", "Test message"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(ChatChannel, on_delete=models.CASCADE, related_name="alerts")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=80, help_text="What it reports (ticket, level or target): posted once each.")
    text = models.TextField(help_text="The message as people read it.")
    payload = models.JSONField(help_text="The JSON posted, in the channel's flavour.")
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="chat_alert_once_per_channel")]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], name="chat_alert_due", condition=Q(state="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.text[:60]}"
