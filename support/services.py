"""Ticket changes. Each transition has exactly one function here; pages, commands and tasks call them."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from partnerportal.audit import audit_context
from partnerportal.bulk import insert_returning, update_from_values
from programs.models import SUPPORT_ROLES, Partner, StaffRole, User

from . import businesstime, escalation, sla
from .models import (
    ActionItem,
    Article,
    CsatResponse,
    Deflection,
    Escalation,
    EscalationPolicy,
    IdempotencyKey,
    Notification,
    SeverityTarget,
    SupportPlan,
    Ticket,
    TicketAttachment,
    TicketEvent,
)

Status = Ticket.Status
Kind = TicketEvent.Kind

# (from statuses, to status, timeline kind) for each staff or partner action.
TRANSITIONS = {
    "acknowledge": ({Status.RECEIVED}, Status.ACKNOWLEDGED, Kind.ACKNOWLEDGED),
    "start": ({Status.RECEIVED, Status.ACKNOWLEDGED, Status.WAITING_ON_PARTNER}, Status.IN_PROGRESS, Kind.STARTED),
    "wait": ({Status.ACKNOWLEDGED, Status.IN_PROGRESS}, Status.WAITING_ON_PARTNER, Kind.WAITING),
    "resolve": (
        {Status.RECEIVED, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_ON_PARTNER},
        Status.RESOLVED,
        Kind.RESOLVED,
    ),
    "close": ({Status.RESOLVED}, Status.CLOSED, Kind.CLOSED),
    "reopen": ({Status.RESOLVED, Status.CLOSED}, Status.IN_PROGRESS, Kind.REOPENED),
}
STAFF_ACTIONS = {"acknowledge", "start", "wait", "resolve", "close", "reopen"}
PARTNER_ACTIONS = {"close", "reopen"}


def is_support_staff(user: User) -> bool:
    return user.has_staff_role(*SUPPORT_ROLES)


def available_actions(ticket: Ticket, user: User) -> list[str]:
    """Return the status changes `user` may make on `ticket` now, in lifecycle order."""
    if is_support_staff(user):
        allowed = STAFF_ACTIONS
    elif user.membership is not None and user.membership.partner_id == ticket.partner_id:
        allowed = PARTNER_ACTIONS
    else:
        allowed = set()
    return [name for name, (sources, _, _) in TRANSITIONS.items() if name in allowed and ticket.status in sources]


def _record(ticket: Ticket, kind: str, by: User | None, **fields) -> TicketEvent:
    """Add a timeline event, noting whether its actor acted as support staff at that moment.

    Stored, not looked up later: a first response stays one when the person changes role or leaves.
    """
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, actor=by, by_staff=bool(by and is_support_staff(by)), **fields
    )


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


def _check_actor(ticket: Ticket, user: User, action: str) -> None:
    if is_support_staff(user):
        if action not in STAFF_ACTIONS:
            raise PermissionDenied("Support staff cannot do this.")
        return
    membership = user.membership
    if membership is None or membership.partner_id != ticket.partner_id:
        raise PermissionDenied("This ticket belongs to another organisation.")
    if action not in PARTNER_ACTIONS:
        raise PermissionDenied("Only our support staff can do this.")


@transaction.atomic
def open_ticket(partner: Partner, *, submitter: User, attachments=(), at=None, **fields) -> Ticket:
    """File a ticket for `partner`, start its SLA clocks and send the automatic acknowledgement.

    `at` backdates the ticket, for imports from another helpdesk and the demo data; such a
    ticket gets no acknowledgement email (its submitter filed it long ago).
    """
    membership = submitter.membership
    if membership is None or membership.partner_id != partner.pk:
        raise PermissionDenied("You can only file tickets for your own organisation.")
    plan = plan_for_partner(partner)
    if plan is None:
        raise ValidationError(
            "Your organisation has no support plan yet: none of its tiers includes one. Ask your partner manager."
        )
    now = at or timezone.now()
    with audit_context(action="open_ticket", actor=submitter.pk):
        ticket = Ticket.objects.create(
            partner=partner,
            submitter=submitter,
            plan=plan,
            received_at=now,
            escalation_terms=escalation_snapshot(plan),
            **fields,
        )
        _record(ticket, Kind.RECEIVED, submitter, at=now, to_value=ticket.severity)
        for upload in attachments:
            _store_attachment(ticket, upload, by=submitter, at=now)
        refresh_clock(ticket)
    if at is None:
        transaction.on_commit(lambda: _send_auto_acknowledgement(ticket.pk), robust=True)
    return ticket


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request."""


