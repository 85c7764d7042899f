import hashlib
import zoneinfo
from datetime import datetime

import pghistory
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django_countries.fields import CountryField


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone such as Europe/Berlin.")


class StaffRole(models.TextChoices):
    """The provider's own people; each role is a Group of the same label with its permissions."""

    SUPPORT_L1 = "support_l1", "Support L1"
    SUPPORT_L2 = "support_l2", "Support L2"
    ENGINEERING = "engineering", "Engineering (L3)"
    SUPPORT_MANAGER = "support_manager", "Support manager"
    PROGRAM_MANAGER = "program_manager", "Program manager"


SUPPORT_ROLES = frozenset(
    {StaffRole.SUPPORT_L1, StaffRole.SUPPORT_L2, StaffRole.ENGINEERING, StaffRole.SUPPORT_MANAGER}
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra_fields)


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["password", "last_login"],
)
class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address: a partner's employee or one of our staff."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        "admin access", default=False, help_text="Can sign in to the Django admin (program and support managers)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @cached_property
    def staff_roles(self) -> frozenset:
        """Return the staff roles this user holds (through groups named after the roles)."""
        labels = {role.label: role for role in StaffRole}
        return frozenset(labels[name] for name in self.groups.values_list("name", flat=True) if name in labels)

    def has_staff_role(self, *roles) -> bool:
        """Return True when the user holds any of `roles`; superusers hold them all."""
        return self.is_superuser or bool(self.staff_roles.intersection(roles))

    @property
    def is_portal_staff(self) -> bool:
        return self.is_superuser or bool(self.staff_roles)

    @cached_property
    def membership(self):
        """Return the user's membership of a partner, or None for staff and removed people."""
        return Membership.objects.select_related("partner").filter(user=self).first()

    @property
    def partner(self):
        return self.membership.partner if self.membership else None


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
