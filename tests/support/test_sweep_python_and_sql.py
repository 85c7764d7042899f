"""The sweep's two paths, held to each other: the Python rules (SQLite's path) and the one SQL statement
(PostgreSQL's) record the same events and move the same cursors on the same tickets at the same `now`."""

import datetime as dt
import random
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.models import StaffRole
from support.escalation import terms
from support.escalation.routing import Router
from support.models import (
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    OnCallLayer,
    OnCallMember,
    OnCallSchedule,
    Ticket,
    TicketEvent,
)
from support.rules import escalation, sla
from support.tickets.sweep import SweepRouting, _sweep_batch
from tests.factories import replace_tickets_with, staff_user

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path is PostgreSQL's"),
]

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
M = timedelta(minutes=1)
# From NOW: the boundaries (NOW itself, a microsecond either side) and fractions of a second, which the
# update cadence's key (its due time to the second) must cut the same way in Python and SQL.
OFFSETS = [-180 * M, -61 * M, -M, -timedelta(microseconds=1), timedelta(0), timedelta(microseconds=1)]
OFFSETS += [timedelta(seconds=-59, microseconds=999_999), timedelta(seconds=30, microseconds=500_000), M, 180 * M]
CLOCK_FIELDS = (
    "first_response_at",
    "first_response_warn_at",
    "first_response_due",
    "resolution_warn_at",
    "resolution_due",
    "update_warn_at",
    "update_due",
)
instants = st.one_of(st.none(), st.sampled_from(OFFSETS))
steps = st.lists(
    st.tuples(st.sampled_from(OFFSETS), st.integers(1, 3), st.sampled_from(["timeout", "trigger"])), max_size=3
)
tickets = st.fixed_dictionaries(
    {
        "status": st.sampled_from(Ticket.Status.values),
        **dict.fromkeys(CLOCK_FIELDS, instants),
        # Due (at or before NOW, down to the instant of a threshold), not due, or never.
        "next_sla_check_at": st.one_of(st.none(), st.sampled_from([-240 * M, -61 * M, -M, timedelta(0), M])),
        "assigned": st.booleans(),
        "escalation_level": st.integers(0, 3),
        "steps": steps,
        # Which of its thresholds were recorded already (by an earlier sweep, or the other worker).
        "recorded": st.lists(st.booleans(), min_size=6, max_size=6),
    }
)


@pytest.fixture
def policy(plan, support_l1, support_l2, engineer):
    """L1 takes new tickets, L2 after the first-response target, L3 (informed only) when unresolved for 2 h."""
    policy = EscalationPolicy.objects.create(plan=plan)
    EscalationLevel.objects.create(policy=policy, rank=1, name="L1", rule="entry", person=support_l1)
    EscalationLevel.objects.create(
        policy=policy, rank=2, name="L2", rule="no_response", after_factor=1, person=support_l2
    )
    EscalationLevel.objects.create(
        policy=policy, rank=3, name="L3", rule="no_resolution", after_minutes=120, person=engineer, assigns=False
    )
    return terms.escalation_snapshot(plan)


def save_tickets(rows, *, terms, plan, partner, submitter, assignee) -> None:
    """Save one ticket per row (`terms` and `plan` unless the row's own "fields" say otherwise)."""

    def at(offset):
        return None if offset is None else NOW + offset

    fields = [
        {
            "plan": plan,
            "status": row["status"],
            **{name: at(row[name]) for name in CLOCK_FIELDS},
            "next_sla_check_at": at(row["next_sla_check_at"]),
            "assignee": assignee if row["assigned"] else None,
            "escalation_terms": terms,
            "escalation_level": row["escalation_level"],
            "escalation_steps": [
                escalation.Step(NOW + offset, rank, cause, f"Step {rank}").as_json()
                for offset, rank, cause in row["steps"]
            ],
            **row.get("fields", {}),
        }
        for row in rows
    ]
    saved = replace_tickets_with(
        fields, partner=partner, submitter=submitter, plan=plan, received_at=NOW - timedelta(hours=5)
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(ticket=ticket, kind=kind, sla_target=target, to_value=key, at=instant, public=False)
        for ticket, row in zip(saved, rows, strict=True)
        for (instant, kind, target, key), recorded in zip(sla.thresholds(ticket), row["recorded"], strict=False)
        if recorded
    )