def request_fingerprint(fields: dict) -> str:
    """Return a stable digest of a ticket request's fields, to tell a retry from a different request."""
    canonical = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def open_ticket_once(partner: Partner, *, submitter: User, key: str, **fields) -> tuple[Ticket, bool]:
    """File a ticket unless `key` already filed this one: return the ticket and whether it was a replay.

    The key row is inserted in the ticket's transaction: a concurrent retry with the same key
    waits on the unique index until the first commits, then fails to insert, its ticket is rolled
    back, and it answers with the first one's ticket. Never two tickets.
    """
    fingerprint = request_fingerprint(fields)
    try:
        with transaction.atomic():
            earlier = IdempotencyKey.objects.filter(user=submitter, key=key).select_related("ticket").first()
            if earlier is None:
                ticket = open_ticket(partner, submitter=submitter, **fields)
                IdempotencyKey.objects.create(user=submitter, key=key, fingerprint=fingerprint, ticket=ticket)
                return ticket, False
    except IntegrityError:
        earlier = IdempotencyKey.objects.select_related("ticket").filter(user=submitter, key=key).first()
        if earlier is None:  # the integrity error was not the key's
            raise
    if earlier.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"This Idempotency-Key was used for a different request (ticket #{earlier.ticket_id}). "
            "Use a new key for a new ticket."
        )
    return earlier.ticket, True


def _send_auto_acknowledgement(ticket_id: int) -> None:
    ticket = Ticket.objects.select_related("submitter", "partner", "plan").get(pk=ticket_id)
    send_mail(
        subject=f"[#{ticket.pk}] We received your ticket: {ticket.title}",
        message=render_to_string("emails/ticket_received.txt", {"ticket": ticket, "portal_url": settings.PORTAL_URL}),
        from_email=None,
        recipient_list=[ticket.submitter.email],
    )
    # Recorded as a system event: it is not a first response.
    _record(ticket, Kind.AUTO_ACK, None, body=ticket.submitter.email)


@transaction.atomic
def transition_ticket(ticket: Ticket, *, action: str, by: User, message: str = "", at=None) -> Ticket:
    """Move a ticket through its lifecycle (acknowledge, start, wait, resolve, close, reopen)."""
    if action not in TRANSITIONS:
        raise ValidationError(f"Unknown action “{action}”.")
    _check_actor(ticket, by, action)
    allowed_from, to_status, kind = TRANSITIONS[action]
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status not in allowed_from:
        raise ValidationError(
            f"A ticket that is {ticket.get_status_display().lower()} cannot be {kind.label.lower()} now."
        )
    if action == "reopen" and not message.strip():
        raise ValidationError("Say why the ticket is reopened.")
    now = at or timezone.now()
    with audit_context(action=f"ticket_{action}", actor=by.pk):
        _record(
            ticket,
            kind,
            by,
            at=now,
            body=message.strip(),
            from_value=ticket.status,
            to_value=to_status,
        )
        ticket.status = to_status
        ticket.resolved_at = now if to_status == Status.RESOLVED else ticket.resolved_at
        ticket.closed_at = now if to_status == Status.CLOSED else None
        if action == "reopen":
            ticket.resolved_at = None
        if is_support_staff(by) and ticket.assignee_id is None:
            ticket.assignee = by
        ticket.save()
        refresh_clock(ticket)
        if to_status == Status.RESOLVED:
            _invite_to_rate(ticket, now)
    return ticket


@transaction.atomic
def add_comment(ticket: Ticket, *, by: User, body: str, public: bool = True, attachments=(), at=None) -> TicketEvent:
    """Add a reply (public) or an internal note; a partner's reply while we wait resumes the clock."""
    body = body.strip()
    if not body and not attachments:
        raise ValidationError({"body": "Write a message or attach a file."})
    staff = is_support_staff(by)
    if not staff:
        _check_actor(ticket, by, "close")  # same organisation check as a partner action
        public = True
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = at or timezone.now()
    with audit_context(action="add_comment", actor=by.pk):
        event = _record(ticket, Kind.COMMENT if public else Kind.NOTE, by, at=now, public=public, body=body)
        # The files stored with this message, for callers that answer with them (the API).
        event.stored_attachments = [
            _store_attachment(ticket, upload, by=by, at=now, public=public) for upload in attachments
        ]
        if not staff and ticket.status == Status.WAITING_ON_PARTNER:
            _record(
                ticket,
                Kind.RESUMED,
                by,
                at=now,
                from_value=ticket.status,
                to_value=Status.IN_PROGRESS,
            )
            ticket.status = Status.IN_PROGRESS
            ticket.save(update_fields=["status", "updated_at"])
        refresh_clock(ticket)
    return event


