"""Demo support data: calendars, three support plans (business hours, extended hours, 24/7) under the program's own names, tickets in
every state and SLA state. Idempotent: records are found by name (tickets by partner and title)."""

from collections.abc import Iterable
from datetime import date, time, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from programs.models import Partner, User
from support.models import (
    BusinessCalendar,
    CalendarWindow,
    Channel,
    EscalationLevel,
    EscalationPolicy,
    EscalationTrigger,
    OnCallLayer,
    OnCallMember,
    OnCallSchedule,
    SeverityTarget,
    SupportPlan,
    Ticket,
    TierSupportPlan,
)
from support.tickets import lifecycle
from support.tickets.sweep import sweep_slas
from tiering.models import Tier

WEEKDAYS = range(5)
EVERY_DAY = range(7)

# name: (zone, always open, holiday country, [(weekdays, start, end)])
CALENDARS: dict[str, tuple[str, bool, str, list[tuple[Iterable[int], time, time]]]] = {
    "Pacific business hours": ("America/Los_Angeles", False, "US", [(WEEKDAYS, time(9), time(17))]),
    "Pacific extended hours": (
        "America/Los_Angeles",
        False,
        "US",
        [(WEEKDAYS, time(7), time(19)), ([5], time(9), time(13))],
    ),
    "24/7": ("UTC", True, "", []),
    # Follow-the-sun shifts, in Istanbul time.
    "Follow the sun: Asia shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(0), time(8))]),
    "Follow the sun: Istanbul shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(8), time(16))]),
    "Follow the sun: Berlin shift": ("Europe/Istanbul", False, "", [(EVERY_DAY, time(16), time(0))]),
}

