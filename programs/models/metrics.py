"""Metrics partners are measured on: definitions, recorded values, their imports, certifications."""

from decimal import Decimal

import pghistory
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .partners import Partner, PartnerScopedQuerySet


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Metric(models.Model):
    """A measurable partner metric (ARR sourced, active sellers, CSAT %, …) and how a window aggregates it."""

    class Unit(models.TextChoices):
        CURRENCY = "currency", "Amount (USD)"
        COUNT = "count", "Count"
        PERCENT = "percent", "Percent"
        BOOLEAN = "boolean", "Yes / no"

    class Aggregation(models.TextChoices):
        SUM = "sum", "Sum of the values recorded in the window"
        LATEST = "latest", "Latest value recorded in the window"
        AVERAGE = "average", "Average of the values recorded in the window"
        COUNT = "count", "Number of values recorded in the window"
        BOOLEAN = "boolean", "Yes when the latest value recorded in the window is yes"
        CERTIFICATIONS = "certifications", "Certifications valid on the day of the evaluation"

    key = models.SlugField(max_length=60, unique=True, help_text="Used in CSV imports, e.g. arr_sourced.")
    name = models.CharField(max_length=100, unique=True)
    unit = models.CharField(max_length=10, choices=Unit.choices)
    aggregation = models.CharField(max_length=20, choices=Aggregation.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(unit="boolean") | models.Q(aggregation="boolean"),
                name="metric_boolean_unit_aggregates_as_boolean",
                violation_error_message="A yes/no metric aggregates as “yes when the latest value is yes”.",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def from_certifications(self) -> bool:
        return self.aggregation == self.Aggregation.CERTIFICATIONS

    def validate_value(self, value: Decimal) -> None:
        """Raise ValidationError when `value` (a Decimal) cannot be a value of this metric."""
        if value < 0:
            raise ValidationError(f"{self.name} cannot be negative.")
        if self.unit == self.Unit.BOOLEAN and value not in (0, 1):
            raise ValidationError(f"{self.name} is yes/no: use 1 for yes and 0 for no.")
        if self.unit == self.Unit.PERCENT and value > 100:
            raise ValidationError(f"{self.name} is a percentage: use a number from 0 to 100.")
        if self.unit == self.Unit.COUNT and value != value.to_integral_value():
            raise ValidationError(f"{self.name} is a count: use a whole number.")


class MetricImport(models.Model):
    """One CSV file of metric values, imported whole or not at all."""

    file_name = models.CharField(max_length=200)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self):
        return f"{self.file_name} ({self.row_count} rows, {self.imported_at:%Y-%m-%d})"


class MetricValueQuerySet(PartnerScopedQuerySet):
    pass


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class MetricValue(models.Model):
    """A partner's value of a metric on a day, with where it came from."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="metric_values")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="values")
    recorded_on = models.DateField()
    value = models.DecimalField(max_digits=16, decimal_places=2)
    source = models.CharField(max_length=200, help_text="Where the figure comes from: CRM export, survey, manual…")
    metric_import = models.ForeignKey(
        MetricImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="metric_values"
    )

    objects = MetricValueQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "metric", "-recorded_on"]
        constraints = [
            # One value per partner, metric and day: re-importing a corrected file replaces it.
            models.UniqueConstraint(fields=["partner", "metric", "recorded_on"], name="metric_value_once_a_day")
        ]
        indexes = [models.Index(fields=["metric", "recorded_on", "partner"], name="metric_value_window_idx")]

    def __str__(self):
        return f"{self.partner} {self.metric} {self.recorded_on}: {self.value}"

    def clean(self):
        super().clean()
        if self.metric_id and self.value is not None:
            if self.metric.from_certifications:
                raise ValidationError({"metric": f"{self.metric} is counted from certifications: add a certification."})
            try:
                self.metric.validate_value(self.value)
            except ValidationError as error:
                raise ValidationError({"value": error.messages}) from error


class CertificationQuerySet(PartnerScopedQuerySet):
    def valid_on(self, day):
        """Return the certifications that count on `day`: earned by then and not yet expired."""
        return self.filter(earned_on__lte=day).filter(models.Q(expires_on__isnull=True) | models.Q(expires_on__gt=day))


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Certification(models.Model):
    """A certification held by someone at a partner; it stops counting on its expiry date."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="certifications")
    metric = models.ForeignKey(
        Metric,
        on_delete=models.PROTECT,
        related_name="certifications",
        limit_choices_to={"aggregation": Metric.Aggregation.CERTIFICATIONS},
        help_text="The metric this certification counts towards, e.g. sales certifications.",
    )
    name = models.CharField(max_length=150, help_text="e.g. Certified Sales Professional, Healthcare specialist.")
    holder = models.CharField(max_length=150, blank=True, help_text="The person who holds it.")
    earned_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True, help_text="The first day it no longer counts.")

    objects = CertificationQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "metric", "-earned_on"]
        indexes = [models.Index(fields=["metric", "earned_on"], name="certification_metric_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True) | models.Q(expires_on__gt=models.F("earned_on")),
                name="certification_expires_after_earned",
                violation_error_message="A certification expires after the day it was earned.",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.holder or self.partner})"

    def is_valid_on(self, day) -> bool:
        """Return True when the certification counts on `day`."""
        return self.earned_on <= day and (self.expires_on is None or day < self.expires_on)

    def clean(self):
        super().clean()
        if self.metric_id and not self.metric.from_certifications:
            raise ValidationError({"metric": f"{self.metric} is not counted from certifications."})
