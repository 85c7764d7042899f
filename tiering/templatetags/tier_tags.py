from django import template
from django.utils import timezone

from tiering import selectors
from tiering.evaluation import format_value
from tiering.models import Notice, Standing

register = template.Library()


@register.inclusion_tag("tiering/_partials/tier_summary.html", takes_context=True)
def tier_summary(context, partner):
    """Render the partner's tier in each motion, a pending drop's grandfathering date, and the progress
    to the next tier where criteria are in force (the same evaluation as /tiers/)."""
    user = context["request"].user
    standings = list(
        Standing.objects.for_user(user).filter(partner=partner).select_related("tier", "ladder__motion", "pending_tier")
    )
    if not standings and not (user.is_portal_staff or user.partner == partner):
        return {"rows": []}
    progress = {
        motion.ladder.pk: motion
        for motion in selectors.partner_tiers(partner, timezone.localdate(), entitlements=False)
        if motion.policy
    }
    rows = [(standing.ladder, standing, progress.pop(standing.ladder_id, None)) for standing in standings]
    rows += [(motion.ladder, None, motion) for motion in progress.values()]  # motions run without a tier yet
    return {"rows": rows}


@register.inclusion_tag("tiering/_partials/notices_card.html", takes_context=True)
def program_notices(context, partner, count=5):
    """Render the partner's latest program notices."""
    latest = Notice.objects.for_user(context["request"].user).filter(partner=partner)[:count]
    return {"notices": latest}


@register.filter
def metric_value(value, unit):
    """Return a metric value as people read it: $250,000 · 80% · yes · 3."""
    return format_value(value, unit)


@register.filter
def requirement(criterion):
    """Return what a criterion asks for in words: 'ARR sourced ≥ $250,000', 'Signed co-sell agreement'."""
    if criterion.unit == "boolean":
        return criterion.label
    return f"{criterion.label} ≥ {format_value(criterion.threshold, criterion.unit)}"


@register.filter
def still_needed(result):
    """Return what is missing to pass a criterion: '$170,000 more', 'needed', or ''."""
    if result.passed:
        return ""
    unit = result.criterion.unit
    if unit == "boolean" or result.value is None:
        return "needed"
    return f"{format_value(result.criterion.threshold - result.value, unit)} more"


@register.filter
def overall_progress(result):
    """Return how far a tier's criteria are met on average, each counted at most fully (0–100)."""
    shown = [criterion.progress for criterion in result.criteria if criterion.criterion.unit != "boolean"]
    met = [100 for criterion in result.criteria if criterion.criterion.unit == "boolean" and criterion.passed]
    parts = (
        shown
        + met
        + [0]
        * sum(1 for criterion in result.criteria if criterion.criterion.unit == "boolean" and not criterion.passed)
    )
    return round(sum(min(part, 100) for part in parts) / len(parts)) if parts else 100


@register.filter
def percent(share):
    """Return a share 0–1 as a whole percentage: 0.125 -> '12.5%'."""
    return f"{float(share) * 100:.1f}%".replace(".0%", "%")