H = 60  # minutes
# name: (rank, calendar, channels, phone, csm, requests, executive, responsibilities, {severity: (first, resolution, update)})
PLANS = {
    "Essential": (
        1,
        "Pacific business hours",
        [Channel.PORTAL, Channel.EMAIL],
        False,
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
        True,
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
    for name, (rank, calendar, channels, phone, csm, requests, executive, duties, targets) in PLANS.items():
        plan, _ = SupportPlan.objects.update_or_create(
            name=name,
            defaults={
                "rank": rank,
                "calendar": calendars[calendar],
                "channels": [str(channel) for channel in channels],
                "includes_phone": phone,
                "includes_dedicated_csm": csm,
                "includes_escalation_requests": requests,
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


INTAKE: dict[str, Any] = {
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
        ticket = lifecycle.open_ticket(
            partner,
            submitter=people[submitter],
            title=title,
            severity=severity,
            at=now - timedelta(minutes=ago),
            **INTAKE,
        )
        for action, by, step_ago, message in steps:
            lifecycle.transition_ticket(
                ticket, action=action, by=people[by], message=message, at=now - timedelta(minutes=step_ago)
            )
        created += 1
    return created


# A follow-the-sun desk in Istanbul time: Asia 00–08, Istanbul 08–16, Berlin 16–24.
# schedule: (zone, [(role, position, layer name, length days, window, [people])])
DAY, WEEK = 1, 7
LayerSpec = tuple[str, int, str, int, tuple[time, time] | None, list[str]]
SCHEDULES: dict[str, tuple[str, list[LayerSpec]]] = {
    "L1 follow the sun": (
        "Europe/Istanbul",
        [
            ("primary", 1, "Asia", WEEK, (time(0), time(8)), ["asia-l1@demo.test"]),
            ("primary", 2, "Istanbul", WEEK, (time(8), time(16)), ["l1@demo.test"]),
            ("primary", 3, "Berlin", WEEK, (time(16), time(0)), ["berlin-l1@demo.test"]),
            ("secondary", 1, "L2 backs L1", WEEK, None, ["l2@demo.test", "sofia-l2@demo.test"]),
        ],
    ),
    "L2 senior support": (
        "Europe/Istanbul",
        [
            ("primary", 1, "Weekly", WEEK, None, ["l2@demo.test", "sofia-l2@demo.test"]),
            ("secondary", 1, "Backup", WEEK, None, ["sofia-l2@demo.test", "l2@demo.test"]),
        ],
    ),
    "Engineering on call": (
        "Europe/Berlin",
        [
            ("primary", 1, "Weekly", WEEK, None, ["engineer@demo.test", "daniel-eng@demo.test"]),
            ("secondary", 1, "Backup", WEEK, None, ["daniel-eng@demo.test", "engineer@demo.test"]),
        ],
    ),
}
ROTATION_START = date(2026, 1, 5)  # a Monday

# The escalation path and its published contacts (Tier 1 lead, Tier 2 lead, engineering on call,
# VP support); each row holds the columns of LEVEL_FIELDS.
SUPPORT_EMAIL = "support@partnerportal.test"
LevelSpec = tuple[int, str, str, int | None, int | None, str, bool, bool, str, str, str, str, str, int | None]
LEVELS_STANDARD: list[LevelSpec] = [
    (1, "L1 support", "entry", None, None, "L1 follow the sun", True, False, "Tier 1 Lead", "", SUPPORT_EMAIL,
     "+1 415 555 0100", "Initial contact", None),
    (2, "L2 senior support", "no_response", None, 2, "L2 senior support", True, False, "Tier 2 Lead", "",
     "tier2@partnerportal.test", "+1 415 555 0120", "No progress in 2× the SLA", 4 * H),
    (3, "L3 engineering", "no_resolution", None, 2, "Engineering on call", True, False, "Engineering On-Call", "",
     "oncall@partnerportal.test", "+1 415 555 0130", "No fix in 2× the SLA", 24 * H),
    (4, "VP Support", "on_request", None, None, "support-manager@demo.test", False, True, "VP Support", "",
     "vp-support@partnerportal.test", "+1 415 555 0199", "Customer at risk", 48 * H),
]  # fmt: skip
# The 24/7 desk for Premier: L1 silent 15 min (the P1 target) → L2; not resolved in 1 hour → L3;
# P1 → management informed at once.
LEVELS_PREMIER: list[LevelSpec] = [
    LEVELS_STANDARD[0],
    (2, "L2 senior support", "no_response", None, 1, "L2 senior support", True, False, "Tier 2 Lead", "",
     "tier2@partnerportal.test", "+1 415 555 0120", "L1 silent past the response target", 1 * H),
    (3, "L3 engineering", "no_resolution", 60, None, "Engineering on call", True, False, "Engineering On-Call", "",
     "oncall@partnerportal.test", "+1 415 555 0130", "Not resolved within an hour", 4 * H),
    LEVELS_STANDARD[3],
]  # fmt: skip
TRIGGERS = {"p1": 2, "security": 3, "data_integrity": 3, "reopened_twice": 2}
TRIGGERS_PREMIER = {"p1": 4, "p2": 2, "security": 3, "data_integrity": 3, "reopened_twice": 2}
POLICIES: dict[str, tuple[list[LevelSpec], dict[str, int]]] = {"Essential": (LEVELS_STANDARD, TRIGGERS), "Priority": (LEVELS_STANDARD, TRIGGERS),
            "Premier": (LEVELS_PREMIER, TRIGGERS_PREMIER)}  # fmt: skip


def _schedules() -> dict:
    people = {user.email: user for user in User.objects.filter(email__endswith="@demo.test")}
    schedules = {}
    for name, (zone, layers) in SCHEDULES.items():
        schedule, _ = OnCallSchedule.objects.update_or_create(name=name, defaults={"time_zone": zone})
        keep = []
        for role, position, layer_name, length, window, emails in layers:
            layer, _ = OnCallLayer.objects.update_or_create(
                schedule=schedule,
                role=role,
                name=layer_name,
                defaults={
                    "position": position,
                    "starts_on": ROTATION_START,
                    "handoff": time(9),
                    "length_days": length,
                    "window_start": window[0] if window else None,
                    "window_end": window[1] if window else None,
                },
            )
            layer.members.all().delete()
            OnCallMember.objects.bulk_create(
                OnCallMember(layer=layer, person=people[email], position=turn) for turn, email in enumerate(emails, 1)
            )
            keep.append(layer.pk)
        schedule.layers.exclude(pk__in=keep).delete()
        schedules[name] = schedule
    return schedules


# The columns of a level in LEVELS_*: EscalationLevel's fields, with the target (schedule or person) by name.
LEVEL_FIELDS = ("rank", "name", "rule", "after_minutes", "after_factor", "target", "assigns", "executive",
                "contact_role", "contact_name", "contact_email", "contact_phone", "when_to_use", "response_minutes")  # fmt: skip


def _policies(plans: dict, schedules: dict) -> None:
    people = {user.email: user for user in User.objects.filter(email__endswith="@demo.test")}
    for plan_name, (levels, triggers) in POLICIES.items():
        policy, _ = EscalationPolicy.objects.get_or_create(plan=plans[plan_name])
        by_rank: dict[int, EscalationLevel] = {}
        for row in levels:
            fields: dict[str, object] = dict(zip(LEVEL_FIELDS, row, strict=True))
            rank, target = cast(int, fields.pop("rank")), cast(str, fields.pop("target"))
            fields.update(schedule=schedules.get(target), person=people.get(target))
            by_rank[rank], _ = EscalationLevel.objects.update_or_create(policy=policy, rank=rank, defaults=fields)
        policy.levels.exclude(rank__in=by_rank).delete()
        for condition, rank in triggers.items():
            EscalationTrigger.objects.update_or_create(
                policy=policy, condition=condition, defaults={"level": by_rank[rank]}
            )
        policy.triggers.exclude(condition__in=triggers).delete()


@transaction.atomic
def seed_plans() -> dict:
    """Create or refresh the demo calendars, plans, on-call schedules and escalation policies."""
    plans = _plans(_calendars())
    _policies(plans, _schedules())
    return plans


# The support plan each demo tier entitles its partners to: (motion, tier) → plan.
TIER_PLANS = {
    ("resale", "Registered"): "Essential", ("resale", "Selling"): "Essential",
    ("resale", "Specialist"): "Priority", ("resale", "Strategic"): "Premier",
    ("services", "Trained"): "Essential", ("services", "Delivering"): "Priority",
    ("services", "Certified Practice"): "Priority", ("services", "Lead Implementer"): "Premier",
    ("technology", "Listed"): "Essential", ("technology", "Validated"): "Essential",
    ("technology", "Co-Sell"): "Priority", ("technology", "Joint-Solution"): "Premier",
}  # fmt: skip


@transaction.atomic
def entitle_tiers() -> int:
    """Link the demo tiers to their support plans (after tiering's demo made the tiers); return how many."""
    plans = {plan.name: plan for plan in SupportPlan.objects.all()}
    linked = 0
    for (motion, tier_name), plan_name in TIER_PLANS.items():
        tier = Tier.objects.filter(ladder__motion__slug=motion, name=tier_name).first()
        if tier is not None:
            TierSupportPlan.objects.update_or_create(tier=tier, defaults={"plan": plans[plan_name]})
            linked += 1
    return linked


@transaction.atomic
def seed_tickets() -> dict:
    """Create the demo tickets (partners get their plans from their tiers first) and sweep them."""
    created = _tickets()
    sweep_slas(notify=False)
    return {"calendars": BusinessCalendar.objects.count(), "plans": SupportPlan.objects.count(), "new tickets": created}
