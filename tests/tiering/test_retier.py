"""The re-tier: attribution stored per partner, upgrades at once, drops grandfathered for a quarter and applied
only after a downgrade conversation, exit candidates flagged, idempotent re-runs, set-based queries."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.models import PartnerMotion
from tests.factories import PartnerFactory
from tiering import downgrades, policies, retier, retier_apply, upkeep
from tiering.ladder_rules import result_reason
from tiering.models import RetierResult, RetierRun, Standing, TierChange

from .conftest import TODAY, run_retier

LAST_YEAR = TODAY - dt.timedelta(days=365)


def standing_of(partner, resale):
    return Standing.objects.select_related("tier", "pending_tier").get(partner=partner, ladder=resale.ladder)


def test_partners_join_the_ladder_on_the_tier_their_figures_earn_with_the_reason(resale, record):
    selling = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    registered = record(PartnerFactory(), arr=10_000, certs=1)
    nothing = record(PartnerFactory(), arr=10_000)

    run = run_retier()

    assert run.status == "done" and (run.processed, run.total) == (3, 3)
    assert standing_of(selling, resale).tier.name == "Selling"
    assert standing_of(registered, resale).tier.name == "Registered"
    assert not Standing.objects.filter(partner=nothing).exists()
    result = RetierResult.objects.get(run=run, partner=selling)
    assert result.move == "entry"
    assert (
        result_reason(result)
        == "Meets Selling: ARR sourced $60,000 ≥ $50,000; Active sellers 4 ≥ 3; 4C qualification gate passed."
    )
    assert result.deciding == "ARR sourced"  # what keeps it from Specialist
    assert RetierResult.objects.get(run=run, partner=nothing).move == "unqualified"
    change = TierChange.objects.get(partner=selling)
    assert (change.kind, change.from_tier, change.to_tier.name, change.run, change.effective_on) == (
        "entry",
        None,
        "Selling",
        run,
        TODAY,
    )


def test_an_upgrade_takes_effect_at_once_and_is_kept_as_history(resale, record):
    partner = record(PartnerFactory(), arr=60_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    record(partner, arr=300_000, on=TODAY - dt.timedelta(days=10))

    run = run_retier()

    standing = standing_of(partner, resale)
    assert (standing.tier.name, standing.since, standing.grandfathered_until) == ("Specialist", TODAY, None)
    upgrade = TierChange.objects.get(partner=partner, kind="upgrade")
    assert (upgrade.from_tier.name, upgrade.to_tier.name, upgrade.run) == ("Selling", "Specialist", run)
    assert upgrade.reason.startswith("Meets Specialist: ARR sourced $300,000 ≥ $250,000")


def test_a_partner_who_would_drop_keeps_the_tier_for_a_quarter_and_drops_only_after_the_conversation(
    resale, record, program_manager
):
    partner = record(PartnerFactory(), arr=300_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    record(partner, arr=60_000, sellers=4, on=TODAY - dt.timedelta(days=10))  # last year's $300k left the window

    run = run_retier()

    standing = standing_of(partner, resale)
    assert standing.tier.name == "Specialist"  # kept, with its benefits
    assert (standing.grandfathered_until, standing.pending_tier.name) == (dt.date(2027, 2, 23), "Selling")
    assert RetierResult.objects.get(run=run, partner=partner).move == "down"
    assert not TierChange.objects.filter(partner=partner, kind="downgrade").exists()

    # The quarter passes without a conversation: nothing changes.
    assert downgrades.apply_due_downgrades(dt.date(2027, 3, 1)) == 0
    assert standing_of(partner, resale).tier.name == "Specialist"

    downgrades.record_downgrade_conversation(
        standing,
        by=program_manager,
        held_on=dt.date(2027, 3, 2),
        partner_contact="Dana, CEO",
        notes="Criteria, where you stand, what puts you back.",
        today=dt.date(2027, 3, 2),
    )
    standing = standing_of(partner, resale)
    assert (standing.tier.name, standing.grandfathered_until, standing.since) == ("Selling", None, dt.date(2027, 3, 2))
    downgrade = TierChange.objects.get(partner=partner, kind="downgrade")
    assert (downgrade.from_tier.name, downgrade.to_tier.name, downgrade.run, downgrade.effective_on) == (
        "Specialist",
        "Selling",
        run,
        dt.date(2027, 3, 2),
    )
    assert "Below Specialist" in downgrade.reason and "conversation with Dana, CEO" in downgrade.reason


def test_a_conversation_held_early_lets_the_drop_apply_the_day_after_the_grandfathering(
    resale, record, program_manager
):
    partner = record(PartnerFactory(), arr=300_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    run_retier()
    standing = standing_of(partner, resale)
    downgrades.record_downgrade_conversation(
        standing, by=program_manager, held_on=TODAY, partner_contact="Dana", notes="Talked it through.", today=TODAY
    )
    assert standing_of(partner, resale).tier.name == "Specialist"  # still grandfathered
    assert downgrades.apply_due_downgrades(standing.grandfathered_until) == 0
    assert downgrades.apply_due_downgrades(standing.grandfathered_until + dt.timedelta(days=1)) == 1
    assert standing_of(partner, resale).tier.name == "Registered"


def test_a_conversation_is_refused_without_a_pending_drop_or_before_it_was_decided(resale, record, program_manager):
    partner = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    run_retier()
    with pytest.raises(ValidationError, match="no pending downgrade"):
        downgrades.record_downgrade_conversation(
            standing_of(partner, resale), by=program_manager, held_on=TODAY, partner_contact="A", notes="B", today=TODAY
        )


def test_a_partner_qualifying_for_no_tier_is_an_exit_candidate_never_silently_dropped(resale, record):
    partner = record(PartnerFactory(), certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    partner.certifications.update(expires_on=TODAY - dt.timedelta(days=5))

    run = run_retier()

    standing = standing_of(partner, resale)
    assert standing.tier.name == "Registered" and standing.exit_candidate
    assert standing.pending_tier is None and standing.grandfathered_until is not None
    assert RetierResult.objects.get(run=run, partner=partner).move == "exit"


def test_running_the_same_re_tier_twice_gives_the_same_results_and_no_duplicate_changes(resale, record):
    up = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    down = record(PartnerFactory(), arr=300_000, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    first = run_retier()
    standings = list(Standing.objects.order_by("pk").values())
    changes = TierChange.objects.count()

    second = run_retier()
    third = run_retier()

    def results(run, *fields):
        return list(
            RetierResult.objects.filter(run=run)
            .order_by("partner")
            .values_list("partner", "computed_tier", "values", "deciding", *fields)
        )

    # The same figures give the same tiers; once applied, a run again gives exactly the same results.
    assert results(first) == results(second)
    assert results(second, "move") == results(third, "move")
    reasons = [result_reason(r) for r in RetierResult.objects.filter(run=second).order_by("partner")]
    assert reasons == [result_reason(r) for r in RetierResult.objects.filter(run=third).order_by("partner")]
    assert TierChange.objects.count() == changes
    assert [dict(s, updated_at=None) for s in Standing.objects.order_by("pk").values()] == [
        dict(s, updated_at=None) for s in standings
    ]
    assert {r.partner_id: r.move for r in RetierResult.objects.filter(run=second)} == {up.pk: "same", down.pk: "down"}


def test_a_dry_run_changes_nothing_and_reports_what_would_move(resale, record):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    record(PartnerFactory(), arr=2_000_000, certs=1)

    run = run_retier(kind="dry_run")

    assert not Standing.objects.exists() and not TierChange.objects.exists()
    summary = run.summary[str(resale.ladder.pk)]
    selling, strategic = str(resale.tiers["Selling"].pk), str(resale.tiers["Strategic"].pk)
    assert summary["before"] == {"none": 2}
    assert summary["after"] == {selling: 1, strategic: 1}
    assert summary["matrix"] == {"none": {selling: 1, strategic: 1}}
    assert summary["top_share_before"] == 0 and summary["top_share_after"] == 0.5


def test_a_what_if_of_a_draft_policy_shows_where_partners_would_land(resale, record, program_manager):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    run_retier()
    draft = policies.draft_next_version(resale.policy, by=program_manager)
    draft.criteria.filter(tier=resale.tiers["Selling"], metric=resale.metrics["arr"]).update(threshold=75_000)

    run = run_retier(kind="dry_run", policy=draft)

    summary = run.summary[str(resale.ladder.pk)]
    assert summary["matrix"] == {str(resale.tiers["Selling"].pk): {str(resale.tiers["Registered"].pk): 1}}
    assert summary["moves"] == {"down": 1}


def test_a_re_tier_with_a_chosen_policy_or_in_the_future_or_beside_another_is_refused(resale, program_manager):
    with pytest.raises(ValidationError, match="dry runs only"):
        retier.start_run(kind="apply", as_of=TODAY, by=None, policy=resale.policy)
    with pytest.raises(ValidationError, match="future"):
        retier.start_run(kind="apply", as_of=dt.date.today() + dt.timedelta(days=2), by=None)
    waiting = retier.start_run(kind="apply", as_of=TODAY, by=None)
    with pytest.raises(ValidationError, match=f"#{waiting.pk} .* not finished"):
        retier.start_run(kind="apply", as_of=TODAY, by=None)
    assert RetierRun.objects.count() == 1


def test_a_run_already_taken_by_a_worker_is_not_run_twice(resale, record):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    run = retier.start_run(kind="apply", as_of=TODAY, by=None)
    retier.execute_run(run)
    again = retier.execute_run(run)
    assert again.status == "done" and RetierResult.objects.filter(run=run).count() == 1


def test_the_query_count_of_a_re_tier_does_not_grow_with_the_number_of_partners(resale, record):
    def queries_for(count):
        for _ in range(count):
            record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
        with CaptureQueriesContext(connection) as captured:
            run_retier(kind="dry_run")
        return len(captured)

    small = queries_for(5)
    large = queries_for(60)  # 65 partners now
    assert small == large


def test_partners_who_left_the_motion_or_the_program_are_not_evaluated(resale, record):
    gone = record(PartnerFactory(status="exited"), arr=60_000, sellers=4, certs=1)
    left = record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    PartnerMotion.objects.filter(partner=left).delete()
    run = run_retier(kind="dry_run")
    assert run.total == 0 and not RetierResult.objects.filter(partner__in=[gone, left]).exists()


def test_the_retier_command_runs_a_dry_run_and_explains_bad_input(resale, record, capsys):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)
    call_command("retier", "--dry-run", "--ladder", "resale", "--as-of", TODAY.isoformat())
    out = capsys.readouterr().out
    assert "Dry run" in out and "entry 1" in out and "Nothing was changed." in out
    assert not Standing.objects.exists()
    with pytest.raises(CommandError, match="No ladder 'wholesale'"):
        call_command("retier", "--ladder", "wholesale")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("retier", "--as-of", "23/11/2026")
    call_command("retier", "--as-of", TODAY.isoformat())
    assert Standing.objects.get().tier.name == "Selling"


def test_the_annual_re_tier_runs_once_on_its_day(resale, record, settings):
    settings.RETIER_DATE = (1, 15)
    partner = record(PartnerFactory(), arr=60_000, sellers=4, certs=1, on=dt.date(2026, 1, 5))
    now = dt.datetime(2026, 1, 14, 3, 0, tzinfo=dt.UTC)
    assert "retier_run" not in upkeep.run_upkeep(now)
    done = upkeep.run_upkeep(now + dt.timedelta(days=1))
    run = RetierRun.objects.get(pk=done["retier_run"])
    assert (run.as_of, run.scheduled_for_year, run.status) == (dt.date(2026, 1, 15), 2026, "done")
    assert Standing.objects.get(partner=partner).tier.name == "Selling"
    assert "retier_run" not in upkeep.run_upkeep(now + dt.timedelta(days=2))


def test_a_manual_re_tier_after_the_annual_day_stands_in_for_the_scheduled_one(resale, record, settings):
    settings.RETIER_DATE = (1, 15)
    run_retier(dt.date(2026, 2, 1))
    assert "retier_run" not in upkeep.run_upkeep(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))


def test_published_policies_take_effect_on_their_day_and_retire_the_one_they_replace(resale, program_manager):
    from .conftest import make_policy

    upcoming = make_policy(
        resale.ladder, 2, resale.tiers, resale.metrics,
        [("Selling", "arr", 75_000), ("Specialist", "arr", 300_000), ("Strategic", "arr", 1_200_000)],
        published_on=TODAY, by=program_manager,
    )  # fmt: skip
    assert policies.activate_due_policies(upcoming.effective_from - dt.timedelta(days=1)) == 0
    assert policies.activate_due_policies(upcoming.effective_from) == 2
    resale.policy.refresh_from_db()
    upcoming.refresh_from_db()
    assert (upcoming.status, resale.policy.status, resale.policy.retired_on) == (
        "effective",
        "retired",
        upcoming.effective_from,
    )


def test_applying_a_re_tier_records_who_applied_it_and_refuses_a_dry_run(resale, record, program_manager):
    record(PartnerFactory(), arr=60_000, sellers=4, certs=1)

    run_retier(by=program_manager)
    dry_run = run_retier(kind="dry_run")

    assert TierChange.objects.get().recorded_by == program_manager
    with pytest.raises(ValidationError, match="is a dry run"):
        retier_apply.apply_retier(dry_run, by=program_manager)