def _store_attachment(ticket: Ticket, upload, *, by: User, at, public: bool = True) -> TicketAttachment:
    attachment = TicketAttachment(
        ticket=ticket,
        original_name=upload.name[:200],
        content_type=upload.checked_content_type,
        size=upload.size,
        uploaded_by=by,
        uploaded_at=at,
        public=public,
    )
    attachment.file.save(upload.name, upload, save=False)
    attachment.save()
    _record(ticket, Kind.ATTACHMENT, by, at=at, public=public, body=upload.name)
    return attachment


@transaction.atomic
def change_severity(ticket: Ticket, *, severity: str, by: User, reason: str) -> Ticket:
    """Change the severity and re-target both clocks from the original received time."""
    if not is_support_staff(by):
        raise PermissionDenied("Only our support staff can change the severity.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if severity == ticket.severity:
        raise ValidationError({"severity": "The ticket already has this severity."})
    with audit_context(action="change_severity", actor=by.pk):
        _record(ticket, Kind.SEVERITY, by, from_value=ticket.severity, to_value=severity, body=reason)
        ticket.severity = severity
        ticket.save(update_fields=["severity", "updated_at"])
        refresh_clock(ticket)
    return ticket


@transaction.atomic
def assign_ticket(ticket: Ticket, *, assignee: User, by: User) -> Ticket:
    """Give the ticket to a support person."""
    if not is_support_staff(by) or not is_support_staff(assignee):
        raise PermissionDenied("Tickets are assigned to and by support staff.")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    with audit_context(action="assign_ticket", actor=by.pk):
        _record(
            ticket,
            Kind.ASSIGNED,
            by,
            public=False,
            from_value=ticket.assignee.email if ticket.assignee else "",
            to_value=assignee.email,
        )
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
    return ticket


def _targets(ticket: Ticket) -> sla.Targets:
    target = SeverityTarget.objects.filter(plan=ticket.plan_id, severity=ticket.severity).first()
    if target is None:
        raise ValidationError(
            f"The support plan {ticket.plan} has no {ticket.severity} target yet. Ask your partner manager."
        )
    return sla.Targets(
        first_response=timedelta(minutes=target.first_response_minutes),
        resolution=timedelta(minutes=target.resolution_minutes),
        warning_ratio=float(ticket.plan.warning_ratio),
        update=timedelta(minutes=target.update_minutes) if target.update_minutes else None,
    )


def timeline_of(ticket: Ticket) -> list[sla.TimelineEntry]:
    return [
        sla.TimelineEntry(kind=kind, at=at, by_staff=by_staff, public=public, value=to_value)
        for kind, at, by_staff, public, to_value in ticket.events.order_by("at", "pk").values_list(
            "kind", "at", "by_staff", "public", "to_value"
        )
    ]


def business_calendar(plan: SupportPlan, around, cache: dict | None = None) -> businesstime.BusinessCalendar:
    """Return the pure calendar of `plan` for the years around `around` (cached per plan and year)."""
    cache = {} if cache is None else cache
    key = (plan.calendar_id, around.year)
    if key not in cache:
        cache[key] = plan.calendar.to_businesstime(range(around.year - 1, around.year + 3))
    return cache[key]


@dataclass(frozen=True)
class ClockInputs:
    clock: sla.Clock
    timeline: list[sla.TimelineEntry]
    targets: sla.Targets
    calendar: businesstime.BusinessCalendar


def _clock_inputs(ticket: Ticket, calendar_cache: dict | None = None) -> ClockInputs:
    timeline, targets = timeline_of(ticket), _targets(ticket)
    calendar = business_calendar(ticket.plan, ticket.received_at, calendar_cache)
    clock = sla.compute_clock(received_at=ticket.received_at, timeline=timeline, targets=targets, calendar=calendar)
    return ClockInputs(clock, timeline, targets, calendar)


def clock_for(ticket: Ticket, calendar_cache: dict | None = None) -> sla.Clock:
    """Return the clock `ticket`'s events, plan and calendar give now."""
    return _clock_inputs(ticket, calendar_cache).clock


def escalation_steps(ticket: Ticket, inputs: ClockInputs) -> list[escalation.Step]:
    """Return the escalation steps still to come for `ticket` (its policy snapshot and state)."""
    terms = escalation.Terms.from_snapshot(ticket.escalation_terms)
    if not terms.levels:
        return []
    facts = escalation.TicketFacts(
        received_at=ticket.received_at,
        severity=ticket.severity,
        category=ticket.category,
        is_open=ticket.is_open,
        timeline=tuple(inputs.timeline),
        severity_changes=tuple((entry.at, entry.value) for entry in inputs.timeline if entry.kind == Kind.SEVERITY),
    )
    return escalation.steps(
        terms,
        facts,
        clock=inputs.clock,
        targets=inputs.targets,
        calendar=inputs.calendar,
        reached=ticket.escalations.values_list("level", flat=True),
        working_level=ticket.escalation_level,
    )


def refresh_clock(ticket: Ticket, calendar_cache: dict | None = None) -> dict:
    """Recompute and store the ticket's SLA clock and escalation steps; return the fields that moved (old, new)."""
    inputs = _clock_inputs(ticket, calendar_cache)
    clock = inputs.clock
    new = {
        "first_response_at": clock.first_response_at,
        "first_response_due": clock.first_response_due,
        "first_response_warn_at": clock.first_response_warn_at,
        "resolution_due": clock.resolution_due,
        "resolution_warn_at": clock.resolution_warn_at,
        "paused_seconds": int(clock.paused.total_seconds()),
        "update_due": clock.update_due,
        "update_warn_at": clock.update_warn_at,
    }
    facts = sla.outcome(received_at=ticket.received_at, timeline=inputs.timeline, clock=clock, calendar=inputs.calendar)
    reporting = {
        "first_response_business_seconds": _seconds(facts.first_response),
        "resolution_business_seconds": _seconds(facts.resolution),
        "reopened": facts.reopened,
        "first_contact_resolution": facts.first_contact_resolution,
    }
    moved = {name: (getattr(ticket, name), value) for name, value in new.items() if getattr(ticket, name) != value}
    for name, value in new.items():
        setattr(ticket, name, value)
    steps = escalation_steps(ticket, inputs)
    recorded = set(
        ticket.events.filter(kind__in=[Kind.SLA_WARNING, Kind.SLA_BREACH]).values_list("kind", "sla_target", "to_value")
    )
    ticket.escalation_steps = [step.as_json() for step in steps]
    ticket.next_sla_check_at = sla.next_check(ticket, recorded, steps)
    ticket.next_due_at = ticket.compute_next_due()
    for name, value in reporting.items():
        setattr(ticket, name, value)
    Ticket.objects.filter(pk=ticket.pk).update(
        **new,
        **reporting,
        escalation_steps=ticket.escalation_steps,
        next_sla_check_at=ticket.next_sla_check_at,
        next_due_at=ticket.next_due_at,
    )
    return moved


def _seconds(duration) -> int | None:
    return None if duration is None else int(duration.total_seconds())


# --- Escalation -----------------------------------------------------------------------------------


def escalation_snapshot(plan: SupportPlan) -> dict:
    """Return the plan's escalation policy as a ticket keeps it: later edits do not change live tickets."""
    policy = EscalationPolicy.objects.filter(plan=plan).prefetch_related("levels", "triggers__level").first()
    if policy is None:
        return {}
    return {
        "policy": policy.pk,
        "levels": [
            {
                "rank": level.rank,
                "name": level.name,
                "rule": level.rule,
                "after_minutes": level.after_minutes,
                "after_factor": float(level.after_factor) if level.after_factor is not None else None,
                "assigns": level.assigns,
                "executive": level.executive,
                "schedule": level.schedule_id,
                "person": level.person_id,
            }
            for level in policy.levels.all()
        ],
        "triggers": [{"condition": t.condition, "rank": t.level.rank} for t in policy.triggers.all()],
    }


def notify_at(ticket: Ticket, now, calendar_cache: dict | None = None):
    """Return when mail about `ticket` may go out: at once for P1/P2, else within the plan's support hours."""
    if ticket.severity in escalation.URGENT:
        return now
    return businesstime.next_opening(business_calendar(ticket.plan, now, calendar_cache), now)


@dataclass(frozen=True)
class EscalationOrder:
    """Escalate `ticket` (plan loaded) to the level of `rank` of its terms, for `reason`."""

    ticket: Ticket
    rank: int
    cause: str
    reason: str


# Plain text, formatted in Python: a sweep may escalate thousands of tickets in one batch.
ESCALATION_MAIL = """Ticket #{ticket.pk} ({ticket.severity}) of {partner} is escalated to {level}: {what}.

{ticket.title}
Why: {reason}
How you were chosen: {via}

Open it: {url}
"""

_ESCALATION_COLUMNS = [
    "ticket",
    "level",
    "level_name",
    "cause",
    "reason",
    "at",
    "by",
    "assignee",
    "routed_via",
    "informed_only",
]


def escalate(orders: list[EscalationOrder], *, by: User | None, now, router=None, calendar_cache=None) -> list[tuple]:
    """Record each ticket's escalation to a level once, route it, move the assignment, notify, add it to the timeline.

    The one way a ticket is escalated (the sweep, staff by hand and partner requests call it). A
    unique constraint on (ticket, level) and INSERT … ON CONFLICT DO NOTHING make a repeat a no-op:
    only the escalations really written get their side effects. Returns (ticket id, level, person id)
    of those. Callers hold the tickets' row locks and recompute their steps afterwards.
    """
    from .routing import Router

    router = router or Router(now)
    calendar_cache = {} if calendar_cache is None else calendar_cache
    planned = {}
    for order in sorted(orders, key=lambda order: (order.ticket.pk, order.rank)):
        levels = order.ticket.escalation_terms.get("levels", [])
        level = next((level for level in levels if level["rank"] == order.rank), None)
        if level is None:
            continue
        route = router.route(levels, order.rank)
        planned[(order.ticket.pk, order.rank)] = (order, level, route)
    rows = [
        (ticket_id, rank, level["name"], order.cause, order.reason, now, by.pk if by else None, route.person_id,
         route.via, not level["assigns"])
        for (ticket_id, rank), (order, level, route) in planned.items()
    ]  # fmt: skip
    with audit_context(action="escalate", actor=by.pk if by else None):
        written = insert_returning(
            Escalation,
            _ESCALATION_COLUMNS,
            rows,
            conflict="(ticket_id, level) DO NOTHING",
            returning=["ticket", "level"],
        )
        done = [planned[(ticket_id, rank)] for ticket_id, rank in written]
        _escalation_effects(done, by=by, now=now, router=router, calendar_cache=calendar_cache)
    return [(order.ticket.pk, order.rank, route.person_id) for order, _, route in done]


def _escalation_effects(done, *, by, now, router, calendar_cache) -> None:
    staff = bool(by and is_support_staff(by))
    events, notes, moves = [], [], {}
    for order, level, route in done:
        ticket = order.ticket
        who = router.name(route.person_id)
        verb = "informed" if not level["assigns"] else "now with"
        events.append(
            TicketEvent(
                ticket=ticket,
                kind=Kind.ESCALATED,
                at=now,
                actor=by,
                by_staff=staff,
                public=True,
                body=f"{order.reason} {level['name']} {verb} {who}.",
                to_value=level["name"],
            )
        )
        if level["assigns"] and route.person_id:
            level_now = max(moves.get(ticket.pk, (None, ticket.escalation_level))[1], order.rank)
            moves[ticket.pk] = (route.person_id, level_now)
        if route.person_id:
            notes.append(
                Notification(
                    recipient_id=route.person_id,
                    ticket=ticket,
                    subject=f"[#{ticket.pk}] {ticket.severity} escalated to {level['name']}: {ticket.title}"[:200],
                    body=ESCALATION_MAIL.format(
                        ticket=ticket,
                        partner=ticket.partner.name,
                        what="you are informed" if not level["assigns"] else "it is yours now",
                        level=level["name"],
                        reason=order.reason,
                        via=route.via,
                        url=settings.PORTAL_URL + ticket.get_absolute_url(),
                    ),
                    send_after=notify_at(ticket, now, calendar_cache),
                )
            )
    TicketEvent.objects.bulk_create(events)
    Notification.objects.bulk_create(notes)
    update_from_values(Ticket, "pk", ["assignee", "escalation_level"], [(pk, *move) for pk, move in moves.items()])
    for order, _, _ in done:  # keep the callers' instances in step with the rows
        if order.ticket.pk in moves:
            order.ticket.assignee_id, order.ticket.escalation_level = moves[order.ticket.pk]


def _escalate_one(ticket: Ticket, *, rank: int, cause: str, reason: str, by: User) -> Ticket:
    now = timezone.now()
    written = escalate([EscalationOrder(ticket, rank, cause, reason)], by=by, now=now)
    if not written:
        raise ValidationError("The ticket has already been escalated to that level.")
    refresh_clock(ticket)
    return ticket


def escalation_options(ticket: Ticket) -> list[dict]:
    """Return the levels of the ticket's terms above the one working on it that it has not reached yet."""
    reached = set(ticket.escalations.values_list("level", flat=True))
    return [
        level
        for level in ticket.escalation_terms.get("levels", [])
        if level["rank"] > ticket.escalation_level and level["rank"] not in reached
    ]


@transaction.atomic
def escalate_by_hand(ticket: Ticket, *, rank: int, reason: str, by: User) -> Ticket:
    """Escalate a ticket to a level now, as support staff, with a reason."""
    if not is_support_staff(by):
        raise PermissionDenied("Only our support staff escalate by hand.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the ticket is escalated."})
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("plan__calendar").get(pk=ticket.pk)
    if not ticket.is_open:
        raise ValidationError("A resolved or closed ticket is not escalated; reopen it first.")
    if rank not in {level["rank"] for level in escalation_options(ticket)}:
        raise ValidationError({"rank": "Choose a level above the one working on the ticket that it has not reached."})
    return _escalate_one(ticket, rank=rank, cause=Escalation.Cause.MANUAL, reason=reason.strip(), by=by)