def outcome() -> dict:
    """Return what a sweep leaves behind, in terms that do not depend on the path (no event ids)."""
    columns = {
        "events": (
            TicketEvent,
            ["ticket", "kind", "sla_target", "to_value", "at", "public", "by_staff", "actor", "from_value", "body"],
        ),
        "cursors": (Ticket, ["pk", "next_sla_check_at", "escalation_steps", "escalation_level", "assignee"]),
        "escalations": (
            Escalation,
            ["ticket", "level", "level_name", "cause", "reason", "at", "by", "assignee", "routed_via", "informed_only"],
        ),
        "mail": (
            Notification,
            ["recipient", "ticket", "kind", "subject", "body", "send_after", "sent_at", "created_at"],
        ),
        # The audit trail (PostgreSQL triggers): which tickets changed, to what, in which context.
        "history": (
            apps.get_model("support", "TicketHistory"),
            ["pgh_obj", "pgh_label", "assignee", "escalation_level", "pgh_context__metadata"],
        ),
    }
    left = {what: sorted(model.objects.values_list(*fields), key=repr) for what, (model, fields) in columns.items()}
    # A ticket's escalations of one sweep share their instant: its timeline orders them by id.
    escalated = TicketEvent.objects.filter(kind="escalated").order_by("ticket", "at", "pk")
    left["timeline"] = list(escalated.values_list("ticket", "to_value"))
    return left


class _Undo(Exception):
    pass


def warm_routing() -> SweepRouting:
    """Return the routing of a sweep that has met every ticket's terms and plan already (its later batches)."""
    routing = SweepRouting(Router(NOW))
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT (escalation_terms->'levels')::text FROM support_ticket")
        terms = {levels for (levels,) in cursor.fetchall() if levels is not None}
    routing.learn(terms, set(Ticket.objects.values_list("plan", flat=True)))
    return routing


def sweep_and_undo(*, in_sql: bool, warm: bool = False) -> tuple:
    """Return the batch's result and what it left behind, then roll it back (a savepoint of the test's transaction).

    In SQL the batch's first statement meets the terms cold (routes them, then runs again for the
    tickets due for escalation) or, `warm`, knows them already and does everything at once.
    """
    try:
        with transaction.atomic():
            routing = warm_routing() if warm else None
            result = _sweep_batch(NOW, 10_000, Router(NOW), in_sql=in_sql, routing=routing)
            left = outcome()
            raise _Undo
    except _Undo:
        pass
    summary = (result.checked, result.recorded, result.escalated, sorted(result.events, key=repr))
    return summary, left


def assert_both_paths_agree(rows, *, policy, plan, partner, submitter, assignee) -> tuple:
    save_tickets(rows, terms=policy, plan=plan, partner=partner, submitter=submitter, assignee=assignee)
    python_summary, python_left = sweep_and_undo(in_sql=False)
    for warm in (False, True):
        sql_summary, sql_left = sweep_and_undo(in_sql=True, warm=warm)
        assert sql_summary == python_summary, f"warm={warm}"
        for what in python_left:
            assert sql_left[what] == python_left[what], (what, f"warm={warm}")
    return python_summary, python_left


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(tickets, min_size=3, max_size=20))
def test_the_sql_batch_does_what_the_python_batch_does(
    rows, policy, plan, partner, partner_member, support_l1, time_machine
):
    time_machine.move_to(NOW, tick=False)
    assert_both_paths_agree(
        rows, policy=policy, plan=plan, partner=partner, submitter=partner_member, assignee=support_l1
    )


def seeded_rows(count: int, seed: int) -> list[dict]:
    """Return `count` tickets drawn from the same values as `tickets`, many at once (hypothesis keeps lists short)."""
    rng = random.Random(seed)

    def instant():
        return rng.choice([None, *OFFSETS])

    return [
        {
            "status": rng.choice(Ticket.Status.values),
            **{name: instant() for name in CLOCK_FIELDS},
            "next_sla_check_at": rng.choice([None, -240 * M, -61 * M, -M, timedelta(0), M]),
            "assigned": rng.random() < 0.5,
            "escalation_level": rng.randint(0, 3),
            "steps": [
                (rng.choice(OFFSETS), rng.randint(1, 3), rng.choice(["timeout", "trigger"]))
                for _ in range(rng.randint(0, 3))
            ],
            "recorded": [rng.random() < 0.3 for _ in range(6)],
        }
        for _ in range(count)
    ]


