"""Program manager tools: ladders, tiers, policies, benefits, re-tier runs, standings and claims.

Every change with side effects goes through a service function (`tiering.policies`, `.retier`,
`.downgrades`, `.claims`); the admin reports refusals with `message_user` or as form errors, and
never changes a standing itself. It also adds the partner's tiers to the Partner admin page.
"""

from .claims import AccountClaimAdmin
from .ladders import BenefitAdmin, LadderAdmin, MdfCriterionAdmin, TierAdmin
from .policies import PolicyAdmin
from .runs import PartnerWithTiersAdmin, RetierResultAdmin, RetierRunAdmin
from .standings import DowngradeConversationAdmin, QualificationCheckAdmin, StandingAdmin, TierChangeAdmin

__all__ = [
    "AccountClaimAdmin",
    "BenefitAdmin",
    "DowngradeConversationAdmin",
    "LadderAdmin",
    "MdfCriterionAdmin",
    "PartnerWithTiersAdmin",
    "PolicyAdmin",
    "QualificationCheckAdmin",
    "RetierResultAdmin",
    "RetierRunAdmin",
    "StandingAdmin",
    "TierAdmin",
    "TierChangeAdmin",
]
