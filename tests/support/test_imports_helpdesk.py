"""Importing a django-helpdesk 2.6.1 database made by django-helpdesk itself (tests/support/helpdesk_source/build.py).

The source: five tickets (resolved; open and urgent from someone without an account; resolved,
reopened and closed; a duplicate; one opened without the form), twelve follow-ups, status ticket
changes, two CCs and two attachments (a log, and an .exe the portal refuses), three accounts
(two staff) and one submitter known only by e-mail.
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from programs.models import Partner, StaffRole, User
from support.imports import report
from support.models import ImportRun, SourceIdentity, Ticket, TicketAttachment, TicketEvent
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(__file__).parent / "helpdesk_source" / "build.py"
PEER_PYTHON = ROOT / "var" / "peers" / "helpdesk-venv" / "bin" / "python"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MAPPING = "plan: Premier\npartners:\n  groups: {Northwind desk: northwind}\n"


@pytest.fixture(scope="session")
def built_source(tmp_path_factory):
    """Return the database django-helpdesk built: HELPDESK_SOURCE_DB, or built now with the peer's venv."""
    if os.environ.get("HELPDESK_SOURCE_DB"):
        given = Path(os.environ["HELPDESK_SOURCE_DB"])
        if not given.is_file():
            pytest.fail(f"HELPDESK_SOURCE_DB={given}: no such file (tests/support/helpdesk_source/build.py makes it)")
        return given
    if not PEER_PYTHON.exists():
        pytest.skip(NOT_BUILT)
    built = subprocess.run(
        [str(PEER_PYTHON), str(BUILD), str(tmp_path_factory.mktemp("helpdesk-source"))],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])


NOT_BUILT = (
    "django-helpdesk source database not built: run `.venv/bin/python bench/peers/helpdesk/peer_venv.py`, "
    "then var/peers/helpdesk-venv/bin/python tests/support/helpdesk_source/build.py (built by .ci/run)"
)


@pytest.fixture
def source(built_source, tmp_path):
    """A copy of the built database (and its media folder) the test may change."""
    copy = tmp_path / "source"
    shutil.copytree(built_source.parent, copy)
    return copy / built_source.name


@pytest.fixture(autouse=True)
def _world(settings, tmp_path, time_machine, plan):
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def dana(db):
    return staff_user(StaffRole.SUPPORT_L2, email="dana@vendor.test")


def run_import(source, *extra, media=True, mapping=MAPPING):
    mapping_file = source.parent / "mapping.yaml"
    mapping_file.write_text(mapping)
    arguments = ["--from", "helpdesk", "--source-url", f"sqlite:///{source}", "--mapping", str(mapping_file)]
    if media:
        arguments += ["--media-root", str(source.parent / "media")]
    out = StringIO()
    call_command("import_tickets", *arguments, *extra, stdout=out)
    return ImportRun.objects.order_by("-pk").first(), out.getvalue()


def ticket_of(source_id):
    identity = SourceIdentity.objects.get(source_system="helpdesk", object_type="ticket", source_id=str(source_id))
    return Ticket.objects.get(pk=identity.object_id)


def counts(run, object_type):
    return {outcome: n for outcome, n in run.counts[object_type].items() if n}


def sql(source, *statements):
    with sqlite3.connect(source) as connection:
        for statement in statements:
            connection.execute(statement)


def test_a_helpdesk_database_becomes_tickets_with_their_history_and_original_times(source, partner, dana):
    run, output = run_import(source)

    assert run.state == ImportRun.State.DONE, output
    checkout = ticket_of(1)
    assert (checkout.partner, checkout.severity, checkout.status) == (partner, "P2", "resolved")
    assert checkout.received_at == datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    assert checkout.first_response_at == datetime(2026, 10, 5, 9, 20, tzinfo=UTC)
    assert checkout.resolved_at == datetime(2026, 10, 6, 15, 0, tzinfo=UTC)
    assert checkout.assignee == dana and checkout.submitter.email == "ana@northwind.test"
    assert checkout.steps_to_reproduce == "Checkout fails for card payments since 08:55."
    assert list(checkout.events.values_list("kind", "public")) == [
        ("received", True),
        ("note", False),
        ("attachment", True),
        ("comment", True),
        ("note", False),
        ("resolved", True),  # the follow-up that resolved it, at the same moment
        ("comment", True),
    ]
    cc = checkout.events.get(kind="note", at=checkout.received_at)
    assert cc.body.startswith("Copied on this ticket in Helpdesk (CC): felix@fabrikam.test.")
    [log] = TicketAttachment.objects.filter(ticket=checkout)
    assert (log.original_name, log.content_type, log.uploaded_at) == (
        "checkout.log",
        "text/plain",
        checkout.received_at,
    )
    assert log.file.read() == b"2026-10-05 08:59:58 ERROR payment gateway timeout\n"


