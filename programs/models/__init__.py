"""People, partners and metrics, one module per area; imported here so Django and callers find them as `programs.models`."""

from .metrics import Certification, CertificationQuerySet, Metric, MetricImport, MetricValue, MetricValueQuerySet
from .partners import (
    ApiToken,
    ApiTokenQuerySet,
    Invitation,
    InvitationQuerySet,
    Membership,
    MembershipQuerySet,
    Motion,
    Partner,
    PartnerMotion,
    PartnerQuerySet,
    PartnerScopedQuerySet,
    hash_token,
    validate_time_zone,
)
from .people import SUPPORT_ROLES, TWO_FACTOR_AUDIT, AuthenticatorApp, RecoveryCodes, StaffRole, User, UserManager

__all__ = [
    "SUPPORT_ROLES",
    "TWO_FACTOR_AUDIT",
    "ApiToken",
    "ApiTokenQuerySet",
    "AuthenticatorApp",
    "Certification",
    "CertificationQuerySet",
    "Invitation",
    "InvitationQuerySet",
    "Membership",
    "MembershipQuerySet",
    "Metric",
    "MetricImport",
    "MetricValue",
    "MetricValueQuerySet",
    "Motion",
    "Partner",
    "PartnerMotion",
    "PartnerQuerySet",
    "PartnerScopedQuerySet",
    "RecoveryCodes",
    "StaffRole",
    "User",
    "UserManager",
    "hash_token",
    "validate_time_zone",
]