def partner_escalation_refusal(ticket: Ticket, *, executive: bool = False) -> str:
    """Return why the partner cannot ask for (executive) escalation of `ticket` now, or "" when it can."""
    plan = ticket.plan
    if not plan.includes_escalation_requests:
        return f"Your {plan.name} plan does not include escalation requests; your partner manager can tell you which plans do."
    if executive and not plan.includes_executive_escalation:
        return f"Executive escalation is not part of your {plan.name} plan."
    if not ticket.is_open:
        return "The ticket is resolved: reopen it if the problem is back."
    if _partner_target(ticket, executive=executive) is None:
        if executive:
            return "The executive level has this ticket already."
        return "The ticket is already at the highest level your plan lets you ask for."
    return ""


def _partner_target(ticket: Ticket, *, executive: bool) -> dict | None:
    # Escalating is going past first-line support: the level that takes new tickets is never the target.
    options = [
        level
        for level in escalation_options(ticket)
        if level.get("executive", False) == executive and level["rule"] != escalation.ENTRY
    ]
    return options[0] if options else None


@transaction.atomic
def request_escalation(ticket: Ticket, *, by: User, reason: str, executive: bool = False) -> Ticket:
    """Escalate a ticket at its partner's request, where the partner's plan includes it."""
    _check_actor(ticket, by, "close")  # a person of the ticket's own partner
    if not reason.strip():
        raise ValidationError({"reason": "Say why the ticket needs escalating: the impact, what changed."})
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("plan__calendar").get(pk=ticket.pk)
    refusal = partner_escalation_refusal(ticket, executive=executive)
    if refusal:
        raise ValidationError(refusal)
    level = _partner_target(ticket, executive=executive)
    reason = f"Requested by {by.get_full_name()}: {reason.strip()}"
    return _escalate_one(ticket, rank=level["rank"], cause=Escalation.Cause.PARTNER, reason=reason, by=by)


