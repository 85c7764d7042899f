"""Partners, their motions, memberships, invitations and API tokens, and the partner-scoped querysets."""

import hashlib
import zoneinfo
from datetime import datetime

import pghistory
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField

from .people import User


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone such as Europe/Berlin.")


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Motion(models.Model):
    """A way of going to market with us: resale, services, technology, and any the program adds."""

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PartnerQuerySet(models.QuerySet):
    def for_user(self, user):
        """Return the partners `user` may see: all for staff, their own for a partner user."""
        if not user.is_authenticated:
            return self.none()
        if user.is_portal_staff:
            return self
        return self.filter(memberships__user=user)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Partner(models.Model):
    """An organisation in the program: a reseller, a services firm or a technology vendor."""

    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        EXITED = "exited", "Exited"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    country = CountryField()
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    partner_manager = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_partners",
        limit_choices_to={"is_staff": True},
        help_text="Our channel/partner manager for this organisation.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    motions = models.ManyToManyField(Motion, through="PartnerMotion", related_name="partners", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class PartnerMotion(models.Model):
    """A partner's participation in one motion, since a date."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="partner_motions")
    motion = models.ForeignKey(Motion, on_delete=models.PROTECT, related_name="partner_motions")
    joined_on = models.DateField(default=timezone.localdate)

    class Meta:
        ordering = ["motion__name"]
        constraints = [models.UniqueConstraint(fields=["partner", "motion"], name="partner_motion_unique")]

    def __str__(self):
        return f"{self.partner} in {self.motion}"


class PartnerScopedQuerySet(models.QuerySet):
    """Scoping shared by every record that belongs to one partner.

    Subclasses name the path to the partner in `partner_path`. Pages and the API start every
    partner-facing query here, so another partner's rows are never fetched at all.
    """

    partner_path = "partner"

    def for_user(self, user):
        """Return the rows `user` may see: all for staff, their partner's for a partner user."""
        if not user.is_authenticated:
            return self.none()
        if user.is_portal_staff:
            return self
        partner = user.partner
        if partner is None:
            return self.none()
        return self.filter(**{self.partner_path: partner})


class MembershipQuerySet(PartnerScopedQuerySet):
    pass


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Membership(models.Model):
    """A person working for a partner, with their role in the portal. One partner per person."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Partner admin"
        MEMBER = "member", "Partner member"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    is_support_contact = models.BooleanField(
        default=False, help_text="Designated to raise and follow support tickets for the partner's customers."
    )
    joined_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["partner__name", "user__email"]
        indexes = [models.Index(fields=["partner", "role"])]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) at {self.partner}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


def hash_token(token: str) -> str:
    """Return the stored form of an invitation token: only its SHA-256 is kept."""
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(PartnerScopedQuerySet):
    def pending(self, now: datetime | None = None):
        now = now or timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class Invitation(models.Model):
    """An invitation from a partner admin to a colleague to join the partner's portal."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "partner",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.partner}"

    def is_usable(self, now: datetime) -> bool:
        """Return True while the invitation can still be accepted."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


# last_used_at moves with use (at most once a minute): it writes no history.
@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), exclude=["last_used_at"])
class ApiToken(models.Model):
    """A personal token for the REST API, acting as its user. Only the token's SHA-256 is kept."""

    PREFIX = "pp_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “ServiceNow sync”.")
    prefix = models.CharField(max_length=12, editable=False, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "user", "name", condition=models.Q(revoked_at__isnull=True), name="api_token_name_unique_while_active"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
