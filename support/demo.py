"""Demo support data: calendars, the plans of seed 000 under the program's own names, tickets in
every state and SLA state. Idempotent: records are found by name (tickets by partner and title)."""

from datetime import time, timedelta

from django.db import transaction
from django.utils import timezone

from programs.models import Partner, User

from . import services
from .models import BusinessCalendar, CalendarWindow, Channel, SeverityTarget, SupportPlan, Ticket
from .sweep import sweep_slas

WEEKDAYS = range(5)
EVERY_DAY = range(7)

# name: (zone, always open, holiday country, [(weekdays, start, end)])
CALENDARS = {
    "Pacific business hours": ("America/Los_Angeles", False, "US", [(WEEKDAYS, time(9), time(17))]),
    "Pacific extended hours": (
        "America/Los_Angeles",
        False,
        "US",
        [(WEEKDAYS, time(7), time(19)), ([5], time(9), time(13))],
    ),
    "24/7": ("UTC", True, "", []),
    # The follow-the-sun shifts of seed 002, in Istanbul time.
    "Follow the sun: Asia shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(0), time(8))]),
    "Follow the sun: Istanbul shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(8), time(16))]),
    "Follow the sun: Berlin shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(16), time(0))]),
}

H = 60  # minutes
# name: (rank, calendar, channels, phone, csm, executive, responsibilities, {severity: (first, resolution, update)})
PLANS = {
    "Essential": (
        1,
        "Pacific business hours",
        [Channel.PORTAL, Channel.EMAIL],
        False,
        False,
        False,
        "Designate support contacts. Provide reproduction steps.",
        {
            "P1": (2 * H, 24 * H, 2 * H),
            "P2": (8 * H, 48 * H, 8 * H),
            "P3": (24 * H, 72 * H, None),
            "P4": (72 * H, 120 * H, None),
        },
    ),
    "Priority": (
        2,
        "Pacific extended hours",
        [Channel.PORTAL, Channel.EMAIL, Channel.PHONE],
        True,
        False,
        False,
        "Designate support contacts. Report within 24 hours. Provide reproduction steps.",
        {
            "P1": (1 * H, 12 * H, 1 * H),
            "P2": (4 * H, 24 * H, 4 * H),
            "P3": (8 * H, 48 * H, None),
            "P4": (24 * H, 72 * H, None),
        },
    ),
    "Premier": (
        3,
        "24/7",
        [Channel.PORTAL, Channel.EMAIL, Channel.PHONE, Channel.CHAT, Channel.DEDICATED_CSM],
        True,
        True,
        True,
        "Designate support contacts. Report within 24 hours. Provide reproduction steps. "
        "Attend blameless postmortems. Join the monthly support review.",
        {"P1": (15, 4 * H, 30), "P2": (1 * H, 8 * H, 2 * H), "P3": (4 * H, 24 * H, None), "P4": (24 * H, 72 * H, None)},
    ),
}


def _calendars() -> dict:
    calendars = {}
    for name, (zone, always_open, country, windows) in CALENDARS.items():
        calendar, _ = BusinessCalendar.objects.update_or_create(
            name=name, defaults={"time_zone": zone, "always_open": always_open, "holiday_country": country}
        )
        wanted = {(day, start, end) for days, start, end in windows for day in days}
        current = {(w.weekday, w.start, w.end): w for w in calendar.windows.all()}
        for key, window in current.items():
            if key not in wanted:
                window.delete()
        for day, start, end in wanted - set(current):
            CalendarWindow.objects.create(calendar=calendar, weekday=day, start=start, end=end)
        calendars[name] = calendar
    return calendars


def _plans(calendars) -> dict:
    plans = {}
    for name, (rank, calendar, channels, phone, csm, executive, duties, targets) in PLANS.items():
        plan, _ = SupportPlan.objects.update_or_create(
            name=name,
            defaults={
                "rank": rank,
                "calendar": calendars[calendar],
                "channels": [str(channel) for channel in channels],
                "includes_phone": phone,
                "includes_dedicated_csm": csm,
                "includes_executive_escalation": executive,
                "partner_responsibilities": duties,
            },
        )
        for severity, (first, resolution, update) in targets.items():
            SeverityTarget.objects.update_or_create(
                plan=plan,
                severity=severity,
                defaults={"first_response_minutes": first, "resolution_minutes": resolution, "update_minutes": update},
            )
        plans[name] = plan
    return plans


