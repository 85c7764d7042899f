"""Program events in partners' webhooks: a re-tier's moves and pending drops, a drop applied after
the conversation, a published policy, released claims. Each is written with the change, to the
partner's own endpoints only."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from programs.models import WebhookMessage
from programs.webhooks import endpoints
from tests.factories import PartnerFactory
from tiering import downgrades, policies
from tiering.claims import release_claim, release_stale_claims
from tiering.models import AccountClaim, Policy, Standing

from .conftest import TODAY, run_retier

LAST_YEAR = TODAY - dt.timedelta(days=365)
PROGRAM_EVENTS = ["tier.changed", "tier.at_risk", "policy.published", "claim.released"]


@pytest.fixture
def subscribe(settings, partner_admin):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]

    def to(partner, admin=partner_admin, events=PROGRAM_EVENTS):
        return endpoints.register_endpoint(partner, url="http://127.0.0.1:9/hook", event_types=events, by=admin)[0]

    return to


def sent(event_type):
    """Return (partner id, data) of every message of `event_type`, oldest first."""
    messages = WebhookMessage.objects.filter(event_type=event_type).order_by("pk")
    return [(message.partner_id, json.loads(message.body)["data"]) for message in messages]


def test_a_re_tier_upgrade_reaches_the_partners_endpoint_with_its_reason(resale, record, partner, subscribe):
    record(partner, arr=60_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    quiet = record(PartnerFactory(), arr=60_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    subscribe(partner)
    run_retier(LAST_YEAR)
    record(partner, arr=300_000, on=TODAY - dt.timedelta(days=10))
    record(quiet, arr=300_000, on=TODAY - dt.timedelta(days=10))

    run_retier()

    (entry_partner, entry), (upgrade_partner, upgrade) = sent("tier.changed")
    assert (entry_partner, entry["change"], entry["from_tier"], entry["to_tier"]) == (
        partner.pk,
        "entry",
        None,
        "Selling",
    )
    assert (upgrade_partner, upgrade["change"], upgrade["from_tier"], upgrade["to_tier"]) == (
        partner.pk,
        "upgrade",
        "Selling",
        "Specialist",
    )
    assert upgrade["reason"].startswith("Meets Specialist: ARR sourced $300,000 ≥ $250,000")
    assert upgrade["motion"] == "Resale" and upgrade["effective_on"] == TODAY.isoformat()
    assert upgrade["url"].endswith("/tiers/")
    assert not WebhookMessage.objects.exclude(partner=partner).exists()  # the other partner has no endpoint


def test_a_pending_drop_is_told_at_once_and_the_drop_when_it_applies(
    resale, record, partner, subscribe, program_manager
):
    record(partner, arr=300_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    subscribe(partner)
    record(partner, arr=60_000, sellers=4, on=TODAY - dt.timedelta(days=10))

    run_retier()
    run_retier()  # a drop already pending is not told twice

    [(_, risk)] = sent("tier.at_risk")
    assert (risk["tier"], risk["would_drop_to"], risk["grandfathered_until"]) == ("Specialist", "Selling", "2027-02-23")
    assert sent("tier.changed") == []

    standing = Standing.objects.get(partner=partner, ladder=resale.ladder)
    downgrades.record_downgrade_conversation(
        standing, by=program_manager, held_on=dt.date(2027, 3, 2), partner_contact="Dana", notes="Talked.",
        today=dt.date(2027, 3, 2),
    )  # fmt: skip
    [(_, drop)] = sent("tier.changed")
    assert (drop["change"], drop["from_tier"], drop["to_tier"], drop["effective_on"]) == (
        "downgrade",
        "Specialist",
        "Selling",
        "2027-03-02",
    )
    assert "conversation with Dana" in drop["reason"]


def test_a_published_policy_reaches_every_subscribed_partner(
    resale, partner, subscribe, program_manager, other_partner_org, other_partner
):
    subscribe(partner)
    subscribe(other_partner_org, admin=other_partner)
    subscribe(partner, events=["ticket.created"])  # not subscribed to policies: nothing for this one
    draft = policies.draft_next_version(resale.policy, by=program_manager)
    Policy.objects.filter(pk=draft.pk).update(effective_from=TODAY + dt.timedelta(days=120))

    policies.publish_policy(draft, by=program_manager, today=TODAY)

    told = sent("policy.published")
    assert sorted(partner_id for partner_id, _ in told) == sorted([partner.pk, other_partner_org.pk])
    data = told[0][1]
    assert (data["ladder"], data["version"], data["effective_from"]) == ("Resale partners", 2, "2027-03-23")
    assert WebhookMessage.objects.get(partner=partner).deliveries.count() == 1


def test_a_refused_policy_tells_nobody(resale, partner, subscribe, program_manager):
    subscribe(partner)
    draft = policies.draft_next_version(resale.policy, by=program_manager)
    Policy.objects.filter(pk=draft.pk).update(effective_from=TODAY + dt.timedelta(days=10))
    with pytest.raises(Exception, match="90"):
        policies.publish_policy(draft, by=program_manager, today=TODAY)
    assert sent("policy.published") == []


def claim_of(partner, name, *, claimed_at):
    return AccountClaim.objects.create(
        partner=partner,
        account_name=name,
        account_key=name.lower(),
        claimed_at=claimed_at,
        expires_at=claimed_at + dt.timedelta(days=90),
    )


def test_released_claims_are_told_whether_withdrawn_or_swept(partner, partner_admin, subscribe, other_partner_org):
    subscribe(partner)
    now = timezone.now()
    withdrawn = claim_of(partner, "Acme Retail", claimed_at=now)
    claim_of(partner, "Quiet Ltd", claimed_at=now - dt.timedelta(days=40))
    claim_of(other_partner_org, "Elsewhere Inc", claimed_at=now - dt.timedelta(days=40))  # no endpoint

    release_claim(withdrawn, reason=AccountClaim.Release.WITHDRAWN, by=partner_admin)
    assert release_stale_claims(now, engagement_days=30) == {"expired": 0, "no_engagement": 2}

    told = sent("claim.released")
    assert [
        (partner_id, data["claim"]["account_name"], data["claim"]["release_reason"]) for partner_id, data in told
    ] == [
        (partner.pk, "Acme Retail", "withdrawn"),
        (partner.pk, "Quiet Ltd", "no_engagement"),
    ]
    assert told[1][1]["claim"]["release_reason_display"] == "No engagement logged"


def test_a_sweep_with_no_endpoint_anywhere_costs_one_question(partner):
    now = timezone.now()
    claim_of(partner, "Quiet Ltd", claimed_at=now - dt.timedelta(days=40))
    with CaptureQueriesContext(connection) as queries:
        release_stale_claims(now, engagement_days=30)
    about_webhooks = [query["sql"] for query in queries.captured_queries if "webhook" in query["sql"]]
    assert len(about_webhooks) == 1  # "who has endpoints?": no claim read back, no payload built
    assert not WebhookMessage.objects.exists()


def test_a_tier_at_risk_before_the_re_tier_is_sent_once(resale, record, partner, subscribe):
    from tiering import notices

    record(partner, arr=300_000, sellers=4, certs=1, on=dt.date(2025, 12, 20))  # out of the window by 15 January
    run_retier()
    subscribe(partner)
    noon = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    notices.check_at_risk(TODAY, now=noon)
    notices.check_at_risk(TODAY + dt.timedelta(days=1), now=noon + dt.timedelta(days=1))  # found again: not sent again
    [(_, risk)] = sent("tier.at_risk")
    assert (risk["stage"], risk["tier"], risk["retier_on"]) == ("next_retier", "Specialist", "2027-01-15")
    assert risk["reason"]
