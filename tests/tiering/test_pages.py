"""The partner's tier pages and the public program page show what the re-tier will do, to the right people."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from support.entitlement import plan_for_partner
from tests.factories import MotionFactory, PartnerFactory
from tiering.claims import release_stale_claims
from tiering.models import AccountClaim, Engagement, Ladder, Standing, Tier

from .conftest import TODAY, make_policy, run_retier

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_my_tiers_shows_the_tier_its_benefits_and_a_progress_bar_to_the_next_tier(
    client, resale, record, partner, partner_admin
):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    client.force_login(partner_admin)

    page = client.get(reverse("my_tiers")).content.decode()

    assert "Resale: Selling" in page
    assert "Progress to Specialist" in page
    assert '<progress max="100" value="24"' in page  # $60,000 of $250,000
    assert "$190,000 more" in page
    assert "To keep Selling" in page and "Active sellers ≥ 3" in page
    assert "support plan Essential" in page


def test_the_partner_home_shows_each_motions_progress_to_the_next_tier(client, resale, record, partner, partner_member):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    client.force_login(partner_member)

    home = client.get(reverse("home")).content.decode()

    assert "<strong>Resale</strong>: Selling" in home
    assert "To Specialist" in home and "ARR sourced: $190,000 more" in home
    assert '<progress max="100" value="24"' in home  # one criterion: $60,000 of $250,000


def test_a_grandfathered_partner_sees_the_date_it_keeps_its_tier_until(client, resale, record, partner, partner_admin):
    record(partner, arr=300_000, sellers=4, certs=1, on=TODAY - dt.timedelta(days=400))
    run_retier(TODAY - dt.timedelta(days=380))
    run_retier()
    client.force_login(partner_admin)

    page = client.get(reverse("my_tiers")).content.decode()
    home = client.get(reverse("home")).content.decode()

    assert "Grandfathered until 23 Feb 2027" in page and "Resale: Specialist" in page
    assert "Grandfathered until 23 Feb 2027" in home
    assert "which you keep until" in home  # on the support plan card too


def test_a_partner_whose_figures_leave_the_window_before_the_next_re_tier_is_told_it_is_at_risk(
    client, resale, record, partner, partner_admin, settings
):
    settings.RETIER_DATE = (1, 15)
    record(partner, arr=200_000, sellers=4, certs=1, on=dt.date(2026, 1, 10))  # gone by the re-tier of 15 Jan 2027
    record(partner, arr=60_000, sellers=4, on=dt.date(2026, 10, 1))
    run_retier()
    assert Standing.objects.get(partner=partner).tier.name == "Specialist"
    client.force_login(partner_admin)

    page = client.get(reverse("my_tiers")).content.decode()

    assert "At risk at the next re-tier on 15 Jan 2027" in page
    assert "you would be\n    Selling" in page or "you would be Selling" in " ".join(page.split())
    assert "To keep Specialist: record $190,000 more by 15 Jan 2027." in " ".join(page.split())  # what to do


def test_the_upcoming_policy_is_shown_beside_the_current_one_with_where_the_partner_would_land(
    client, resale, record, partner, partner_admin, program_manager
):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    make_policy(
        resale.ladder, 2, resale.tiers, resale.metrics,
        [("Registered", "certs", 1), ("Selling", "arr", 75_000), ("Specialist", "arr", 300_000), ("Strategic", "arr", 1_200_000)],
        published_on=TODAY - dt.timedelta(days=5), by=program_manager,
    )  # fmt: skip
    client.force_login(partner_admin)

    page = " ".join(client.get(reverse("my_tiers")).content.decode().split())

    assert "New criteria from 16 Feb 2027" in page
    assert "with today's figures you would be <strong>Registered</strong>" in page
    assert "ARR sourced ≥ $75,000" in page and "ARR sourced ≥ $50,000" in page


def test_the_tier_pages_query_count_does_not_grow_with_history(
    client, resale, record, partner, partner_admin, django_assert_max_num_queries
):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    client.force_login(partner_admin)
    with django_assert_max_num_queries(30) as small:
        client.get(reverse("my_tiers"))
    for days in range(1, 40):
        record(partner, arr=1_000, on=TODAY - dt.timedelta(days=days))
    run_retier()
    with django_assert_max_num_queries(len(small)):
        client.get(reverse("my_tiers"))


def test_the_partner_home_shows_each_tier_held_at_the_same_query_count(
    client, resale, partner, partner_admin, django_assert_max_num_queries
):
    Standing.objects.create(partner=partner, ladder=resale.ladder, tier=resale.tiers["Selling"], since=TODAY)
    client.force_login(partner_admin)
    with django_assert_max_num_queries(40) as one_tier:
        page = client.get(reverse("home")).content.decode()
    assert "<strong>Resale</strong>: Selling" in page
    for slug in ("services", "technology"):
        ladder = Ladder.objects.create(motion=MotionFactory(slug=slug), name=f"{slug.title()} partners")
        tier = Tier.objects.create(ladder=ladder, name=f"{slug.title()} entry", rank=1)
        Standing.objects.create(
            partner=partner, ladder=ladder, tier=tier, since=TODAY, grandfathered_until=TODAY + dt.timedelta(days=30)
        )
    with django_assert_max_num_queries(len(one_tier)):
        page = client.get(reverse("home")).content.decode()
    assert "<strong>Technology</strong>: Technology entry" in page


def test_the_program_page_is_public_and_lists_criteria_benefits_and_mdf_rules(client, resale):
    page = client.get(reverse("program")).content.decode()
    assert "Resale partners" in page
    assert "ARR sourced ≥ $250,000" in page
    assert "Named-account exclusivity" in page and "90 days, then released." in page


def test_the_support_plan_follows_the_best_tier_a_partner_holds(resale, record, partner):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    assert plan_for_partner(partner) == resale.plans["essential"]
    record(partner, arr=2_000_000, on=TODAY - dt.timedelta(days=3))
    run_retier()
    assert plan_for_partner(partner) == resale.plans["premier"]
    assert plan_for_partner(PartnerFactory()) is None


# --- Named accounts -----------------------------------------------------------------------------------


@pytest.fixture
def strategic(resale, record, partner, other_partner_org):
    """Both partners are Strategic: their tier includes named-account exclusivity."""
    record(partner, arr=2_000_000, certs=1)
    record(other_partner_org, arr=2_000_000, certs=1)
    run_retier()


def test_a_partner_claims_an_account_and_another_partner_is_told_it_is_held(
    client, strategic, partner_admin, other_partner
):
    client.force_login(partner_admin)
    response = client.post(reverse("account_claims"), {"account_name": "  Acme   Retail GmbH "})
    assert response.status_code == 302
    claim = AccountClaim.objects.get()
    assert (claim.account_name, claim.expires_at) == ("Acme Retail GmbH", NOW + dt.timedelta(days=90))

    client.force_login(other_partner)
    response = client.post(reverse("account_claims"), {"account_name": "acme retail gmbh"})
    assert response.status_code == 400
    assert "is held by another partner until 21 Feb 2027" in response.content.decode()
    assert AccountClaim.objects.count() == 1


def test_a_partner_without_exclusivity_in_its_tiers_cannot_claim(client, resale, record, partner, partner_admin):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    client.force_login(partner_admin)
    assert "is not among the benefits of your tiers" in client.get(reverse("account_claims")).content.decode()
    response = client.post(reverse("account_claims"), {"account_name": "Acme"})
    assert response.status_code == 400 and not AccountClaim.objects.exists()


def test_claims_are_released_after_90_days_or_30_quiet_days_and_engagement_keeps_them(
    client, strategic, partner, partner_admin
):
    client.force_login(partner_admin)
    for name in ("Quiet Ltd", "Busy Ltd"):
        client.post(reverse("account_claims"), {"account_name": name})
    busy = AccountClaim.objects.get(account_name="Busy Ltd")
    with time_machine.travel(NOW + dt.timedelta(days=20), tick=False):
        client.force_login(partner_admin)
        client.post(reverse("log_engagement", args=[busy.pk]), {"note": "Demo with their CTO"})
    assert Engagement.objects.filter(claim=busy).count() == 1

    released = release_stale_claims(NOW + dt.timedelta(days=31), engagement_days=30)

    assert released == {"expired": 0, "no_engagement": 1}
    assert AccountClaim.objects.get(account_name="Quiet Ltd").release_reason == "no_engagement"
    assert AccountClaim.objects.get(account_name="Busy Ltd").is_held
    assert release_stale_claims(NOW + dt.timedelta(days=90), engagement_days=30)["expired"] == 1


def test_engagement_on_another_partners_claim_answers_404(client, strategic, partner_admin, other_partner):
    client.force_login(partner_admin)
    client.post(reverse("account_claims"), {"account_name": "Acme"})
    claim = AccountClaim.objects.get()
    client.force_login(other_partner)
    assert client.post(reverse("log_engagement", args=[claim.pk]), {"note": "x"}).status_code == 404
    assert client.post(reverse("withdraw_claim", args=[claim.pk])).status_code == 404
    assert claim.engagements.count() == 0 and AccountClaim.objects.get().is_held


def test_a_partner_withdraws_its_claim_and_the_account_is_free_again(client, strategic, partner_admin, other_partner):
    client.force_login(partner_admin)
    client.post(reverse("account_claims"), {"account_name": "Acme"})
    claim = AccountClaim.objects.get()
    client.post(reverse("withdraw_claim", args=[claim.pk]))
    client.force_login(other_partner)
    assert client.post(reverse("account_claims"), {"account_name": "ACME"}).status_code == 302
    assert AccountClaim.objects.held().get().partner == other_partner.partner


def test_progress_to_the_next_tier_says_what_it_adds(client, resale, record, partner, partner_admin):
    record(partner, arr=300_000, sellers=4, certs=1)
    run_retier()
    client.force_login(partner_admin)
    page = " ".join(client.get(reverse("my_tiers")).content.decode().split())
    assert "Progress to Strategic" in page
    assert "Strategic adds: <strong>Named-account exclusivity</strong>" in page
