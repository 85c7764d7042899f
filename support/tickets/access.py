"""Who may act on a ticket: support staff, or a person of the ticket's own partner."""

from django.core.exceptions import PermissionDenied

from programs.models import User
from support.models import Ticket

STAFF_ACTIONS = {"acknowledge", "start", "wait", "resolve", "close", "reopen"}
PARTNER_ACTIONS = {"close", "reopen"}


def is_ticket_partner(ticket: Ticket, user: User) -> bool:
    """Return whether `user` is a person of the partner that owns `ticket`."""
    membership = user.membership
    return membership is not None and membership.partner_id == ticket.partner_id


def require_ticket_partner(ticket: Ticket, user: User) -> None:
    """Raise PermissionDenied unless `user` is a person of the partner that owns `ticket`."""
    if not is_ticket_partner(ticket, user):
        raise PermissionDenied("This ticket belongs to another organisation.")


def require_may_change_status(ticket: Ticket, user: User, action: str) -> None:
    """Raise PermissionDenied unless `user` may make the status change `action` on `ticket`."""
    if user.is_support_staff:
        if action not in STAFF_ACTIONS:
            raise PermissionDenied("Support staff cannot do this.")
        return
    require_ticket_partner(ticket, user)
    if action not in PARTNER_ACTIONS:
        raise PermissionDenied("Only our support staff can do this.")
