"""Versioned criteria policies, their measurement windows, the public MDF criteria and the 4C check."""

import datetime as dt

import pghistory
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Metric, Motion, Partner

from ..evaluation import format_value
from .ladders import Ladder, Tier

# The minimum notice between publishing criteria and their taking effect: partners get a quarter to adapt.
POLICY_NOTICE_DAYS = 90


class PolicyQuerySet(models.QuerySet):
    def announced(self) -> "PolicyQuerySet":
        """Return policies that were published (in force, upcoming or retired): never drafts."""
        return self.exclude(status=Policy.Status.DRAFT)

    def in_force_on(self, ladder, day: dt.date):
        """Return the policy of `ladder` in force on `day`, or None."""
        return self.announced().filter(ladder=ladder, effective_from__lte=day).order_by("-effective_from").first()

    def upcoming(self, ladder, day: dt.date):
        """Return the next published policy of `ladder` that takes effect after `day`, or None."""
        return self.announced().filter(ladder=ladder, effective_from__gt=day).order_by("effective_from").first()


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Policy(models.Model):
    """A version of a ladder's criteria: draft → published → effective → retired."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published (upcoming)"
        EFFECTIVE = "effective", "Effective"
        RETIRED = "retired", "Retired"

    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="policies")
    version = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)
    summary = models.TextField(blank=True, help_text="What changes in this version, in a sentence or two.")
    effective_from = models.DateField(
        null=True, blank=True, help_text=f"At least {POLICY_NOTICE_DAYS} days after the day it is published."
    )
    published_on = models.DateField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    retired_on = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["ladder", "-version"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(fields=["ladder", "version"], name="policy_version_unique"),
            models.UniqueConstraint(
                fields=["ladder", "effective_from"],
                condition=~Q(status="draft"),
                name="policy_one_per_effective_date",
                violation_error_message="Another published policy of this ladder takes effect on that day.",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_on__isnull=False, effective_from__isnull=False),
                name="policy_published_has_dates",
            ),
        ]

    def __str__(self):
        return f"{self.ladder} criteria v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def clean(self):
        super().clean()
        if not self.is_draft and self.effective_from and self.published_on:
            earliest = self.published_on + dt.timedelta(days=POLICY_NOTICE_DAYS)
            if self.effective_from < earliest:
                raise ValidationError(
                    {"effective_from": notice_error(self.published_on)},
                )


def notice_error(published_on: dt.date) -> str:
    earliest = published_on + dt.timedelta(days=POLICY_NOTICE_DAYS)
    return (
        f"Criteria take effect at least {POLICY_NOTICE_DAYS} days after they are published: published on "
        f"{published_on:%d %b %Y}, the earliest date is {earliest:%d %b %Y}."
    )


class Window(models.TextChoices):
    """Measurement windows, all ending on the day of the evaluation; lifetime achievement never counts."""

    TRAILING_12_MONTHS = "trailing_12m", "Last 12 months"
    CALENDAR_YEAR = "calendar_year", "Calendar year to date"
    PREVIOUS_CALENDAR_YEAR = "previous_year", "Previous calendar year"
    TRAILING_QUARTER = "trailing_3m", "Last 3 months"


def window_bounds(window: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day (inclusive) of `window` for an evaluation on `as_of`."""
    if window == Window.TRAILING_12_MONTHS:
        return as_of - relativedelta(years=1) + dt.timedelta(days=1), as_of
    if window == Window.TRAILING_QUARTER:
        return as_of - relativedelta(months=3) + dt.timedelta(days=1), as_of
    if window == Window.CALENDAR_YEAR:
        return dt.date(as_of.year, 1, 1), as_of
    if window == Window.PREVIOUS_CALENDAR_YEAR:
        return dt.date(as_of.year - 1, 1, 1), dt.date(as_of.year - 1, 12, 31)
    raise ValueError(f"Unknown window {window!r}")


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Criterion(models.Model):
    """A threshold a partner must reach on a metric over a window to hold a tier under a policy."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="criteria")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="criteria")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="criteria")
    threshold = models.DecimalField(max_digits=16, decimal_places=2, help_text="At least this value passes.")
    window = models.CharField(max_length=20, choices=Window.choices, default=Window.TRAILING_12_MONTHS)

    class Meta:
        ordering = ["policy", "tier__rank", "pk"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(fields=["policy", "tier", "metric"], name="criterion_once_per_tier"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="criterion_threshold_not_negative"),
        ]

    def __str__(self):
        return f"{self.tier.name}: {self.metric} ≥ {format_value(self.threshold, self.metric.unit)}"

    def clean(self):
        super().clean()
        if self.policy_id and self.tier_id and self.tier.ladder_id != self.policy.ladder_id:
            raise ValidationError({"tier": "Choose a tier of the policy's own ladder."})
        if self.metric_id and self.threshold is not None:
            try:
                self.metric.validate_value(self.threshold)
            except ValidationError as error:
                raise ValidationError({"threshold": error.messages}) from error


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class MdfCriterion(models.Model):
    """A published criterion for Market Development Funds, open to any partner who meets it, any tier."""

    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="mdf_criteria")
    threshold = models.DecimalField(max_digits=16, decimal_places=2)
    window = models.CharField(max_length=20, choices=Window.choices, default=Window.TRAILING_12_MONTHS)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["metric__name"]
        verbose_name = "MDF criterion"
        verbose_name_plural = "MDF criteria"
        constraints = [
            models.UniqueConstraint(fields=["metric"], name="mdf_criterion_once_per_metric"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="mdf_threshold_not_negative"),
        ]

    def __str__(self):
        return f"MDF: {self.metric} ≥ {format_value(self.threshold, self.metric.unit)}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class QualificationCheck(models.Model):
    """The 4C gate (customer base, credibility, capability, commitment) for a partner in a motion."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="qualification_checks")
    motion = models.ForeignKey(Motion, on_delete=models.PROTECT, related_name="qualification_checks")
    assessed_on = models.DateField(default=timezone.localdate)
    customer_base = models.BooleanField(help_text="Their customers overlap our ideal customer profile.")
    credibility = models.BooleanField(help_text="References and standing in the market.")
    capability = models.BooleanField(help_text="Active sellers / consultants / engineers who can deliver.")
    commitment = models.BooleanField(help_text="Commercial mechanics and investment that line up with ours.")
    notes = models.TextField(blank=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["partner", "motion", "-assessed_on"]
        verbose_name = "qualification check (4C)"
        verbose_name_plural = "qualification checks (4C)"
        indexes = [models.Index(fields=["motion", "partner", "-assessed_on"], name="qualification_latest_idx")]

    def __str__(self):
        return f"4C of {self.partner} in {self.motion} on {self.assessed_on}"

    @property
    def passed(self) -> bool:
        return self.customer_base and self.credibility and self.capability and self.commitment
