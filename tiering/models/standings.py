"""Where each partner stands on each ladder, the history of tier changes, and downgrade conversations."""

import datetime as dt

import pghistory
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Partner, PartnerScopedQuerySet

from .ladders import Ladder, Tier

# How long a partner who would drop keeps its tier and benefits.
GRANDFATHERING = relativedelta(months=3)


class StandingQuerySet(PartnerScopedQuerySet):
    def pending_downgrade(self):
        return self.filter(grandfathered_until__isnull=False)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Standing(models.Model):
    """Where a partner sits on a ladder now, and a pending drop with its grandfathering date."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="standings")
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="standings")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="standings")
    since = models.DateField()
    # A pending drop: the partner keeps `tier` and its benefits until `grandfathered_until`, and the
    # drop to `pending_tier` (none: off the ladder) applies only once a downgrade conversation is on record.
    grandfathered_until = models.DateField(null=True, blank=True)
    pending_since = models.DateField(null=True, blank=True, help_text="The day of the re-tier that decided the drop.")
    pending_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pending_run = models.ForeignKey(
        "RetierRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    exit_candidate = models.BooleanField(
        default=False, help_text="Qualifies for no tier, or failed the 4C gate: a case for a graceful exit."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = StandingQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "ladder"]
        constraints = [models.UniqueConstraint(fields=["partner", "ladder"], name="standing_once_per_ladder")]
        indexes = [
            models.Index(
                fields=["grandfathered_until"],
                name="standing_pending_idx",
                condition=Q(grandfathered_until__isnull=False),
            )
        ]

    def __str__(self):
        return f"{self.partner} · {self.tier.name if self.tier else 'no tier'} ({self.ladder.motion.name})"

    @property
    def has_pending_drop(self) -> bool:
        return self.grandfathered_until is not None

    def is_grandfathered(self, on: dt.date) -> bool:
        """Return True while the partner keeps a tier it no longer qualifies for."""
        return self.grandfathered_until is not None and on <= self.grandfathered_until


class TierChangeQuerySet(PartnerScopedQuerySet):
    pass


class TierChange(models.Model):
    """A partner's move on a ladder: from, to, why, on which run, effective when."""

    class Kind(models.TextChoices):
        ENTRY = "entry", "Joined the ladder"
        UPGRADE = "upgrade", "Upgrade"
        DOWNGRADE = "downgrade", "Downgrade"
        EXIT = "exit", "Left the ladder"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="tier_changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("RetierRun", null=True, blank=True, on_delete=models.PROTECT, related_name="changes")
    reason = models.TextField()
    effective_on = models.DateField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TierChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_on", "-pk"]
        indexes = [models.Index(fields=["partner", "ladder", "-effective_on"], name="tier_change_partner_idx")]

    def __str__(self):
        return f"{self.partner}: {self.from_tier or '—'} → {self.to_tier or '—'} on {self.effective_on}"


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class DowngradeConversation(models.Model):
    """The recorded conversation without which a downgrade never applies: nobody drops without being told why."""

    standing = models.ForeignKey(Standing, on_delete=models.CASCADE, related_name="conversations")
    held_on = models.DateField()
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    partner_contact = models.CharField(max_length=150, help_text="Who we spoke to at the partner.")
    notes = models.TextField(help_text="What was said: criteria, where they stand, what would put them back.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"Downgrade conversation with {self.standing.partner} on {self.held_on}"