def test_both_batches_agree_on_a_seeded_mix_of_hundreds_of_tickets(
    policy, plan, partner, partner_member, support_l1, time_machine
):
    time_machine.move_to(NOW, tick=False)
    (checked, recorded, escalated, _), _ = assert_both_paths_agree(
        seeded_rows(400, seed=20261123),
        policy=policy,
        plan=plan,
        partner=partner,
        submitter=partner_member,
        assignee=support_l1,
    )
    # The mix reaches every branch: thresholds crossed and recorded, escalations due, cursors moved.
    assert checked > 100 and recorded > 50 and escalated > 20


@pytest.fixture
def office_desk(partner, support_l2, engineer):
    """A second plan on office hours (New York, closed at NOW) whose levels fall through: L1's primary on call
    has left (its secondary takes it), L2 is a person who has left, L3 (informed only) a rotation with nobody."""
    from tests.factories import support_plan

    office = support_plan("Office", always_open=False, zone="America/New_York",
                          windows=[(day, dt.time(9), dt.time(17)) for day in range(5)])  # fmt: skip
    departed = staff_user(StaffRole.SUPPORT_L1, is_active=False)
    rotation = OnCallSchedule.objects.create(name="Office L1", time_zone="UTC")
    for role, person in (("primary", departed), ("secondary", support_l2)):
        layer = OnCallLayer.objects.create(schedule=rotation, role=role, name=role, starts_on=dt.date(2026, 1, 5),
                                           handoff=dt.time(9))  # fmt: skip
        OnCallMember.objects.create(layer=layer, person=person, position=1)
    nobody = OnCallSchedule.objects.create(name="Office L3", time_zone="UTC")
    policy = EscalationPolicy.objects.create(plan=office)
    EscalationLevel.objects.create(policy=policy, rank=1, name="L1 desk", rule="entry", schedule=rotation)
    EscalationLevel.objects.create(policy=policy, rank=2, name="L2 'senior' 100%", rule="no_response",
                                   after_minutes=30, person=departed)  # fmt: skip
    EscalationLevel.objects.create(policy=policy, rank=3, name="L3 engineering", rule="no_resolution",
                                   after_minutes=120, schedule=nobody, assigns=False)  # fmt: skip
    return office, terms.escalation_snapshot(office)


@pytest.mark.parametrize("managed", [True, False], ids=["a support manager to fall back on", "nobody to fall back on"])
def test_both_batches_route_word_and_time_their_escalations_alike(
    managed, request, policy, office_desk, plan, partner, partner_member, support_l1, time_machine
):
    time_machine.move_to(NOW, tick=False)
    if managed:
        request.getfixturevalue("support_manager")
    partner.name = "O'Brien & 100% {Partners} — Zürich"
    partner.save()
    office, office_terms = office_desk
    rng = random.Random(7)
    rows = seeded_rows(300, seed=20261203)
    for n, row in enumerate(rows):
        # Two sets of terms (and none), all severities (P3/P4 mail waits for the office to open), titles that a
        # subject cuts at 200 characters, quotes and per cent signs that SQL text must keep as they are.
        on_office = rng.random() < 0.5
        row["fields"] = {
            "plan": office if on_office else plan,
            # Now and then terms with no levels at all (a plan without a policy, or an empty one).
            "escalation_terms": rng.choices([office_terms if on_office else policy, {}, {"levels": []}], [18, 1, 1])[0],
            "severity": rng.choice(["P1", "P2", "P3", "P4"]),
            "title": rng.choice(["Checkout 500", 'It\'s 100% down: "{ticket}" %(now)s ünï', "Long " * 38]) + f" {n}",
        }
        # Steps of a level the terms lack (4), and the same level twice.
        row["steps"] = [
            *row["steps"],
            *rng.sample([(-M, 4, "trigger"), (-61 * M, 1, "timeout"), (-M, 2, "trigger")], 2),
        ]
    python_summary, python_left = assert_both_paths_agree(
        rows, policy=policy, plan=plan, partner=partner, submitter=partner_member, assignee=support_l1
    )
    # The mix reaches every way of routing and both mail hours.
    vias = " ".join(via for *_, via, _ in python_left["escalations"])
    assert "secondary on call (Office L1)" in vias and "nobody on call for L2 'senior' 100%, L3 engineering" in vias
    assert ("the support manager" if managed else "the queue") in vias
    assert {send_after for *_, send_after, _, _ in python_left["mail"]} >= {
        NOW,
        dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC),
    }
    assert python_summary[2] > 100
