"""Program manager tools in the admin: design warnings, the 90-day rule, runs with their report, conversations."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import PartnerFactory
from tiering.models import Benefit, Criterion, Ladder, Policy, RetierRun, Standing

from .conftest import TODAY, run_retier


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_admin_warns_about_five_tiers_and_metal_names(client, program_manager, resale):
    client.force_login(program_manager)
    url = reverse("admin:tiering_ladder_change", args=[resale.ladder.pk])
    tiers = list(resale.ladder.tiers.all())
    data = {"motion": resale.motion.pk, "name": "Resale partners", "description": ""}
    rows = [(t.pk, t.rank, t.name) for t in tiers] + [(None, 5, "Platinum")]
    data |= {
        "tiers-TOTAL_FORMS": len(rows),
        "tiers-INITIAL_FORMS": len(tiers),
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
    }
    for i, (pk, rank, name) in enumerate(rows):
        data |= {
            f"tiers-{i}-id": pk or "",
            f"tiers-{i}-ladder": resale.ladder.pk,
            f"tiers-{i}-rank": rank,
            f"tiers-{i}-name": name,
        }
    response = client.post(url, data, follow=True)
    notes = " ".join(messages_of(response))
    assert "has 5 tiers" in notes and "Metal names (Platinum)" in notes
    assert resale.ladder.tiers.count() == 5  # a warning, not a refusal


def test_a_costly_benefit_without_its_offsetting_rule_is_refused(client, program_manager, db):
    client.force_login(program_manager)
    response = client.post(
        reverse("admin:tiering_benefit_add"),
        {"name": "Higher margin", "kind": "margin", "is_costly": "on", "offsetting_rule": "", "description": ""},
    )
    assert response.status_code == 200
    assert "A costly benefit needs its offsetting rule" in response.content.decode()
    assert not Benefit.objects.filter(name="Higher margin").exists()


def draft(resale, effective_from):
    policy = Policy.objects.create(ladder=resale.ladder, version=2, effective_from=effective_from)
    for criterion in resale.policy.criteria.all():
        Criterion.objects.create(
            policy=policy, tier=criterion.tier, metric=criterion.metric, threshold=criterion.threshold
        )
    return policy


def publish(client, policy):
    return client.post(
        reverse("admin:tiering_policy_changelist"),
        {"action": "publish", "_selected_action": [policy.pk]},
        follow=True,
    )


def test_publishing_criteria_less_than_90_days_ahead_is_refused_with_the_earliest_date(client, program_manager, resale):
    client.force_login(program_manager)
    today = dt.date.today()
    policy = draft(resale, today + dt.timedelta(days=60))
    notes = messages_of(publish(client, policy))
    earliest = today + dt.timedelta(days=90)
    assert any(f"the earliest date is {earliest:%d %b %Y}" in note for note in notes), notes
    policy.refresh_from_db()
    assert policy.status == "draft"

    Policy.objects.filter(pk=policy.pk).update(effective_from=earliest)
    publish(client, policy)
    policy.refresh_from_db()
    assert (policy.status, policy.published_on, policy.published_by) == ("published", today, program_manager)


def test_published_criteria_cannot_be_edited_in_the_admin(client, program_manager, resale):
    client.force_login(program_manager)
    page = client.get(reverse("admin:tiering_policy_change", args=[resale.policy.pk])).content.decode()
    assert 'name="criteria-0-threshold"' not in page
    assert "Effective" in page


def test_a_program_manager_starts_a_dry_run_and_reads_its_report(
    client, program_manager, resale, record, django_capture_on_commit_callbacks
):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    client.force_login(program_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:tiering_retierrun_start"), {"kind": "dry_run", "as_of": TODAY.isoformat()}
        )
    run = RetierRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:tiering_retierrun_change", args=[run.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert run.status == "done" or RetierRun.objects.get().status == "done"
    assert "Movement: from (rows) → to (columns)" in page and "Joins the ladder: 1" in page
    assert "Share of partners in the top tier (Strategic)" in page
    summary = b"".join(client.get(reverse("admin:tiering_retierrun_csv", args=[run.pk, "summary"])).streaming_content)
    assert b"Resale partners,movement,No tier,Selling,1" in summary
    results = b"".join(client.get(reverse("admin:tiering_retierrun_csv", args=[run.pk, "results"])).streaming_content)
    assert b"Selling \xc2\xb7 ARR sourced: $60,000 / $50,000 (met)" in results
    assert not Standing.objects.exists()


def test_a_bad_run_request_is_refused_with_a_clear_message(client, program_manager, resale):
    client.force_login(program_manager)
    response = client.post(
        reverse("admin:tiering_retierrun_start"),
        {"kind": "apply", "as_of": TODAY.isoformat(), "policy": resale.policy.pk},
    )
    assert response.status_code == 400
    assert "a chosen policy is for dry runs only" in response.content.decode()
    assert not RetierRun.objects.exists()


def test_a_support_manager_reads_runs_but_cannot_start_one(client, support_manager, resale):
    client.force_login(support_manager)
    assert client.get(reverse("admin:tiering_retierrun_changelist")).status_code == 200
    assert client.get(reverse("admin:tiering_retierrun_start")).status_code == 403


def test_the_result_page_shows_each_criterion_with_value_threshold_window_and_margin(
    client, program_manager, resale, record
):
    partner = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    run = run_retier(kind="dry_run")
    client.force_login(program_manager)
    result = run.results.get(partner=partner)
    page = client.get(reverse("admin:tiering_retierresult_change", args=[result.pk])).content.decode()
    assert "<td>Specialist</td><td>ARR sourced</td><td>$60,000</td><td>$250,000</td>" in page
    assert "-$190,000" in page and "Deciding criterion: <strong>ARR sourced</strong>" in page


@pytest.fixture
def pending(resale, record):
    partner = record(PartnerFactory(), arr=300_000, sellers=4, certs=1, on=TODAY - dt.timedelta(days=500))
    run_retier(TODAY - dt.timedelta(days=480))  # Specialist
    run_retier(TODAY - dt.timedelta(days=120))  # the $300k left the window: grandfathered for a quarter, now over
    return Standing.objects.get(partner=partner)


def test_recording_the_conversation_after_the_grandfathering_applies_the_drop(client, program_manager, pending):
    client.force_login(program_manager)
    url = reverse("admin:tiering_standing_conversation", args=[pending.pk])
    response = client.post(
        url, {"held_on": (dt.date.today() + dt.timedelta(days=3)).isoformat(), "partner_contact": "Dana", "notes": "x"}
    )
    assert response.status_code == 400 and "once it has been held" in response.content.decode()
    assert Standing.objects.get(pk=pending.pk).tier.name == "Specialist"

    response = client.post(
        url,
        {"held_on": dt.date.today().isoformat(), "partner_contact": "Dana, CEO", "notes": "Explained the criteria."},
        follow=True,
    )
    assert "the drop applied today" in " ".join(messages_of(response))
    assert Standing.objects.get(pk=pending.pk).tier.name == "Registered"
    assert Ladder.objects.get().standings.get().conversations.get().held_by == program_manager


def test_a_result_page_shows_the_attribution_the_run_stored(client, program_manager, resale, record):
    partner = record(PartnerFactory(), arr=60_000, sellers=2, certs=1)
    run = run_retier(kind="dry_run")
    result = run.results.get(partner=partner)
    client.force_login(program_manager)

    page = client.get(reverse("admin:tiering_retierresult_change", args=[result.pk])).content.decode()

    assert "<td>Selling</td><td>ARR sourced</td><td>$60,000</td><td>$50,000</td>" in page
    assert "<td>Selling</td><td>Active sellers</td><td>2</td><td>3</td>" in page
    assert "<td>fail</td><td>-1</td>" in page and "<td>pass</td><td>$10,000</td>" in page
    assert "4C gate: passed. Deciding criterion: <strong>Active sellers</strong>." in page


def test_the_partner_admin_page_lists_the_partner_s_tiers(client, program_manager, resale, record):
    partner = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    run_retier()
    client.force_login(program_manager)

    page = client.get(reverse("admin:programs_partner_change", args=[partner.pk])).content.decode()

    assert 'id="standings-group"' in page and "Selling" in page


def test_a_published_policy_shows_its_thresholds_as_people_read_them_and_cannot_be_deleted(
    client, program_manager, resale
):
    client.force_login(program_manager)
    page = client.get(reverse("admin:tiering_policy_change", args=[resale.policy.pk])).content.decode()
    assert "$250,000" in page and "250000.00" not in page
    assert reverse("admin:tiering_policy_delete", args=[resale.policy.pk]) not in page
    assert client.get(reverse("admin:tiering_policy_delete", args=[resale.policy.pk])).status_code == 403
    listing = client.get(reverse("admin:tiering_policy_changelist")).content.decode()
    assert 'value="delete_selected"' not in listing
    assert Policy.objects.filter(pk=resale.policy.pk).exists()


def test_standings_name_exit_candidates_and_show_a_dash_for_the_others(client, program_manager, resale):
    client.force_login(program_manager)
    candidate, other = PartnerFactory(name="Candidate Co"), PartnerFactory(name="Steady Co")
    selling = resale.tiers["Selling"]
    Standing.objects.create(partner=candidate, ladder=resale.ladder, tier=selling, since=TODAY, exit_candidate=True)
    Standing.objects.create(partner=other, ladder=resale.ladder, tier=selling, since=TODAY)
    page = client.get(reverse("admin:tiering_standing_changelist")).content.decode()
    assert "Exit candidate</td>" in page or ">Exit candidate<" in page
    assert "icon-no.svg" not in page  # no red ✗ for "not an exit candidate"
