"""Action items of the monthly operations review and of low-score reviews."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import Partner, User
from support.models import ActionItem


def add_action_item(
    partner: Partner,
    *,
    description: str,
    by: User,
    owner: User | None = None,
    due_on: date | None = None,
    review_month: date | None = None,
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
