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
def duration(seconds):
    """Return business seconds as words: 252 -> '4 min 12 s', 5400 -> '1 h 30 min'."""
    if seconds is None:
        return "—"
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return business_hours(seconds // 60)


@register.filter
def percent(share):
    """Return a share (0..1) as a percentage with one decimal, or a dash when there is none."""
    return "—" if share is None else f"{share * 100:.1f}%"


@register.filter
def div60(seconds):
    return int(seconds) // 60


@register.inclusion_tag("support/_partials/plan_card.html")
def support_plan_card(partner):
    """Render the partner's support plan: hours, channels, targets per severity, services."""
    from django.utils import timezone

    from support.entitlement import shown_plan_entitlement
    from support.models import SEVERITY_GUIDE

    plan, standing = shown_plan_entitlement(partner)
    targets = list(plan.targets.all()) if plan else []
    grandfathered = standing.is_grandfathered(timezone.localdate()) if standing else False
    return {
        "plan": plan,
        "standing": standing,
        "grandfathered": grandfathered,
        "targets": targets,
        "guide": SEVERITY_GUIDE,
    }


@register.inclusion_tag("support/_partials/contacts.html")
def escalation_contacts_card(plan, wide=False):
    """Render the escalation contacts a partner on `plan` may use (on-call entries resolved now)."""
    from django.utils import timezone

    from support.escalation.routing import escalation_contacts

    return {"contacts": escalation_contacts(plan, timezone.now()), "wide": wide}


@register.inclusion_tag("support/_partials/contacts.html")
def partner_contacts_card(partner):
    """Render the escalation contacts of the partner's support plan."""
    from django.utils import timezone

    from support.entitlement import shown_plan_entitlement
    from support.escalation.routing import escalation_contacts

    return {"contacts": escalation_contacts(shown_plan_entitlement(partner)[0], timezone.now()), "wide": True}
