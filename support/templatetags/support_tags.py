from django import template

register = template.Library()


@register.filter
def sla_state(ticket, now):
    """Return the ticket's SLA state at `now` ('ok', 'warning', 'breached', 'paused', 'met')."""
    return ticket.sla_state(now)


@register.filter
def business_hours(minutes):
    """Return a target in business minutes as words: '90' -> '1 h 30 min', '1440' -> '24 h'."""
    if minutes is None:
        return "—"
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@register.filter
def div60(seconds):
    return int(seconds) // 60


@register.inclusion_tag("support/_partials/plan_card.html")
def support_plan_card(partner):
    """Render the partner's support plan: hours, channels, targets per severity, services."""
    from django.utils import timezone

    from support.models import SEVERITY_GUIDE
    from support.services import plan_entitlement

    plan, standing = plan_entitlement(partner)
    targets = list(plan.targets.all()) if plan else []
    grandfathered = standing.is_grandfathered(timezone.localdate()) if standing else False
    return {
        "plan": plan,
        "standing": standing,
        "grandfathered": grandfathered,
        "targets": targets,
        "guide": SEVERITY_GUIDE,
    }
