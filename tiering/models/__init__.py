"""Ladders, tiers, versioned criteria policies, benefits, standings and re-tier runs.

A partner runs one or more motions; each motion has one ladder of ordered tiers. What it takes to
reach a tier is a versioned policy of criteria (metric thresholds over a measurement window);
where a partner sits is its standing; every re-tier run stores each partner's result with its
attribution, and every tier change is kept as history.
"""

from .claims import EXCLUSIVITY_DAYS, AccountClaim, AccountClaimQuerySet, Engagement, EngagementQuerySet
from .ladders import METAL_NAMES, Benefit, Ladder, Tier, TierBenefit
from .notices import Notice, NoticeKind, NoticePreference, NoticeQuerySet
from .policies import (
    POLICY_NOTICE_DAYS,
    Criterion,
    MdfCriterion,
    Policy,
    PolicyQuerySet,
    QualificationCheck,
    Window,
    notice_error,
    window_bounds,
)
from .runs import RetierResult, RetierRun, RetierRunQuerySet
from .standings import GRANDFATHERING, DowngradeConversation, Standing, StandingQuerySet, TierChange, TierChangeQuerySet

__all__ = [
    "EXCLUSIVITY_DAYS",
    "GRANDFATHERING",
    "METAL_NAMES",
    "POLICY_NOTICE_DAYS",
    "AccountClaim",
    "AccountClaimQuerySet",
    "Benefit",
    "Criterion",
    "DowngradeConversation",
    "Engagement",
    "EngagementQuerySet",
    "Ladder",
    "MdfCriterion",
    "Notice",
    "NoticeKind",
    "NoticePreference",
    "NoticeQuerySet",
    "Policy",
    "PolicyQuerySet",
    "QualificationCheck",
    "RetierResult",
    "RetierRun",
    "RetierRunQuerySet",
    "Standing",
    "StandingQuerySet",
    "Tier",
    "TierBenefit",
    "TierChange",
    "TierChangeQuerySet",
    "Window",
    "notice_error",
    "window_bounds",
]