# --- Knowledge base deflection, satisfaction and reviews ------------------------------------------

CSAT_SALT = "support.csat"
CSAT_LINK_DAYS = 60
REVIEW_DAYS = 5  # a low score's review item is due this many days after the rating


def record_deflection(*, kind: str, user: User, article: Article | None = None, ticket=None, query: str = ""):
    """Record what a partner did with a suggested article (opened, solved, submitted a ticket anyway)."""
    partner = user.partner
    if partner is None:  # staff reading articles are not deflections
        return None
    return Deflection.objects.create(
        kind=kind, partner=partner, user=user, article=article, ticket=ticket, query=query[:200]
    )


def csat_token(ticket: Ticket) -> str:
    """Return the signed token of `ticket`'s rating link (valid CSAT_LINK_DAYS, usable once)."""
    return signing.dumps(ticket.pk, salt=CSAT_SALT, compress=True)


def ticket_for_csat_token(token: str) -> Ticket:
    """Return the ticket a rating link is for, or raise ValidationError saying why the link is no good."""
    try:
        pk = signing.loads(token, salt=CSAT_SALT, max_age=timedelta(days=CSAT_LINK_DAYS))
    except signing.SignatureExpired:
        raise ValidationError("This rating link has expired. You can still rate the ticket from its page.") from None
    except signing.BadSignature:
        raise ValidationError("This rating link is not valid. Copy the whole link from the email.") from None
    ticket = Ticket.objects.select_related("partner", "submitter").filter(pk=pk).first()
    if ticket is None:
        raise ValidationError("This ticket no longer exists.")
    return ticket


