"""The ticket lifecycle: filing, status changes through one transition table, replies, severity, assignment."""

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import EventType, Partner, User
from support.entitlement import plan_for_partner
from support.escalation.terms import escalation_snapshot
from support.insight.csat import invite_to_rate, withdraw_invitation
from support.knowledge.deflection import record_deflection
from support.models import (
    Deflection,
    IdempotencyKey,
    SupportPlan,
    Ticket,
    TicketAttachment,
    TicketEvent,
)
from support.tickets.access import (
    PARTNER_ACTIONS,
    STAFF_ACTIONS,
    is_ticket_partner,
    require_may_change_status,
    require_ticket_partner,
)
from support.tickets.clock import refresh_clock
from support.tickets.webhooks import publish_status_change, publish_ticket_event, timeline_entry

Status = Ticket.Status
Kind = TicketEvent.Kind

# (from statuses, to status, timeline kind) for each status change. Every change of a ticket's
# status goes through this table; "resume" is not offered as a button: a partner's reply while we
# wait on them makes it.
TRANSITIONS = {
    "acknowledge": ({Status.RECEIVED}, Status.ACKNOWLEDGED, Kind.ACKNOWLEDGED),
    "start": ({Status.RECEIVED, Status.ACKNOWLEDGED, Status.WAITING_ON_PARTNER}, Status.IN_PROGRESS, Kind.STARTED),
    "wait": ({Status.ACKNOWLEDGED, Status.IN_PROGRESS}, Status.WAITING_ON_PARTNER, Kind.WAITING),
    "resume": ({Status.WAITING_ON_PARTNER}, Status.IN_PROGRESS, Kind.RESUMED),
    "resolve": (
        {Status.RECEIVED, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_ON_PARTNER},
        Status.RESOLVED,
        Kind.RESOLVED,
    ),
    "close": ({Status.RESOLVED}, Status.CLOSED, Kind.CLOSED),
    "reopen": ({Status.RESOLVED, Status.CLOSED}, Status.IN_PROGRESS, Kind.REOPENED),
}


def available_actions(ticket: Ticket, user: User) -> list[str]:
    """Return the status changes `user` may make on `ticket` now, in lifecycle order."""
    if user.is_support_staff:
        allowed = STAFF_ACTIONS
    elif is_ticket_partner(ticket, user):
        allowed = PARTNER_ACTIONS
    else:
        allowed = set()
    return [name for name, (sources, _, _) in TRANSITIONS.items() if name in allowed and ticket.status in sources]


def add_timeline_event(ticket: Ticket, kind: str, by: User | None, **fields: Any) -> TicketEvent:
    """Add a timeline event, noting whether its actor acted as support staff at that moment.

    Stored, not looked up later: a first response stays one when the person changes role or leaves.
    """
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, actor=by, by_staff=bool(by and by.is_support_staff), **fields
    )


@transaction.atomic
def open_ticket(
    partner: Partner,
    *,
    submitter: User,
    attachments: Iterable["UploadedFile[bytes]"] = (),
    at: datetime | None = None,
    suggested_for: str = "",
    **fields: Any,
) -> Ticket:
    """File a ticket for `partner`, start its SLA clocks and send the automatic acknowledgement.

    `at` backdates the ticket, for imports from another helpdesk and the demo data; such a
    ticket gets no acknowledgement email (its submitter filed it long ago). `suggested_for` is the
    title knowledge-base suggestions were shown for: filing anyway is recorded as a deflection miss.
    """
    plan = _plan_to_file_under(partner, submitter)
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
        add_timeline_event(ticket, Kind.RECEIVED, submitter, at=now, to_value=ticket.severity)
        for upload in attachments:
            _store_attachment(ticket, upload, by=submitter, at=now)
        refresh_clock(ticket)
        if suggested_for:
            record_deflection(kind=Deflection.Kind.SUBMITTED, user=submitter, ticket=ticket, query=suggested_for)
    if at is None:  # a backdated ticket (an import, the demo) is news to nobody
        publish_ticket_event(ticket, EventType.TICKET_CREATED)
        transaction.on_commit(lambda: _send_auto_acknowledgement(ticket.pk), robust=True)
    return ticket


def _plan_to_file_under(partner: Partner, submitter: User) -> SupportPlan:
    """Return the plan a ticket of `partner` is filed under, or refuse who may not file or has no plan."""
    membership = submitter.membership
    if membership is None or membership.partner_id != partner.pk:
        raise PermissionDenied("You can only file tickets for your own organisation.")
    plan = plan_for_partner(partner)
    if plan is None:
        raise ValidationError(
            "Your organisation has no support plan yet: none of its tiers includes one. Ask your partner manager."
        )
    return plan


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request."""


def request_fingerprint(fields: dict[str, Any]) -> str:
    """Return a stable digest of a ticket request's fields, to tell a retry from a different request."""
    canonical = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def open_ticket_once(partner: Partner, *, submitter: User, key: str, **fields: Any) -> tuple[Ticket, bool]:
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
    add_timeline_event(ticket, Kind.AUTO_ACK, None, body=ticket.submitter.email)


