"""Which support plan a partner's tiers entitle it to."""

from collections.abc import Sequence

from programs.models import Partner
from support.models import SupportPlan, TierSupportPlan
from tiering.entitlements import Entitlement
from tiering.models import Standing, Tier


def plan_entitlement(partner: Partner) -> tuple[SupportPlan | None, Standing | None]:
    """Return the support plan the partner's tiers entitle it to (the best of its standings) and that standing.

    A grandfathered tier still counts: the partner keeps its tier's benefits until the drop applies.
    """
    plan = "tier__support_plan_entitlement__plan"
    standing = (
        Standing.objects.filter(partner=partner, tier__support_plan_entitlement__isnull=False)
        .select_related(f"{plan}__calendar", "ladder__motion")
        .order_by(f"-{plan}__rank", f"{plan}__name")
        .first()
    )
    if standing is None:
        return None, None
    assert standing.tier is not None  # filtered on the tier's plan above
    return standing.tier.support_plan_entitlement.plan, standing


def shown_plan_entitlement(partner: Partner) -> tuple[SupportPlan | None, Standing | None]:
    """`plan_entitlement` for a page that shows it in several places: asked once per partner instance.

    The page's partner object lives as long as the request; code that changes standings and asks
    again (ticket filing, the re-tier) calls `plan_entitlement` itself.
    """
    cached = partner.__dict__.get("_shown_plan_entitlement")
    if cached is None:
        cached = partner.__dict__["_shown_plan_entitlement"] = plan_entitlement(partner)
    return cached


def plan_entitlements(tiers: Sequence[Tier]) -> dict[int, list[Entitlement]]:
    """Return the support plan of each of `tiers` as tiering's pages list it (one query)."""
    entitled = TierSupportPlan.objects.filter(tier__in=tiers).select_related("plan")
    return {row.tier_id: [Entitlement("Support plan", row.plan.name)] for row in entitled}


def plan_for_partner(partner: Partner) -> SupportPlan | None:
    """Return the support plan the partner's tiers entitle it to, or None."""
    return plan_entitlement(partner)[0]
