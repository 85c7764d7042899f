"""On PostgreSQL, sweeps running at once or cut off halfway perform every due escalation exactly once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from support.models import Escalation, Ticket, TicketEvent
from support.tickets import sweep
from support.tickets.sweep import sweep_slas
from tests.concurrency import at_once
from tests.factories import copy_ticket, file_ticket

from .test_escalation import desk  # noqa: F401 (the fixture)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED are PostgreSQL's"),
]
TICKETS = 400


@pytest.fixture
def breached(desk, partner, partner_member):  # noqa: F811
    """400 P2 tickets received two days ago: each is due for L1 (entry), L2 (no response) and L3 (unresolved)."""
    template = file_ticket(partner, partner_member, severity="P2", at=timezone.now() - timedelta(days=2))
    copy_ticket(template, TICKETS - 1)
    return Ticket.objects.all()


def assert_each_level_exactly_once():
    assert Escalation.objects.count() == TICKETS * 3
    for level in (1, 2, 3):
        assert Escalation.objects.filter(level=level).values("ticket").distinct().count() == TICKETS
    assert TicketEvent.objects.filter(kind="escalated").count() == TICKETS * 3
    assert set(Ticket.objects.values_list("escalation_level", flat=True)) == {3}


def test_two_sweeps_at_once_escalate_every_ticket_once_per_level(breached):
    _, errors = at_once([lambda: sweep_slas(batch_size=37, notify=False)] * 3)
    assert not errors
    assert_each_level_exactly_once()
    assert not Ticket.objects.filter(next_sla_check_at__lte=timezone.now()).exists()


def test_a_sweep_cut_off_halfway_loses_nothing_and_repeats_nothing(breached, monkeypatch):
    calls = {"n": 0}
    real = sweep._sweep_batch_in_sql

    def dies_on_the_third_batch(*args, **kwargs):
        escalated = real(*args, **kwargs)  # the third batch's statement has run, then the worker dies
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("worker killed")
        return escalated

    monkeypatch.setattr(sweep, "_sweep_batch_in_sql", dies_on_the_third_batch)
    with pytest.raises(ConnectionError):
        sweep_slas(batch_size=100, notify=False)
    done = Escalation.objects.count()
    assert 0 < done < TICKETS * 3  # two batches committed, the third rolled back
    monkeypatch.setattr(sweep, "_sweep_batch_in_sql", real)
    sweep_slas(batch_size=100, notify=False)
    sweep_slas(batch_size=100, notify=False)
    assert_each_level_exactly_once()
