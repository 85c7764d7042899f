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
    hours, hours_for_partner = _support_hours(plan, partner)
    return {
        "hours": hours,
        "hours_for_partner": hours_for_partner,
        "plan": plan,
        "standing": standing,
        "grandfathered": grandfathered,
        "targets": targets,
        "guide": SEVERITY_GUIDE,
        "partner": partner,
    }


def _support_hours(plan, partner) -> tuple[list[str], list[str]]:
    """The plan's support hours spelled out in the calendar's zone, and in the partner's when it differs."""
    from django.utils import timezone

    from support.rules.hours import in_zone, spelled_hours

    if plan is None or plan.calendar.always_open:
        return [], []
    calendar = plan.calendar
    windows = [(w.weekday, w.start, w.end) for w in calendar.windows.all()]
    if partner.time_zone == calendar.time_zone:
        return spelled_hours(windows), []
    today = timezone.localdate()
    return spelled_hours(windows), spelled_hours(in_zone(windows, calendar.time_zone, partner.time_zone, today))


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


@register.inclusion_tag("support/_partials/working_set.html")
def staff_working_set(user):
    """Render a support person's working day: their tickets, what breaches soon, escalations, on call, action items."""
    from django.db.models import F
    from django.utils import timezone

    from support.escalation.routing import oncall_overview
    from support.models import ActionItem, Ticket
    from support.pages.filters import in_view

    now = timezone.now()
    open_tickets = (
        Ticket.objects.for_user(user)
        .open()
        .select_related("partner")
        .only("id", "title", "severity", "next_due_at", "partner__name")
        .by_next_deadline()
    )
    sets = []
    for view, title in (("mine", "My open tickets"), ("breaching", "Breaching within the hour"), ("escalated", "Escalated to me")):  # fmt: skip
        tickets = in_view(open_tickets, view, user, now)
        sets.append({"view": view, "title": title, "count": tickets.count(), "tickets": list(tickets[:5])})
    items = ActionItem.objects.filter(owner=user, closed_at__isnull=True).select_related("partner")
    return {
        "sets": sets,
        "on_call": oncall_overview(now, days=1),
        "action_items": list(items.order_by(F("due_on").asc(nulls_last=True), "id")[:10]),
        "today": timezone.localdate(),
    }
