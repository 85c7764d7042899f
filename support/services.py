"""Ticket changes. Each transition has exactly one function here; pages, commands and tasks call them."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import SUPPORT_ROLES, Partner, User

from . import sla
from .models import SeverityTarget, SupportPlan, Ticket, TicketAttachment, TicketEvent

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
        ticket = Ticket.objects.create(partner=partner, submitter=submitter, plan=plan, received_at=now, **fields)
        _record(ticket, Kind.RECEIVED, submitter, at=now, to_value=ticket.severity)
        for upload in attachments:
            _store_attachment(ticket, upload, by=submitter, at=now)
        refresh_clock(ticket)
    if at is None:
        transaction.on_commit(lambda: _send_auto_acknowledgement(ticket.pk), robust=True)
    return ticket


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
        for upload in attachments:
            _store_attachment(ticket, upload, by=by, at=now, public=public)
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
    )


def timeline_of(ticket: Ticket) -> list[sla.TimelineEntry]:
    return [
        sla.TimelineEntry(kind=kind, at=at, by_staff=by_staff, public=public)
        for kind, at, by_staff, public in ticket.events.order_by("at", "pk").values_list(
            "kind", "at", "by_staff", "public"
        )
    ]


def clock_for(ticket: Ticket, calendar_cache: dict | None = None) -> sla.Clock:
    """Return the clock `ticket`'s events, plan and calendar give now."""
    calendar_cache = {} if calendar_cache is None else calendar_cache
    plan = ticket.plan
    key = (plan.calendar_id, ticket.received_at.year)
    if key not in calendar_cache:
        years = range(ticket.received_at.year - 1, ticket.received_at.year + 3)
        calendar_cache[key] = plan.calendar.to_businesstime(years)
    return sla.compute_clock(
        received_at=ticket.received_at,
        timeline=timeline_of(ticket),
        targets=_targets(ticket),
        calendar=calendar_cache[key],
    )


def refresh_clock(ticket: Ticket, calendar_cache: dict | None = None) -> dict:
    """Recompute and store the ticket's SLA clock; return the fields that moved (old, new)."""
    clock = clock_for(ticket, calendar_cache)
    new = {
        "first_response_at": clock.first_response_at,
        "first_response_due": clock.first_response_due,
        "first_response_warn_at": clock.first_response_warn_at,
        "resolution_due": clock.resolution_due,
        "resolution_warn_at": clock.resolution_warn_at,
        "paused_seconds": int(clock.paused.total_seconds()),
    }
    moved = {name: (getattr(ticket, name), value) for name, value in new.items() if getattr(ticket, name) != value}
    for name, value in new.items():
        setattr(ticket, name, value)
    recorded = set(ticket.events.filter(kind__in=[Kind.SLA_WARNING, Kind.SLA_BREACH]).values_list("kind", "sla_target"))
    ticket.next_sla_check_at = sla.next_check(ticket, recorded)
    ticket.next_due_at = ticket.compute_next_due()
    Ticket.objects.filter(pk=ticket.pk).update(
        **new, next_sla_check_at=ticket.next_sla_check_at, next_due_at=ticket.next_due_at
    )
    return moved