def _invite_to_rate(ticket: Ticket, now) -> None:
    if CsatResponse.objects.filter(ticket=ticket).exists():
        return
    link = f"{settings.PORTAL_URL}/csat/{csat_token(ticket)}/"
    Notification.objects.create(
        recipient=ticket.submitter,
        ticket=ticket,
        subject=f"[#{ticket.pk}] Resolved: how did we do?",
        body=render_to_string("emails/csat_invitation.txt", {"ticket": ticket, "link": link}),
        send_after=now,
    )


@transaction.atomic
def rate_ticket(ticket: Ticket, *, score: int, comment: str = "", by: User | None = None) -> CsatResponse:
    """Record the partner's rating of a resolved ticket (once); a low score opens a review item."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.is_open:
        raise ValidationError("A ticket can be rated once it is resolved.")
    if not 1 <= score <= 5:
        raise ValidationError({"score": "Choose a score from 1 to 5."})
    if CsatResponse.objects.filter(ticket=ticket).exists():
        raise ValidationError("This ticket has already been rated. Thank you!")
    response = CsatResponse.objects.create(ticket=ticket, score=score, comment=comment.strip(), by=by)
    if score <= CsatResponse.LOW:
        _open_low_score_review(ticket, response)
    return response


def _open_low_score_review(ticket: Ticket, response: CsatResponse) -> None:
    managers = list(User.objects.with_staff_role(StaffRole.SUPPORT_MANAGER).order_by("pk"))
    comment = f": “{response.comment}”" if response.comment else " (no comment)"
    ActionItem.objects.create(
        source=ActionItem.Source.LOW_CSAT,
        partner=ticket.partner,
        ticket=ticket,
        description=f"CSAT {response.score}/5 on #{ticket.pk} {ticket.title}{comment}",
        owner=managers[0] if managers else None,
        due_on=timezone.localdate() + timedelta(days=REVIEW_DAYS),
    )
    Notification.objects.bulk_create(
        Notification(
            recipient=manager,
            ticket=ticket,
            subject=f"[#{ticket.pk}] Low CSAT score: {response.score}/5",
            body=render_to_string(
                "emails/low_csat.txt", {"ticket": ticket, "response": response, "portal_url": settings.PORTAL_URL}
            ),
            send_after=response.at,
        )
        for manager in managers
    )


def add_action_item(
    partner: Partner, *, description: str, by: User, owner: User | None = None, due_on=None, review_month=None
) -> ActionItem:
    """Add an action item to a partner's monthly ops review."""
    if not description.strip():
        raise ValidationError({"description": "Say what has to be done."})
    return ActionItem.objects.create(
        source=ActionItem.Source.MONTHLY_REVIEW,
        partner=partner,
        description=description.strip(),
        owner=owner,
        due_on=due_on,
        review_month=review_month,
        created_by=by,
    )


@transaction.atomic
def close_action_item(item: ActionItem, *, outcome: str, by: User) -> ActionItem:
    """Close an action item with what was done."""
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if not item.is_open:
        raise ValidationError(f"This item was already closed on {timezone.localdate(item.closed_at):%d %b %Y}.")
    if not outcome.strip():
        raise ValidationError({"outcome": "Say what was done before closing the item."})
    with audit_context(action="close_action_item", actor=by.pk):
        item.closed_at, item.closed_by, item.outcome = timezone.now(), by, outcome.strip()
        item.save(update_fields=["closed_at", "closed_by", "outcome"])
    return item
