"""Named-account claims (time-boxed exclusivity) and the engagements that keep them."""

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from programs.models import Partner, PartnerScopedQuerySet

# How long a named-account claim gives a partner exclusivity: the offsetting rule of this costly benefit.
EXCLUSIVITY_DAYS = 90


class AccountClaimQuerySet(PartnerScopedQuerySet):
    def held(self) -> "AccountClaimQuerySet":
        return self.filter(released_at__isnull=True)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class AccountClaim(models.Model):
    """Named-account exclusivity: one partner holds an account for at most 90 days."""

    class Release(models.TextChoices):
        EXPIRED = "expired", "90 days are over"
        NO_ENGAGEMENT = "no_engagement", "No engagement logged"
        WITHDRAWN = "withdrawn", "Withdrawn by the partner"
        PROGRAM = "program", "Released by the program"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="account_claims")
    account_name = models.CharField(max_length=200)
    account_key = models.CharField(max_length=200, editable=False, help_text="The name, case- and space-folded.")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=20, choices=Release.choices, blank=True)

    objects = AccountClaimQuerySet.as_manager()

    class Meta:
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account_key"],
                condition=Q(released_at__isnull=True),
                name="account_held_by_one_partner",
                violation_error_message="Another partner holds this account.",
            )
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="claim_held_expiry_idx", condition=Q(released_at__isnull=True))
        ]

    def __str__(self):
        return f"{self.account_name} ({self.partner})"

    @property
    def is_held(self) -> bool:
        return self.released_at is None


class EngagementQuerySet(PartnerScopedQuerySet):
    partner_path = "claim__partner"


class Engagement(models.Model):
    """Work logged on a claimed account (a meeting, a proposal…): what keeps a claim alive."""

    claim = models.ForeignKey(AccountClaim, on_delete=models.CASCADE, related_name="engagements")
    logged_at = models.DateTimeField(default=timezone.now)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500)

    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["-logged_at"]

    def __str__(self):
        return f"{self.claim.account_name}: {self.note[:40]}"
