from django import template

from tiering.evaluation import format_value
from tiering.models import Notice, Standing

register = template.Library()


@register.inclusion_tag("tiering/_partials/tier_summary.html", takes_context=True)
def tier_summary(context, partner):
    """Render the partner's tier in each motion, with a pending drop's grandfathering date."""
    standings = (
        Standing.objects.for_user(context["request"].user)
        .filter(partner=partner)
        .select_related("tier", "ladder__motion", "pending_tier")
    )
    return {"standings": standings}


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
def percent(share):
    """Return a share 0–1 as a whole percentage: 0.125 -> '12.5%'."""
    return f"{float(share) * 100:.1f}%".replace(".0%", "%")
