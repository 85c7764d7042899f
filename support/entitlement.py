"""Which support plan a partner's tiers entitle it to."""

from programs.models import Partner
from support.models import SupportPlan


def plan_entitlement(partner: Partner):
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
    return (standing.tier.support_plan, standing) if standing else (None, None)


def plan_for_partner(partner: Partner) -> SupportPlan | None:
    """Return the support plan the partner's tiers entitle it to, or None."""
    return plan_entitlement(partner)[0]
