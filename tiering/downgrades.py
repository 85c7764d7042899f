"""Downgrades: a drop found by a re-tier is grandfathered, and applies only after a recorded conversation.

A partner who would drop keeps its tier until the grandfathering date; the drop then applies once
a downgrade conversation held after the drop was decided is on record (whichever comes last).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import User

from . import notices, webhooks
from .ladder_rules import result_reason
from .models import DowngradeConversation, RetierResult, Standing, TierChange


@transaction.atomic
def record_downgrade_conversation(
    standing: Standing, *, by: User, held_on: dt.date, partner_contact: str, notes: str, today: dt.date | None = None
) -> DowngradeConversation:
    """Record the downgrade conversation; the drop applies now if its grandfathering is over."""
    today = today or timezone.localdate()
    standing = Standing.objects.select_for_update(of=("self",)).select_related("partner", "tier").get(pk=standing.pk)
    if not standing.has_pending_drop:
        raise ValidationError(f"{standing.partner} has no pending downgrade in {standing.ladder}: nothing to record.")
    assert standing.pending_since is not None and standing.grandfathered_until is not None  # a pending drop has both
    if held_on > today:
        raise ValidationError({"held_on": "Record a conversation once it has been held, not before."})
    if held_on < standing.pending_since:
        raise ValidationError(
            {"held_on": f"The drop was decided on {standing.pending_since:%d %b %Y}; talk to the partner after that."}
        )
    if not notes.strip() or not partner_contact.strip():
        raise ValidationError("Say whom you spoke to and what was said.")
    with audit_context(action="record_downgrade_conversation", actor=by.pk):
        conversation = DowngradeConversation.objects.create(
            standing=standing, held_on=held_on, held_by=by, partner_contact=partner_contact.strip(), notes=notes.strip()
        )
        if standing.grandfathered_until < today:
            _apply_drop(standing, today=today, by=by)
    return conversation


def apply_due_downgrades(today: dt.date) -> int:
    """Apply every drop whose grandfathering is over and whose conversation is on record; return how many."""
    talked = DowngradeConversation.objects.filter(standing=OuterRef("pk"), held_on__gte=OuterRef("pending_since"))
    due = Standing.objects.filter(grandfathered_until__lt=today).filter(Exists(talked)).values_list("pk", flat=True)
    applied = 0
    for pk in list(due):
        with transaction.atomic(), audit_context(action="apply_downgrade"):
            standing = Standing.objects.select_for_update().get(pk=pk)
            if (
                standing.has_pending_drop
                and standing.grandfathered_until is not None
                and standing.grandfathered_until < today
            ):
                _apply_drop(standing, today=today, by=None)
                applied += 1
    return applied


def _apply_drop(standing: Standing, *, today: dt.date, by: User | None) -> None:
    result = (
        RetierResult.objects.filter(run=standing.pending_run_id, partner=standing.partner_id, ladder=standing.ladder_id)
        .select_related("run")
        .first()
    )
    reason = (result_reason(result) if result else "") or "Below the tier's criteria at the last re-tier."
    talk = standing.conversations.order_by("-held_on", "-pk").first()
    assert talk is not None and standing.grandfathered_until is not None  # a drop applies only after both
    change = TierChange.objects.create(
        partner_id=standing.partner_id,
        ladder_id=standing.ladder_id,
        kind=TierChange.Kind.DOWNGRADE if standing.pending_tier_id else TierChange.Kind.EXIT,
        from_tier_id=standing.tier_id,
        to_tier_id=standing.pending_tier_id,
        run_id=standing.pending_run_id,
        reason=f"{reason} Grandfathered until {standing.grandfathered_until:%d %b %Y}; "
        f"conversation with {talk.partner_contact} on {talk.held_on:%d %b %Y}.",
        effective_on=today,
        recorded_by=by,
    )
    move = webhooks.Move(
        change.partner_id, change.ladder_id, change.kind, change.from_tier_id, change.to_tier_id, change.reason, today
    )
    webhooks.publish_tier_changes([move])
    notices.tier_changes([move])
    standing.tier_id = standing.pending_tier_id
    standing.since = today
    standing.grandfathered_until = None
    standing.pending_since = None
    standing.pending_tier = None
    standing.pending_run = None
    standing.save()