def test_a_resolved_reopened_and_closed_ticket_keeps_each_step(source, partner, dana):
    run_import(source)

    refunds = ticket_of(3)
    assert (refunds.severity, refunds.status) == ("P4", "closed")
    steps = list(refunds.events.exclude(kind__in=["comment", "note", "received"]).values_list("kind", "at"))
    assert [kind for kind, _ in steps if not kind.startswith("sla")] == ["resolved", "reopened", "resolved", "closed"]
    assert refunds.closed_at == datetime(2026, 9, 4, 9, 0, tzinfo=UTC)
    reopening = refunds.events.get(kind="comment", body="Still pending.")
    assert reopening.actor.email == "ana@northwind.test" and not reopening.by_staff
    former = refunds.events.get(body="Released.").actor
    assert former.email == "gone@vendor.test" and not former.is_active


def test_follow_ups_become_public_replies_and_internal_notes(source, partner, dana):
    run_import(source)

    checkout = ticket_of(1)
    assert checkout.events.get(body="Looking into it: which card brands?").public
    note = checkout.events.get(body="Gateway logs show timeouts.")
    assert note.kind == "note" and not note.public and note.by_staff
    # A follow-up that only changed the status is kept as a note saying so.
    duplicate = ticket_of(4)
    assert (duplicate.status, duplicate.severity) == ("closed", "P4")
    assert duplicate.events.get(kind="note", body="Duplicate").public is False


def test_unmatched_queues_go_to_the_holding_partner_and_submitters_without_an_account_become_people(
    source, partner, dana
):
    run_import(source)

    gateway = ticket_of(2)
    holding = Partner.objects.get(name="Imported tickets without a partner")
    assert (gateway.partner, gateway.severity, gateway.status) == (holding, "P1", "in_progress")
    felix = User.objects.get(email="felix@fabrikam.test")
    assert gateway.submitter == felix and felix.membership.partner == holding
    assert gateway.events.get(body="Still down.").actor == felix
    # Opened without django-helpdesk's form: no opening follow-up, its description is the reception.
    quiet = ticket_of(5)
    assert (quiet.partner, quiet.severity, quiet.status) == (partner, "P3", "in_progress")
    assert list(quiet.events.values_list("kind", flat=True)[:2]) == ["received", "started"]


def test_the_report_adds_up_to_the_source_counts(source, partner, dana):
    run, output = run_import(source)

    assert counts(run, "user") == {"source": 4, "created": 3, "unchanged": 1}
    assert counts(run, "group") == {"source": 2, "skipped": 2}
    assert counts(run, "ticket") == {"source": 5, "created": 5}
    assert counts(run, "comment") == {"source": 12, "created": 12}
    assert counts(run, "attachment") == {"source": 2, "created": 1, "skipped": 1}
    total = report.rows(run)[-1]
    assert total[1] == run.total == 25 and total[-1] == 0 and sum(total[2:7]) == total[1]
    [refused] = run.findings.filter(object_type="attachment")
    assert refused.kind == "skipped" and "screenshot.exe" in refused.reason and "not accepted" in refused.reason
    assert "Every source object is accounted for." in output


def test_a_second_run_changes_nothing_and_the_source_is_only_read(source, partner, dana):
    before_source = hashlib.sha256(source.read_bytes()).hexdigest()
    run_import(source)
    before = (Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count(), Partner.objects.count())

    run, _ = run_import(source)

    assert run.state == ImportRun.State.DONE
    for object_type, row in run.counts.items():
        assert row.get("created", 0) == row.get("updated", 0) == 0, object_type
    assert counts(run, "ticket") == {"source": 5, "unchanged": 5}
    after = (Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count(), Partner.objects.count())
    assert after == before
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before_source
    assert mail.outbox == []


def test_a_new_follow_up_in_the_source_is_added_by_the_next_run(source, partner, dana):
    run_import(source)
    sql(
        source,
        "INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public, user_id) "
        "VALUES (2, '2026-11-20 11:00:00', 'Comment', 'Which stores?', 1, 1)",
        "UPDATE helpdesk_ticket SET modified = '2026-11-20 11:00:00' WHERE id = 2",
    )

    run, _ = run_import(source)

    assert counts(run, "comment") == {"source": 13, "created": 1, "unchanged": 12}
    assert counts(run, "ticket") == {"source": 5, "updated": 1, "unchanged": 4}
    assert ticket_of(2).first_response_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert Ticket.objects.count() == 5


