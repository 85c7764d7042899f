"""Which support plan a partner's tiers entitle it to."""

from typing import TYPE_CHECKING

from programs.models import Partner
from support.models import SupportPlan

if TYPE_CHECKING:
    from tiering.models import Standing


def plan_entitlement(partner: Partner) -> tuple[SupportPlan | None, "Standing | None"]:
    """Return the support plan the partner's tiers entitle it to (the best of its standings) and that standing.

    A grandfathered tier still counts: the partner keeps its tier's benefits until the drop applies.
    """
    from tiering.models import Standing

    standing = (
        Standing.objects.filter(partner=partner, tier__support_plan__isnull=False)
        .select_related("tier__support_plan__calendar", "ladder__motion")
        .order_by("-tier__support_plan__rank", "tier__support_plan__name")
        .first()
    )
    if standing is None:
        return None, None
    assert standing.tier is not None  # filtered on the tier's plan above
    return standing.tier.support_plan, standing


def plan_for_partner(partner: Partner) -> SupportPlan | None:
    """Return the support plan the partner's tiers entitle it to, or None."""
    return plan_entitlement(partner)[0]
