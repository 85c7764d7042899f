"""Support plans: severities, business calendars (support hours), plans and their SLA targets."""

import datetime as dt

import pghistory
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from programs.models import validate_time_zone
from support.rules import businesstime


class Severity(models.TextChoices):
    """Ticket severities, P1 (critical) to P4 (low); SEVERITY_GUIDE says what each means."""

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
class TierSupportPlan(models.Model):
    """The support plan a tier entitles its partners to; a partner gets the best plan of the tiers it holds.

    Kept on the support side: tiering knows nothing of support, support knows which tiers it serves.
    """

    tier = models.OneToOneField("tiering.Tier", on_delete=models.CASCADE, related_name="support_plan_entitlement")
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="tier_entitlements")

    class Meta:
        verbose_name = "tier entitled to this plan"
        verbose_name_plural = "tiers entitled to this plan"

    def __str__(self):
        return f"{self.tier} → {self.plan}"


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
