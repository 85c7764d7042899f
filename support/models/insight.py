"""Satisfaction ratings and the action items of reviews."""

import pghistory
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Partner, PartnerScopedQuerySet

from .tickets import Ticket


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


class QuarterFigures(models.Model):
    """A partner's support figures for the calendar quarter starting at `quarter_start`, as of `computed_at`.

    The partner's ticket list shows them ("your support this quarter"): aggregating every ticket of
    the quarter on each view grew with the partner's volume (about a second at 100,000 tickets),
    so a periodic task stores them and the page reads one row. Derived data, not audited.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    quarter_start = models.DateTimeField()
    figures = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "quarter_start"], name="quarter_figures_once")]

    def __str__(self):
        return f"{self.partner_id} from {self.quarter_start:%Y-%m-%d}"
