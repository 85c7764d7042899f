"""Program events for partners' webhooks: tier moves, pending drops, published policies, released claims.

Written to the outbox in the transaction of the change, like the ticket events. The re-tier and
the claim sweep are set-based, so each asks once which partners have endpoints at all and builds
payloads only for those: a program with no webhook costs one query per run, whatever its size.
"""

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse

from programs.models import EventType, WebhookEndpoint
from programs.webhooks.outbox import Event, publish_many

from .ladder_rules import ResultWording
from .models import AccountClaim, Ladder, Policy, RetierResult, Standing, Tier


def subscribed_partners() -> set[int]:
    """Return the ids of partners with at least one endpoint (paused ones too: their events wait)."""
    return set(WebhookEndpoint.objects.values_list("partner_id", flat=True).distinct())


def _link(name: str) -> str:
    return f"{settings.PORTAL_URL}{reverse(name)}"


@dataclass(frozen=True)
class Move:
    """A tier change as recorded in the history (entry, upgrade, downgrade or exit)."""

    partner_id: int
    ladder_id: int
    kind: str
    from_tier_id: int | None
    to_tier_id: int | None
    reason: str
    effective_on: dt.date


def publish_tier_changes(moves: Iterable[Move], *, partners: Collection[int] | None = None) -> int:
    """Write a `tier.changed` event per move of a partner with endpoints; `partners`: those, if known."""
    subscribed = subscribed_partners() if partners is None else partners
    moves = [move for move in moves if move.partner_id in subscribed]
    if not moves:
        return 0
    ladders = Ladder.objects.select_related("motion").in_bulk({move.ladder_id for move in moves})
    tier_ids = {tier for move in moves for tier in (move.from_tier_id, move.to_tier_id) if tier}
    tiers = dict(Tier.objects.filter(pk__in=tier_ids).values_list("pk", "name"))
    url = _link("my_tiers")
    return publish_many(
        Event(
            move.partner_id,
            EventType.TIER_CHANGED,
            {
                "motion": ladders[move.ladder_id].motion.name,
                "ladder": ladders[move.ladder_id].name,
                "change": move.kind,
                "from_tier": tiers.get(move.from_tier_id) if move.from_tier_id else None,
                "to_tier": tiers.get(move.to_tier_id) if move.to_tier_id else None,
                "reason": move.reason,
                "effective_on": move.effective_on,
                "url": url,
            },
        )
        for move in moves
    )


def publish_pending_drops(standings: Iterable[Standing]) -> int:
    """Write a `tier.at_risk` event per standing a re-tier has just marked for a drop after grandfathering."""
    url = _link("my_tiers")
    events = [
        Event(
            standing.partner_id,
            EventType.TIER_AT_RISK,
            {
                "motion": standing.ladder.motion.name,
                "ladder": standing.ladder.name,
                "tier": standing.tier.name if standing.tier else None,
                "would_drop_to": standing.pending_tier.name if standing.pending_tier else None,
                "stage": "grandfathered",
                "grandfathered_until": standing.grandfathered_until,
                "reason": "Below the tier's criteria at the re-tier: the benefits stay until the date, "
                "and the drop waits for a conversation with your partner manager.",
                "url": url,
            },
        )
        for standing in standings
    ]
    return publish_many(events)


def publish_at_risk(results: Sequence[RetierResult], retier: dt.date, wording: ResultWording) -> int:
    """Write a `tier.at_risk` event per standing that would drop at the next re-tier (its what-if results)."""
    url = _link("my_tiers")
    return publish_many(
        Event(
            result.partner_id,
            EventType.TIER_AT_RISK,
            {
                "motion": result.ladder.motion.name,
                "ladder": result.ladder.name,
                "stage": "next_retier",
                "tier": result.current_tier.name if result.current_tier else None,
                "would_drop_to": result.computed_tier.name if result.computed_tier else None,
                "retier_on": retier,
                "reason": wording.reason(result),
                "url": url,
            },
        )
        for result in results
    )


def publish_policy_published(policy: Policy) -> int:
    """Write a `policy.published` event for every partner with endpoints (the program is public)."""
    partners = subscribed_partners()
    if not partners:
        return 0
    data = {
        "motion": policy.ladder.motion.name,
        "ladder": policy.ladder.name,
        "version": policy.version,
        "summary": policy.summary,
        "published_on": policy.published_on,
        "effective_from": policy.effective_from,
        "url": _link("program"),
    }
    return publish_many(Event(partner_id, EventType.POLICY_PUBLISHED, data) for partner_id in sorted(partners))


def claim_payload(claim: AccountClaim) -> dict[str, Any]:
    return {
        "claim": {
            "id": claim.pk,
            "account_name": claim.account_name,
            "claimed_at": claim.claimed_at,
            "expires_at": claim.expires_at,
            "released_at": claim.released_at,
            "release_reason": claim.release_reason,
            "release_reason_display": claim.get_release_reason_display(),
        },
        "url": _link("account_claims"),
    }


def publish_claims_released(claims: Iterable[AccountClaim]) -> int:
    """Write a `claim.released` event per released claim (its partner's endpoints only)."""
    return publish_many(Event(claim.partner_id, EventType.CLAIM_RELEASED, claim_payload(claim)) for claim in claims)
