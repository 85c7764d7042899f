"""Program notices: what changed in the program for a partner, on its home page and by mail."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from programs.models import Partner, PartnerScopedQuerySet


class NoticeKind(models.TextChoices):
    POLICY_PUBLISHED = "policy_published", "New tier criteria are published"
    AT_RISK = "at_risk", "A tier is at risk at the next re-tier"
    TIER_CHANGED = "tier_changed", "A re-tier or a drop moves a tier"
    DROP_PENDING = "drop_pending", "A drop waits out its grandfathering"
    CLAIM_EXPIRING = "claim_expiring", "An account claim is released in 7 days"
    CLAIM_RELEASED = "claim_released", "An account claim is released"


class NoticeQuerySet(PartnerScopedQuerySet):
    pass


class Notice(models.Model):
    """One thing the program tells a partner, once (its key), shown to its people and mailed to those who want it."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    key = models.CharField(max_length=120, help_text="What it reports: a partner is told each thing once.")
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=200, help_text="The portal page that shows more, as a path.")
    created_at = models.DateTimeField()
    mailed_at = models.DateTimeField(null=True, blank=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="notice_once_per_partner")]
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="notice_partner_latest"),
            models.Index(fields=["created_at"], name="notice_to_mail", condition=Q(mailed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.title}"


class NoticePreference(models.Model):
    """A person's choice to get a kind of notice by mail or not; without one, admins get all and members none."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_preferences")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    mail = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notice_preference_once")]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} {'by mail' if self.mail else 'not mailed'}"