def test_without_a_media_root_attachments_are_skipped_saying_so(source, partner, dana):
    run, _ = run_import(source, media=False)

    assert counts(run, "attachment") == {"source": 2, "skipped": 2}
    reasons = run.findings.filter(object_type="attachment").values_list("reason", flat=True)
    assert all("no --media-root was given" in reason for reason in reasons)


def test_an_attachment_stored_outside_the_media_root_is_not_read(source, partner, dana):
    sql(source, "UPDATE helpdesk_followupattachment SET file = '../../../../etc/passwd' WHERE id = 1")

    run, _ = run_import(source)

    reason = run.findings.get(object_type="attachment", source_id="1").reason
    assert "the file is not under --media-root (../../../../etc/passwd)" in reason
    assert not TicketAttachment.objects.exists()


def test_a_dry_run_counts_everything_and_writes_nothing(source, partner, dana):
    run, output = run_import(source, "--dry-run")

    assert run.dry_run and run.state == ImportRun.State.DONE and "Dry run: nothing was written." in output
    assert counts(run, "ticket") == {"source": 5, "created": 5}
    assert not Ticket.objects.exists() and not SourceIdentity.objects.exists()


def test_since_imports_only_the_tickets_changed_since_then(source, partner, dana):
    run, _ = run_import(source, "--since", "2026-10-01")

    assert counts(run, "ticket") == {"source": 3, "created": 3}
    assert counts(run, "comment") == {"source": 6, "created": 6}


def _no_cc_table(source):
    sql(source, "DROP TABLE helpdesk_ticketcc")


def _older_schema(source):
    sql(source, "ALTER TABLE helpdesk_followup DROP COLUMN new_status")


def _latin1(source):
    sql(source, "UPDATE helpdesk_followup SET comment = CAST(X'4dfc6c6c6572' AS TEXT) WHERE id = 3")


def _nul(source):
    sql(source, "UPDATE helpdesk_ticket SET title = 'bad' || char(0) || 'title' WHERE id = 2")


def _custom_status(source):
    sql(source, "UPDATE helpdesk_ticket SET status = 7 WHERE id = 2")


def _custom_priority(source):
    sql(source, "UPDATE helpdesk_ticket SET priority = 9 WHERE id = 3")


def _duplicate_ids(source):
    sql(
        source,
        "CREATE TABLE copy AS SELECT * FROM helpdesk_queue",
        "INSERT INTO copy SELECT * FROM helpdesk_queue WHERE id = 1",
        "DROP TABLE helpdesk_queue",
        "ALTER TABLE copy RENAME TO helpdesk_queue",
    )


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_no_cc_table, "not a django-helpdesk 2.x database, or of an older or newer schema: table helpdesk_ticketcc"),
        (_older_schema, "older or newer schema: helpdesk_followup.new_status missing."),
        (_latin1, "helpdesk_followup: text that is not UTF-8"),
        (_nul, "helpdesk_ticket id 2: title holds a NUL character"),
        (_custom_status, "ticket 2: status “7” is not in the mapping's statuses"),
        (_custom_priority, "ticket 3: priority “9” is not in the mapping's priorities"),
        (_duplicate_ids, "helpdesk_queue: id 1 appears twice"),
    ],
)
def test_a_bad_source_is_refused_in_one_line_before_anything_is_written(source, partner, dana, spoil, message):
    spoil(source)

    with pytest.raises(CommandError) as refused:
        run_import(source)

    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not Ticket.objects.exists() and not SourceIdentity.objects.exists() and not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--source-url", "sqlite:////nowhere/helpdesk.sqlite3"], "no SQLite file at /nowhere/helpdesk.sqlite3"),
        (["--source-url", "mysql://db/helpdesk"], "expected postgres://user@host:port/name or sqlite:////"),
        ([], "--from helpdesk needs --source-url URL"),
        (["--source-url", "sqlite:////x.sqlite3", "--media-root", "/nowhere"], "--media-root /nowhere: no such"),
    ],
)
def test_a_source_that_cannot_be_opened_is_refused_in_one_line(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_tickets", "--from", "helpdesk", *arguments, stdout=StringIO())


def test_a_postgres_url_s_password_is_not_kept_in_the_run():
    from support.imports import helpdesk

    with pytest.raises(CommandError) as refused:
        call_command(
            "import_tickets",
            "--from",
            "helpdesk",
            "--source-url",
            "postgres://reader:s3cret@127.0.0.1:1/helpdesk",
            stdout=StringIO(),
        )

    assert "s3cret" not in str(refused.value) and "reader@127.0.0.1:1" in str(refused.value)
    assert helpdesk.source_address("sqlite:////a.sqlite3", "/m") == "sqlite:////a.sqlite3?media_root=%2Fm"


@pytest.fixture
def postgres_source(tmp_path):
    """Return the URL of django-helpdesk's database built on the suite's PostgreSQL server, and its media root."""
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL source is read in the PostgreSQL suite")
    if not PEER_PYTHON.exists():
        pytest.skip(NOT_BUILT)
    server = connection.settings_dict
    credentials = server["USER"] + (f":{server['PASSWORD']}" if server["PASSWORD"] else "")
    base = f"postgres://{credentials}@{server['HOST'] or '127.0.0.1'}:{server['PORT'] or 5432}"
    name = f"helpdesk_source_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        subprocess.run(
            [str(PEER_PYTHON), str(BUILD), str(tmp_path), "--database-url", f"{base}/{name}"],
            capture_output=True,
            check=True,
        )
        yield f"{base}/{name}", tmp_path / "media"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_postgresql_source_is_read_like_a_sqlite_one(postgres_source, partner, dana, tmp_path):
    url, media = postgres_source
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    arguments = ["--from", "helpdesk", "--source-url", url, "--media-root", str(media), "--mapping", str(mapping)]

    call_command("import_tickets", *arguments, stdout=StringIO())
    call_command("import_tickets", *arguments, stdout=StringIO())

    first, second = ImportRun.objects.order_by("pk")
    assert first.state == second.state == ImportRun.State.DONE
    assert counts(first, "ticket") == {"source": 5, "created": 5}
    assert counts(first, "attachment") == {"source": 2, "created": 1, "skipped": 1}
    assert counts(second, "comment") == {"source": 12, "unchanged": 12}
    assert first.source_description == f"{url}?media_root={quote(str(media), safe='')}"
    assert ticket_of(1).resolved_at == datetime(2026, 10, 6, 15, 0, tzinfo=UTC)


