"""The tiering API: a partner's standings with per-criterion progress; re-tier runs for program managers."""

import datetime as dt

import pytest
import time_machine

from .conftest import TODAY, make_policy, run_retier

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_partner_reads_its_tier_and_what_the_next_one_takes(api_client_for, resale, record, partner, partner_admin):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()

    [standing] = api_client_for(partner_admin).get("/api/v1/standings/").json()["results"]

    assert (standing["motion"], standing["tier"]) == ("resale", "Selling")
    assert standing["next_tier"]["tier"] == "Specialist" and standing["next_tier"]["passed"] is False
    [arr] = standing["next_tier"]["criteria"]
    assert (arr["label"], arr["threshold"], arr["value"], arr["progress"]) == (
        "ARR sourced",
        "250000.00",
        "60000.00",
        24,
    )
    assert standing["keep"]["passed"] is True
    assert {c["label"] for c in standing["keep"]["criteria"]} == {"ARR sourced", "Active sellers"}
    assert standing["upcoming_policy"] is None
    assert standing["policy"]["version"] == 1


def test_a_published_upcoming_policy_shows_where_the_partner_would_land(
    api_client_for, resale, record, partner, partner_admin, program_manager
):
    record(partner, arr=60_000, sellers=4, certs=1)
    run_retier()
    criteria = [
        ("Registered", "certs", 1),
        ("Selling", "arr", 100_000),
        ("Selling", "sellers", 3),
        ("Specialist", "arr", 250_000),
        ("Strategic", "arr", 1_000_000),
    ]
    make_policy(
        resale.ladder,
        2,
        resale.tiers,
        resale.metrics,
        criteria,
        published_on=TODAY,
        by=program_manager,
        effective_in=90,
    )

    [standing] = api_client_for(partner_admin).get("/api/v1/standings/").json()["results"]

    upcoming = standing["upcoming_policy"]
    assert upcoming["version"] == 2
    assert upcoming["landing_tier"] == "Registered"  # $60k is short of the new $100k for Selling
    selling = next(tier for tier in upcoming["tiers"] if tier["tier"] == "Selling")
    assert selling["passed"] is False


def test_the_motion_filter_narrows_the_standings(api_client_for, resale, record, partner, partner_admin):
    record(partner, arr=60_000, sellers=4, certs=1)
    client = api_client_for(partner_admin)
    assert client.get("/api/v1/standings/", {"motion": "services"}).json()["results"] == []
    assert len(client.get("/api/v1/standings/", {"motion": "resale"}).json()["results"]) == 1


def test_a_program_manager_reads_runs_and_their_results_with_attribution(
    api_client_for, resale, record, partner, program_manager
):
    record(partner, arr=300_000, sellers=4, certs=1)
    run = run_retier(kind="dry_run", by=program_manager)
    client = api_client_for(program_manager)

    runs = client.get("/api/v1/retier-runs/", {"kind": "dry_run"}).json()["results"]
    assert [(r["id"], r["status"], r["created_by"]) for r in runs] == [(run.pk, "done", program_manager.email)]
    [result] = client.get(f"/api/v1/retier-runs/{run.pk}/results/").json()["results"]
    assert (result["partner"], result["computed_tier"], result["move"]) == (partner.name, "Specialist", "entry")
    arr = next(c for c in result["criteria"] if c["tier"] == "Specialist")
    assert (arr["label"], arr["value"], arr["passed"]) == ("ARR sourced", "300000.00", True)
    assert client.get(f"/api/v1/retier-runs/{run.pk}/results/", {"move": "down"}).json()["count"] == 0
    assert client.get("/api/v1/retier-runs/999999/").status_code == 404


def test_partners_and_support_staff_do_not_read_runs(api_client_for, partner_admin, support_manager):
    for person in (partner_admin, support_manager):
        assert api_client_for(person).get("/api/v1/retier-runs/").status_code == 403
