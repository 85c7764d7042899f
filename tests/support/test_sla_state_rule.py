"""One SLA state rule: the state a ticket shows is the state it is found under, in the queryset and the API.

`support.rules.sla.sla_state` is the rule, `Ticket.sla_state` shows it, `Ticket.objects.in_sla_state` is its
query form and `?sla_state=` (queue page and API) filters with it. Runs on SQLite and PostgreSQL.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.models import Ticket, TicketEvent
from support.rules import sla
from tests.factories import replace_tickets_with

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
M = timedelta(minutes=1)
# From `now`: the boundaries themselves (now, a microsecond either side) matter most.
OFFSETS = [-600 * M, -60 * M, -M, -timedelta(microseconds=1), timedelta(0), timedelta(microseconds=1), M, 60 * M]
instants = st.one_of(st.none(), st.sampled_from(OFFSETS))

CLOCK_FIELDS = (
    "first_response_at",
    "first_response_due",
    "first_response_warn_at",
    "resolved_at",
    "closed_at",
    "resolution_due",
    "resolution_warn_at",
    "update_due",
    "update_warn_at",
)
ticket_states = st.fixed_dictionaries(
    {
        "status": st.sampled_from(Ticket.Status.values),
        "reopened": st.booleans(),
        **dict.fromkeys(CLOCK_FIELDS, instants),
        "paused_minutes": st.sampled_from([0, 30]),
        "breach_recorded": st.booleans(),
    }
)


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=500_000) + timedelta(minutes=5)


@pytest.fixture
def as_staff(api_client_for, support_l1, settings):
    settings.API_THROTTLE_RATE = "100000/minute"  # a frozen clock never empties the throttle's window
    return api_client_for(support_l1)


def save_tickets(rows, *, now, plan, partner, submitter) -> list[Ticket]:
    def at(offset):
        return None if offset is None else now + offset

    fields = [
        {
            "status": row["status"],
            "reopened": row["reopened"],
            "paused_seconds": row["paused_minutes"] * 60,
            **{name: at(row[name]) for name in CLOCK_FIELDS},
        }
        for row in rows
    ]
    tickets = replace_tickets_with(
        fields, partner=partner, submitter=submitter, plan=plan, received_at=now - timedelta(hours=2)
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(ticket=ticket, kind="sla_breach", sla_target="resolution", at=now, public=False)
        for ticket, row in zip(tickets, rows, strict=True)
        if row["breach_recorded"]
    )
    return list(Ticket.objects.order_by("pk"))  # as stored: the database's rounding of instants included


def api_rows(client, state) -> list[dict]:
    rows, url = [], f"{TICKETS}?sla_state={state}&page_size=200"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()["results"]
        url = response.json()["next"]
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ticket_states, min_size=1, max_size=8))
def test_each_sla_state_finds_exactly_the_tickets_showing_it(
    rows, now, plan, partner, partner_member, as_staff, time_machine
):
    time_machine.move_to(now, tick=False)
    tickets = save_tickets(rows, now=now, plan=plan, partner=partner, submitter=partner_member)
    shown = {ticket.pk: ticket.sla_state(now) for ticket in tickets}
    for state in sla.SLA_STATES:
        expected = {pk for pk, their_state in shown.items() if their_state == state}
        assert set(Ticket.objects.in_sla_state(state, now).values_list("pk", flat=True)) == expected, state
        listed = api_rows(as_staff, state)
        assert {row["id"] for row in listed} == expected, state
        assert {row["sla"]["state"] for row in listed} <= {state}


def test_every_state_has_its_tickets_and_resolved_ones_are_met_not_warning(
    now, plan, partner, partner_member, as_staff, time_machine
):
    time_machine.move_to(now, tick=False)
    base = dict.fromkeys(CLOCK_FIELDS)
    base |= {"reopened": False, "paused_minutes": 0, "breach_recorded": False}
    rows = {
        "breached": {**base, "status": "in_progress", "first_response_at": -M, "resolution_due": -M},
        "breached after resolving late": {**base, "status": "resolved", "resolved_at": -M, "resolution_due": -60 * M},
        "warning": {**base, "status": "in_progress", "first_response_at": -60 * M, "resolution_warn_at": -M},
        "paused": {**base, "status": "waiting_on_partner", "first_response_at": -60 * M, "first_response_due": M},
        "met": {**base, "status": "resolved", "resolved_at": -M, "resolution_due": M, "resolution_warn_at": -60 * M},
        "met when closed": {**base, "status": "closed", "resolved_at": -60 * M, "update_warn_at": -60 * M},
        "ok": {**base, "status": "acknowledged", "first_response_at": -60 * M, "resolution_due": 60 * M},
    }
    saved = save_tickets(list(rows.values()), now=now, plan=plan, partner=partner, submitter=partner_member)
    tickets = dict(zip(rows, saved, strict=True))
    for state in sla.SLA_STATES:
        expected = {ticket.pk for name, ticket in tickets.items() if name.split()[0] == state}
        assert {ticket.sla_state(now) for ticket in tickets.values() if ticket.pk in expected} == {state}
        assert {row["id"] for row in api_rows(as_staff, state)} == expected
    # The filter used to list resolved tickets past their warning instant under "warning".
    assert tickets["met"].pk not in {row["id"] for row in api_rows(as_staff, "warning")}
