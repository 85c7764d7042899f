"""Staff roles, people (the user model) and their second factors."""

from typing import TYPE_CHECKING, Any

import pghistory
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

if TYPE_CHECKING:
    from .partners import Membership, Partner


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
        from .partners import Membership  # partners.py imports this module for its foreign keys

        return Membership.objects.select_related("partner").filter(user=self).first()

    @property
    def partner(self) -> "Partner | None":
        return self.membership.partner if self.membership else None


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
