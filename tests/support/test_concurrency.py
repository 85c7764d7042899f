"""On PostgreSQL, people acting at once: no lost update, no duplicate, a consistent timeline."""

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from support.models import IdempotencyKey, Ticket, TicketEvent
from support.tickets import lifecycle
from tests.concurrency import at_once
from tests.factories import TICKET_INTAKE, file_ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]
AT_ONCE = 50


def filing(partner, person, key=None, title="Checkout down"):
    fields = {"title": title, "severity": "P1", **TICKET_INTAKE}
    if key is None:
        return lambda: (lifecycle.open_ticket(partner, submitter=person, **fields), False)
    return lambda: lifecycle.open_ticket_once(partner, submitter=person, key=key, **fields)


def test_fifty_creates_at_once_file_fifty_tickets_each_with_one_timeline(plan, partner, partner_member):
    results, errors = at_once([filing(partner, partner_member, title=f"Outage {n}") for n in range(AT_ONCE)])
    assert not errors
    assert Ticket.objects.count() == AT_ONCE == len({ticket.pk for ticket, _ in results})
    assert TicketEvent.objects.filter(kind="received").count() == AT_ONCE
    assert not Ticket.objects.filter(first_response_due__isnull=True).exists()


def test_fifty_retries_with_one_key_file_one_ticket(plan, partner, partner_member):
    results, errors = at_once([filing(partner, partner_member, key="sync-42") for _ in range(AT_ONCE)])
    assert not errors
    ticket = Ticket.objects.get()
    assert IdempotencyKey.objects.count() == 1
    assert {found.pk for found, _ in results} == {ticket.pk}
    assert sorted(replayed for _, replayed in results) == [False] + [True] * (AT_ONCE - 1)
    assert ticket.events.filter(kind="received").count() == 1


def test_ten_keys_retried_five_times_each_file_ten_tickets(plan, partner, partner_member):
    calls = [filing(partner, partner_member, key=f"sync-{n % 10}", title=f"Outage {n % 10}") for n in range(AT_ONCE)]
    _results, errors = at_once(calls)
    assert not errors
    assert Ticket.objects.count() == 10 == IdempotencyKey.objects.count()
    assert TicketEvent.objects.filter(kind="received").count() == 10


def test_one_ticket_acknowledged_by_many_at_once_is_acknowledged_once(
    plan, partner, partner_member, support_l1, support_l2
):
    ticket = file_ticket(partner, partner_member)
    people = [support_l1, support_l2] * 10
    calls = [
        lambda person=person: lifecycle.transition_ticket(ticket, action="acknowledge", by=person) for person in people
    ]
    results, errors = at_once(calls)
    assert len(results) == 1
    assert len(errors) == len(people) - 1 and all(isinstance(error, ValidationError) for error in errors)
    assert TicketEvent.objects.filter(ticket=ticket, kind="acknowledged").count() == 1
    ticket.refresh_from_db()
    assert ticket.status == "acknowledged"


def test_racing_status_changes_leave_the_status_of_the_last_event(plan, partner, partner_member, support_l1):
    ticket = file_ticket(partner, partner_member)
    lifecycle.transition_ticket(ticket, action="start", by=support_l1)
    actions = ["wait", "resolve"] * 10
    calls = [
        lambda action=action: lifecycle.transition_ticket(ticket, action=action, by=support_l1) for action in actions
    ]
    _results, errors = at_once(calls)
    assert all(isinstance(error, ValidationError) for error in errors)
    ticket.refresh_from_db()
    changes = list(
        TicketEvent.objects.filter(ticket=ticket, kind__in=["waiting", "resolved", "started"]).order_by("at", "pk")
    )
    # Each change starts where the previous one ended: nothing was decided on a stale status.
    for before, after in itertools.pairwise(changes):
        assert after.from_value == before.to_value
    assert ticket.status == changes[-1].to_value


def test_comments_at_once_are_all_kept(plan, partner, partner_member, support_l1):
    ticket = file_ticket(partner, partner_member)
    calls = [
        lambda n=n: lifecycle.add_comment(ticket, by=partner_member if n % 2 else support_l1, body=f"Update {n}")
        for n in range(AT_ONCE)
    ]
    _, errors = at_once(calls)
    assert not errors
    assert TicketEvent.objects.filter(ticket=ticket, kind="comment").count() == AT_ONCE
