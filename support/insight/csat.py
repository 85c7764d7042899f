"""Satisfaction: the rating link, the rating, and the review a low score opens."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from programs.models import StaffRole, User
from support.models import (
    ActionItem,
    CsatResponse,
    Notification,
    Ticket,
)

CSAT_SALT = "support.csat"


CSAT_LINK_DAYS = 60


REVIEW_DAYS = 5  # a low score's review item is due this many days after the rating


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


def invite_to_rate(ticket: Ticket, now: datetime) -> None:
    """Queue the rating invitation for a resolved ticket: once, and never for a ticket already rated."""
    invited = Notification.objects.filter(ticket=ticket, kind=Notification.Kind.CSAT_INVITATION)
    if invited.exists() or CsatResponse.objects.filter(ticket=ticket).exists():
        return
    link = f"{settings.PORTAL_URL}/csat/{csat_token(ticket)}/"
    Notification.objects.create(
        kind=Notification.Kind.CSAT_INVITATION,
        recipient=ticket.submitter,
        ticket=ticket,
        subject=f"[#{ticket.pk}] Resolved: how did we do?",
        body=render_to_string("emails/csat_invitation.txt", {"ticket": ticket, "link": link}),
        send_after=now,
    )


@transaction.atomic
def withdraw_invitation(ticket: Ticket) -> None:
    """Take back a rating invitation not sent yet: the ticket is open again (resolving it again invites anew)."""
    Notification.objects.filter(ticket=ticket, kind=Notification.Kind.CSAT_INVITATION, sent_at__isnull=True).delete()


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
