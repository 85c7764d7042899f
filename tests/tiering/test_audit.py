"""The re-tier moves standings with set-based statements; the trigger-based trail still records each row."""

import datetime as dt

import pytest
from django.apps import apps
from django.db import connection

from tests.factories import PartnerFactory

from .conftest import TODAY, run_retier

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger-based audit runs on PostgreSQL"),
]


def test_every_standing_a_re_tier_moves_is_in_the_trail_with_the_run(resale, record, program_manager):
    partners = [
        record(PartnerFactory(), arr=60_000, sellers=4, certs=1, on=TODAY - dt.timedelta(days=400)) for _ in range(3)
    ]
    run_retier(TODAY - dt.timedelta(days=380))
    for partner in partners:
        record(partner, arr=300_000, sellers=4, on=TODAY - dt.timedelta(days=5))

    run = run_retier(by=program_manager)

    events = apps.get_model("tiering", "StandingEvent").objects.filter(pgh_label="update")
    assert events.count() == 3
    assert {event.tier_id for event in events} == {resale.tiers["Specialist"].pk}
    assert {event.pgh_context.metadata["run"] for event in events} == {run.pk}
    assert {event.pgh_context.metadata["action"] for event in events} == {"apply_retier"}
    assert {event.pgh_context.metadata["actor"] for event in events} == {program_manager.pk}