INTAKE = {
    "customer_name": "Acme Retail GmbH",
    "environment": "production",
    "environment_details": "EU region, web checkout v4.2",
    "steps_to_reproduce": "1. Add an item to the cart\n2. Pay by card\n3. The checkout answers HTTP 500",
    "business_impact": "Orders cannot be completed for every shopper of this customer.",
    "category": "defect",
}

# (partner slug, submitter, title, severity, minutes ago, [(action, by, minutes ago, message)])
TICKETS = [
    ("contoso", "other-partner@demo.test", "Checkout returning 500 — orders failing", "P1", 5, []),
    ("contoso", "other-partner@demo.test", "API rate limit exceeded — integration partner", "P2", 50, []),
    (
        "contoso",
        "other-partner@demo.test",
        "SSO login failing — enterprise account",
        "P2",
        180,
        [("acknowledge", "l1@demo.test", 175, ""), ("start", "l2@demo.test", 170, "")],
    ),
    ("contoso", "other-partner@demo.test", "Report export downloads empty CSV", "P3", 300, []),
    (
        "contoso",
        "other-partner@demo.test",
        "Notification emails landing in spam",
        "P3",
        120,
        [
            ("acknowledge", "l1@demo.test", 100, ""),
            ("wait", "l1@demo.test", 90, "Please send the full headers of one email."),
        ],
    ),
    (
        "contoso",
        "other-partner@demo.test",
        "Avatar upload failing on profile page",
        "P4",
        3000,
        [("acknowledge", "l1@demo.test", 2900, ""), ("resolve", "l2@demo.test", 1500, "Fixed in release 4.2.1.")],
    ),
    (
        "contoso",
        "other-partner@demo.test",
        "How do I rotate API keys?",
        "P4",
        9000,
        [
            ("acknowledge", "l1@demo.test", 8900, ""),
            ("resolve", "l1@demo.test", 8800, "Settings → API → Rotate."),
            ("close", "other-partner@demo.test", 8000, ""),
        ],
    ),
    ("northwind", "partner-admin@demo.test", "Invoices sync duplicates line items", "P2", 20, []),
    (
        "northwind",
        "partner-user@demo.test",
        "Webhook retries never stop",
        "P3",
        4000,
        [
            ("acknowledge", "l1@demo.test", 3900, ""),
            ("resolve", "l2@demo.test", 3000, "Retries now back off and stop after 24 hours."),
            ("reopen", "partner-user@demo.test", 60, "Still retrying for one customer."),
        ],
    ),
]


def _tickets() -> int:
    now = timezone.now()
    people = {user.email: user for user in User.objects.filter(email__endswith="@demo.test")}
    created = 0
    for slug, submitter, title, severity, ago, steps in TICKETS:
        partner = Partner.objects.get(slug=slug)
        if Ticket.objects.filter(partner=partner, title=title).exists():
            continue
        ticket = services.open_ticket(
            partner,
            submitter=people[submitter],
            title=title,
            severity=severity,
            at=now - timedelta(minutes=ago),
            **INTAKE,
        )
        for action, by, step_ago, message in steps:
            services.transition_ticket(
                ticket, action=action, by=people[by], message=message, at=now - timedelta(minutes=step_ago)
            )
        created += 1
    return created


@transaction.atomic
def seed_plans() -> dict:
    """Create or refresh the demo calendars and plans; return the plans by name."""
    return _plans(_calendars())


@transaction.atomic
def seed_tickets() -> dict:
    """Create the demo tickets (partners get their plans from their tiers first) and sweep them."""
    created = _tickets()
    sweep_slas(notify=False)
    return {"calendars": BusinessCalendar.objects.count(), "plans": SupportPlan.objects.count(), "new tickets": created}
