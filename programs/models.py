import hashlib
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any

import pghistory
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django_countries.fields import CountryField
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


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

    def with_staff_role(self, role: "StaffRole"):
        """Return the active people holding `role` (through its group)."""
        return self.filter(is_active=True, groups__name=role.label)

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

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @cached_property
    def staff_roles(self) -> frozenset["StaffRole"]:
        """Return the staff roles this user holds (through groups named after the roles)."""
        labels = {role.label: role for role in StaffRole}
        return frozenset(labels[name] for name in self.groups.values_list("name", flat=True) if name in labels)

    def has_staff_role(self, *roles: "StaffRole") -> bool:
        """Return True when the user holds any of `roles`; superusers hold them all."""
        return self.is_superuser or bool(self.staff_roles.intersection(roles))

    @property
    def is_portal_staff(self) -> bool:
        return self.is_superuser or bool(self.staff_roles)

    @property
    def is_support_staff(self) -> bool:
        """Return True for the people who work tickets: support L1, L2, engineering, support management."""
        return self.has_staff_role(*SUPPORT_ROLES)

    @cached_property
    def membership(self) -> "Membership | None":
        """Return the user's membership of a partner, or None for staff and removed people."""
        return Membership.objects.select_related("partner").filter(user=self).first()

    @property
    def partner(self) -> "Partner | None":
        return self.membership.partner if self.membership else None


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


# Two-factor devices are django-otp's models: their audit trail is kept here, through proxies (so
# the triggers' migrations are ours). Only who, which and whether confirmed are copied: never the
# secret key, nor the counters every sign-in moves.
TWO_FACTOR_AUDIT: dict[str, Any] = {
    "fields": ["user", "name", "confirmed"],
    "obj_field": pghistory.ObjForeignKey(db_constraint=False),
}


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    model_name="AuthenticatorAppEvent",
    **TWO_FACTOR_AUDIT,
)
class AuthenticatorApp(TOTPDevice):
    class Meta:
        proxy = True


@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    model_name="RecoveryCodesEvent",
    **TWO_FACTOR_AUDIT,
)
class RecoveryCodes(StaticDevice):
    class Meta:
        proxy = True