@transaction.atomic
def transition_ticket(
    ticket: Ticket, *, action: str, by: User, message: str = "", at: datetime | None = None
) -> Ticket:
    """Move a ticket through its lifecycle (acknowledge, start, wait, resolve, close, reopen)."""
    if action not in TRANSITIONS:
        raise ValidationError(f"Unknown action “{action}”.")
    require_may_change_status(ticket, by, action)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    _refuse_unless_allowed(ticket, action)
    if action == "reopen" and not message.strip():
        raise ValidationError("Say why the ticket is reopened.")
    now = at or timezone.now()
    from_status = ticket.status
    with audit_context(action=f"ticket_{action}", actor=by.pk):
        _change_status(ticket, action, by=by, at=now, message=message.strip())
        refresh_clock(ticket)
        if ticket.status == Status.RESOLVED:
            invite_to_rate(ticket, now)
        publish_status_change(ticket, from_status=from_status, to_status=ticket.status)
    return ticket


def _refuse_unless_allowed(ticket: Ticket, action: str) -> None:
    allowed_from, _, kind = TRANSITIONS[action]
    if ticket.status not in allowed_from:
        raise ValidationError(
            f"A ticket that is {ticket.get_status_display().lower()} cannot be {kind.label.lower()} now."
        )


def _change_status(ticket: Ticket, action: str, *, by: User, at: datetime, message: str = "") -> None:
    """Apply the transition `action` to the locked `ticket`: its timeline event and status fields."""
    _refuse_unless_allowed(ticket, action)
    _, to_status, kind = TRANSITIONS[action]
    add_timeline_event(ticket, kind, by, at=at, body=message, from_value=ticket.status, to_value=to_status)
    ticket.status = to_status
    ticket.resolved_at = at if to_status == Status.RESOLVED else ticket.resolved_at
    ticket.closed_at = at if to_status == Status.CLOSED else None
    if action == "reopen":
        ticket.resolved_at = None
        withdraw_invitation(ticket)
    if by.is_support_staff and ticket.assignee_id is None:
        ticket.assignee = by
    ticket.save()


@transaction.atomic
def add_comment(
    ticket: Ticket,
    *,
    by: User,
    body: str,
    public: bool = True,
    attachments: Iterable["UploadedFile[bytes]"] = (),
    at: datetime | None = None,
) -> TicketEvent:
    """Add a reply (public) or an internal note; a partner's reply while we wait resumes the clock."""
    body = body.strip()
    if not body and not attachments:
        raise ValidationError({"body": "Write a message or attach a file."})
    staff = by.is_support_staff
    if not staff:
        require_ticket_partner(ticket, by)
        public = True
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = at or timezone.now()
    with audit_context(action="add_comment", actor=by.pk):
        event = add_timeline_event(ticket, Kind.COMMENT if public else Kind.NOTE, by, at=now, public=public, body=body)
        # The files stored with this message, for callers that answer with them (the API).
        event.stored_attachments = [
            _store_attachment(ticket, upload, by=by, at=now, public=public) for upload in attachments
        ]
        resumed = not staff and ticket.status == Status.WAITING_ON_PARTNER
        if resumed:
            _change_status(ticket, "resume", by=by, at=now)
        refresh_clock(ticket)
        if public:
            publish_ticket_event(ticket, EventType.TICKET_COMMENTED, comment=timeline_entry(event))
        if resumed:
            publish_status_change(ticket, from_status=Status.WAITING_ON_PARTNER, to_status=ticket.status)
    return event


def _store_attachment(
    ticket: Ticket, upload: "UploadedFile[bytes]", *, by: User, at: datetime, public: bool = True
) -> TicketAttachment:
    assert upload.name is not None and upload.size is not None  # an upload received has both
    attachment = TicketAttachment(
        ticket=ticket,
        original_name=upload.name[:200],
        content_type=upload.checked_content_type,  # type: ignore[attr-defined]  # stamped on the upload by check_upload
        size=upload.size,
        uploaded_by=by,
        uploaded_at=at,
        public=public,
    )
    attachment.file.save(upload.name, upload, save=False)
    attachment.save()
    add_timeline_event(ticket, Kind.ATTACHMENT, by, at=at, public=public, body=upload.name)
    return attachment


@transaction.atomic
def change_severity(ticket: Ticket, *, severity: str, by: User, reason: str) -> Ticket:
    """Change the severity and re-target both clocks from the original received time."""
    if not by.is_support_staff:
        raise PermissionDenied("Only our support staff can change the severity.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if severity == ticket.severity:
        raise ValidationError({"severity": "The ticket already has this severity."})
    with audit_context(action="change_severity", actor=by.pk):
        add_timeline_event(ticket, Kind.SEVERITY, by, from_value=ticket.severity, to_value=severity, body=reason)
        changed = {"changed": ["severity"], "from_severity": ticket.severity, "to_severity": severity}
        ticket.severity = severity
        ticket.save(update_fields=["severity", "updated_at"])
        refresh_clock(ticket)
        publish_ticket_event(ticket, EventType.TICKET_UPDATED, **changed)
    return ticket


@transaction.atomic
def assign_ticket(ticket: Ticket, *, assignee: User, by: User) -> Ticket:
    """Give the ticket to a support person."""
    if not by.is_support_staff or not assignee.is_support_staff:
        raise PermissionDenied("Tickets are assigned to and by support staff.")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    with audit_context(action="assign_ticket", actor=by.pk):
        add_timeline_event(
            ticket,
            Kind.ASSIGNED,
            by,
            public=False,
            from_value=ticket.assignee.email if ticket.assignee else "",
            to_value=assignee.email,
        )
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        publish_ticket_event(ticket, EventType.TICKET_UPDATED, changed=["assignee"])
    return ticket
