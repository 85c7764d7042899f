"""Policy changes: publish a draft with the notice period, start the next version, put due policies in force."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import User

from . import webhooks
from .models import POLICY_NOTICE_DAYS, Criterion, Ladder, Policy, notice_error


@transaction.atomic
def publish_policy(policy: Policy, *, by: User, today: dt.date | None = None) -> Policy:
    """Publish a draft policy; it takes effect on its date, at least 90 days from today."""
    today = today or timezone.localdate()
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if not policy.is_draft:
        raise ValidationError(f"{policy} is already {policy.get_status_display().lower()}; only drafts are published.")
    if policy.effective_from is None:
        raise ValidationError(
            f"Set the day {policy} takes effect first: at least {POLICY_NOTICE_DAYS} days after publishing."
        )
    if policy.effective_from < today + dt.timedelta(days=POLICY_NOTICE_DAYS):
        raise ValidationError(notice_error(today))
    tiers = list(policy.ladder.tiers.annotate(criterion_count=Count("criteria", filter=Q(criteria__policy=policy))))
    if not tiers:
        raise ValidationError(f"{policy.ladder} has no tiers yet.")
    bare = [tier.name for tier in tiers if tier.criterion_count == 0 and not tier.is_entry]
    if bare:
        raise ValidationError(
            f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no criteria in {policy}: every partner "
            "passing the 4C gate would reach it. Add criteria before publishing."
        )
    if Policy.objects.announced().filter(ladder=policy.ladder, effective_from=policy.effective_from).exists():
        raise ValidationError(f"Another published policy of {policy.ladder} takes effect on {policy.effective_from}.")
    with audit_context(action="publish_policy", actor=by.pk):
        policy.status = Policy.Status.PUBLISHED
        policy.published_on = today
        policy.published_by = by
        policy.save(update_fields=["status", "published_on", "published_by"])
    webhooks.publish_policy_published(policy)
    # Where each partner would land takes a what-if run: a worker does it once this commits.
    transaction.on_commit(lambda: _tell_partners(policy.pk), robust=True)
    return policy


def _tell_partners(policy_id: int) -> None:
    from .tasks import policy_notices  # the task module imports the services

    policy_notices.delay(policy_id)


@transaction.atomic
def draft_next_version(policy: Policy, *, by: User) -> Policy:
    """Return a new draft of `policy`'s ladder with a copy of its criteria, to edit and publish."""
    latest = Policy.objects.select_for_update().filter(ladder=policy.ladder_id).order_by("-version").first()
    assert latest is not None  # `policy` itself is one of the ladder's versions
    with audit_context(action="draft_policy", actor=by.pk):
        draft = Policy.objects.create(
            ladder=policy.ladder, version=latest.version + 1, summary=f"Based on version {policy.version}."
        )
        Criterion.objects.bulk_create(
            Criterion(policy=draft, tier_id=c.tier_id, metric_id=c.metric_id, threshold=c.threshold, window=c.window)
            for c in policy.criteria.all()
        )
    return draft


def activate_due_policies(today: dt.date) -> int:
    """Mark each ladder's policy in force as effective and the ones it replaced as retired; return changes."""
    changed = 0
    for ladder in Ladder.objects.all():
        in_force = Policy.objects.in_force_on(ladder, today)
        if in_force is None:
            continue
        with transaction.atomic(), audit_context(action="activate_policies"):
            changed += Policy.objects.filter(pk=in_force.pk, status=Policy.Status.PUBLISHED).update(
                status=Policy.Status.EFFECTIVE
            )
            changed += (
                Policy.objects.filter(ladder=ladder, effective_from__lt=in_force.effective_from)
                .exclude(status__in=[Policy.Status.DRAFT, Policy.Status.RETIRED])
                .update(status=Policy.Status.RETIRED, retired_on=in_force.effective_from)
            )
    return changed
