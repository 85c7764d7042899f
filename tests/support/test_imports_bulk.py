"""The import's fast path (support.imports.new_tickets, new_people) writes exactly what the careful path writes.

Each source is imported twice on the same data: once as a real run does (new tickets and people
a batch at a time), rolled back, then with the fast path switched off (every object in its own
savepoint). Every row the two leave must be the same: tickets with their clocks, timeline events,
accounts and memberships, identities, the report.
"""
# The sources' fixtures come from their own test modules (imported below): their names are the tests' arguments.
# ruff: noqa: F811

from functools import partial

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from programs.models import Membership, Partner, User
from support.imports import new_tickets, runner
from support.imports.writers import Writer
from support.models import ImportFinding, SourceIdentity, Ticket

from . import test_imports as zendesk
from . import test_imports_helpdesk as helpdesk
from .test_imports import _world, dana, export  # noqa: F401  (fixtures)
from .test_imports_helpdesk import built_source, source  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def snapshot(run):
    """Return every row the run left, with ids replaced by what they stand for (ids differ between runs)."""
    email = dict(User.objects.values_list("pk", "email"))
    slug = dict(Partner.objects.values_list("pk", "slug"))  # partners made by the import get new ids too
    skipped = {"id", "updated_at"}
    tickets = []
    for ticket in Ticket.objects.order_by("received_at", "title"):
        row = {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields if f.attname not in skipped}
        row["submitter_id"], row["assignee_id"] = email.get(ticket.submitter_id), email.get(ticket.assignee_id)
        row["partner_id"] = slug[ticket.partner_id]
        row["events"] = [
            (e.kind, e.at, email.get(e.actor_id), e.by_staff, e.public, e.body, e.from_value, e.to_value, e.sla_target)
            for e in ticket.events.order_by("at", "pk")
        ]
        tickets.append(row)
    people = sorted(
        (u.email, u.full_name, u.is_active, u.has_usable_password(), u.date_joined)
        for u in User.objects.filter(is_staff=False)
    )
    memberships = sorted(Membership.objects.values_list("user__email", "partner__slug", "role", "joined_at"))
    identities = sorted(
        SourceIdentity.objects.values_list(
            "object_type", "source_id", "content_type__model", "fingerprint", "made_here"
        )
    )
    findings = sorted(ImportFinding.objects.filter(run=run).values_list("kind", "object_type", "source_id", "reason"))
    return {
        "state": run.state,
        "counts": run.counts,
        "tickets": tickets,
        "people": people,
        "memberships": memberships,
        "identities": identities,
        "findings": findings,
    }


def fast_then_careful(do_import, monkeypatch):
    """Return the snapshots and query counts of the import done the fast way (rolled back), then the careful way."""
    with transaction.atomic(), CaptureQueriesContext(connection) as fast_queries:
        run, _ = do_import()
        fast = snapshot(run)
        transaction.set_rollback(True)
    monkeypatch.setattr(runner, "Writer", partial(Writer, bulk=False))
    with CaptureQueriesContext(connection) as careful_queries:
        run, _ = do_import()
    return fast, snapshot(run), len(fast_queries), len(careful_queries)


def test_a_zendesk_export_imported_the_fast_way_leaves_the_rows_of_the_careful_way(export, partner, dana, monkeypatch):
    fast, careful, fast_queries, careful_queries = fast_then_careful(lambda: zendesk.run_import(export), monkeypatch)

    assert fast == careful
    assert fast["tickets"] and any(len(t["events"]) > 2 for t in fast["tickets"])
    assert fast_queries < careful_queries


def test_a_helpdesk_database_imported_the_fast_way_leaves_the_rows_of_the_careful_way(
    source, partner, dana, monkeypatch
):
    fast, careful, fast_queries, careful_queries = fast_then_careful(lambda: helpdesk.run_import(source), monkeypatch)

    assert fast == careful
    assert fast["people"] and fast["memberships"] and fast["tickets"]
    assert fast_queries < careful_queries


def test_a_batch_the_database_refuses_on_the_fast_way_is_written_the_careful_way(export, partner, dana, monkeypatch):
    with transaction.atomic():
        run, _ = zendesk.run_import(export)
        expected = snapshot(run)
        transaction.set_rollback(True)
    real = new_tickets._insert

    def refused_once(writer, planned):
        monkeypatch.setattr(new_tickets, "_insert", real)
        real(writer, planned)  # the rows go in, and the database then refuses the batch
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(new_tickets, "_insert", refused_once)

    run, _ = zendesk.run_import(export)

    assert snapshot(run) == expected
