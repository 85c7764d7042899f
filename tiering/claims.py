"""Named-account exclusivity: claims held for 90 days at most, released early when no engagement is logged."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from partnerportal.audit import audit_context
from programs.models import Partner, User

from . import notices, webhooks
from .models import EXCLUSIVITY_DAYS, AccountClaim, Benefit, Engagement, Standing


def account_key(name: str) -> str:
    return " ".join(name.casefold().split())


def holds_exclusivity(partner: Partner) -> bool:
    """Return True when one of the partner's tiers (grandfathered ones included) includes exclusivity."""
    return Standing.objects.filter(
        partner=partner, tier__tier_benefits__benefit__kind=Benefit.Kind.EXCLUSIVITY
    ).exists()


@transaction.atomic
def claim_account(partner: Partner, *, account_name: str, by: User, now: dt.datetime | None = None) -> AccountClaim:
    """Give `partner` exclusivity on a named account for 90 days; refuse an account another partner holds."""
    now = now or timezone.now()
    membership = by.membership
    if membership is None or membership.partner_id != partner.pk:
        raise PermissionDenied("You can only claim accounts for your own organisation.")
    name = " ".join(account_name.split())
    if not name:
        raise ValidationError({"account_name": "Name the account."})
    if not holds_exclusivity(partner):
        raise ValidationError("Named-account exclusivity is not among the benefits of your tiers.")
    key = account_key(name)
    held = AccountClaim.objects.held().filter(account_key=key).select_related("partner").first()
    if held is not None:
        if held.partner_id == partner.pk:
            raise ValidationError(
                {"account_name": f"You already hold {held.account_name} until {held.expires_at:%d %b %Y}."}
            )
        raise ValidationError(
            {
                "account_name": f"{held.account_name} is held by another partner until {held.expires_at:%d %b %Y} "
                f"(or until {settings.EXCLUSIVITY_ENGAGEMENT_DAYS} days pass without engagement); claims are exclusive."
            }
        )
    try:
        with transaction.atomic(), audit_context(action="claim_account", actor=by.pk):
            return AccountClaim.objects.create(
                partner=partner,
                account_name=name,
                account_key=key,
                claimed_by=by,
                claimed_at=now,
                expires_at=now + dt.timedelta(days=EXCLUSIVITY_DAYS),
            )
    except IntegrityError as error:  # claimed by someone else a moment ago
        raise ValidationError({"account_name": f"{name} was just claimed by another partner."}) from error


@transaction.atomic
def log_engagement(claim: AccountClaim, *, by: User, note: str, now: dt.datetime | None = None) -> Engagement:
    """Log work on a held account: it keeps the claim from being released for lack of engagement."""
    now = now or timezone.now()
    claim = AccountClaim.objects.select_for_update().get(pk=claim.pk)
    membership = by.membership
    if membership is None or membership.partner_id != claim.partner_id:
        raise PermissionDenied("Only the partner holding the account logs engagement on it.")
    if not claim.is_held:
        raise ValidationError("This claim was released; claim the account again to work on it.")
    if not note.strip():
        raise ValidationError({"note": "Say what happened (a meeting, a proposal, a demo…)."})
    with audit_context(action="log_engagement", actor=by.pk):
        return Engagement.objects.create(claim=claim, logged_at=now, logged_by=by, note=note.strip())


@transaction.atomic
def release_claim(claim: AccountClaim, *, reason: str, by: User | None, now: dt.datetime | None = None) -> AccountClaim:
    """Release a held account (withdrawn by its partner or by the program)."""
    now = now or timezone.now()
    claim = AccountClaim.objects.select_for_update().get(pk=claim.pk)
    if by is not None and not by.is_portal_staff:
        membership = by.membership
        if membership is None or membership.partner_id != claim.partner_id:
            raise PermissionDenied("Only the partner holding the account can withdraw the claim.")
    if not claim.is_held:
        raise ValidationError("This claim is released already.")
    with audit_context(action="release_claim", actor=by.pk if by else None):
        claim.released_at = now
        claim.release_reason = reason
        claim.save(update_fields=["released_at", "release_reason"])
    webhooks.publish_claims_released([claim])
    notices.claims_released([claim], now=now)
    return claim


def release_stale_claims(now: dt.datetime, *, engagement_days: int) -> dict[str, int]:
    """Release held claims past their 90 days or without engagement for `engagement_days`; set-based."""
    quiet_since = now - dt.timedelta(days=engagement_days)
    recent = Engagement.objects.filter(claim=OuterRef("pk"), logged_at__gt=quiet_since)
    held = AccountClaim.objects.held()
    with transaction.atomic(), audit_context(action="release_stale_claims"):
        expired = held.filter(expires_at__lte=now).update(released_at=now, release_reason=AccountClaim.Release.EXPIRED)
        quiet = (
            held.filter(claimed_at__lte=quiet_since)
            .exclude(Exists(recent))
            .update(released_at=now, release_reason=AccountClaim.Release.NO_ENGAGEMENT)
        )
        if expired or quiet:  # the claims this sweep released carry its exact time
            released = list(AccountClaim.objects.filter(released_at=now).order_by("pk"))
            notices.claims_released(released, now=now)
            subscribed = webhooks.subscribed_partners()
            webhooks.publish_claims_released(claim for claim in released if claim.partner_id in subscribed)
    return {"expired": expired, "no_engagement": quiet}