def test_a_run_s_source_description_reads_the_same_source_again(source):
    from support.imports.helpdesk import source_address
    from support.imports.sources import read_source

    first = read_source("helpdesk", source_address(f"sqlite:///{source}", str(source.parent / "media")))
    again = read_source("helpdesk", first.description)

    assert again.fingerprint == first.fingerprint and again.counts() == first.counts()
    assert first.description == f"sqlite:///{source}?media_root={quote(str(source.parent / 'media'), safe='')}"


@pytest.fixture
def imported_source(settings, tmp_path, source):
    """The built database and its attachments folder, each put in a directory of the imports folder on the server."""
    settings.IMPORTS_DIR = tmp_path / "imports"
    shutil.copytree(source.parent / "media", settings.IMPORTS_DIR / "helpdesk-media")
    (settings.IMPORTS_DIR / "helpdesk-db").mkdir()
    return Path(shutil.copy(source, settings.IMPORTS_DIR / "helpdesk-db"))


def test_a_manager_dry_runs_a_helpdesk_database_in_the_admin_and_runs_it(
    client, support_manager, partner, dana, imported_source, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client.force_login(support_manager)
    form = {
        "source_system": "helpdesk",
        "source_url": f"sqlite:///{imported_source}",
        "media_root": str(imported_source.parent.parent / "helpdesk-media"),
        "mapping": SimpleUploadedFile("mapping.yaml", MAPPING.encode()),
        "dry_run": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:support_importrun_start"), form)
    dry = ImportRun.objects.get()
    dry.refresh_from_db()
    assert response.status_code == 302 and dry.dry_run and dry.state == ImportRun.State.DONE, dry.error

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:support_importrun_run", args=[dry.pk]))

    real = ImportRun.objects.exclude(pk=dry.pk).get()
    assert real.state == ImportRun.State.DONE and Ticket.objects.count() == 5
    assert counts(real, "attachment") == {"source": 2, "created": 1, "skipped": 1}
    assert real.source_description == dry.source_description


def test_the_admin_reads_no_sqlite_file_outside_the_imports_folder(client, support_manager, imported_source, source):
    from django.urls import reverse

    client.force_login(support_manager)

    response = client.post(
        reverse("admin:support_importrun_start"), {"source_system": "helpdesk", "source_url": f"sqlite:///{source}"}
    )

    assert response.status_code == 400
    assert "A SQLite source must be a file in the imports folder" in response.content.decode()
    assert not ImportRun.objects.exists()
