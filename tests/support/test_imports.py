"""Importing a Zendesk export: a real import, a no-op second run, a delta, a dry run, bad sources, resuming."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.forms import PasswordResetForm
from django.core import mail
from django.core.management import CommandError, call_command

from programs.models import Partner, StaffRole, User
from support.imports import new_tickets, report
from support.imports.identities import ObjectFailed
from support.imports.writers import Writer
from support.models import (
    Escalation,
    ImportFinding,
    ImportRun,
    Notification,
    SourceIdentity,
    Ticket,
    TicketAttachment,
    TicketEvent,
)
from support.tickets.sweep import sweep_slas
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent
EXPORT = HERE / "zendesk_export"
MAPPING = HERE / "zendesk_mapping.yaml"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _world(settings, tmp_path, time_machine, plan):
    """The portal before the import: Northwind on the Premier plan, Dana on our staff; files in a scratch folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def dana(db):
    return staff_user(StaffRole.SUPPORT_L2, email="dana@vendor.test")


@pytest.fixture
def export(tmp_path):
    """A copy of the Zendesk export the test may change."""
    return Path(shutil.copytree(EXPORT, tmp_path / "export"))


def run_import(export, *extra, mapping=MAPPING):
    out = StringIO()
    arguments = ["--from", "zendesk", "--source-dir", str(export), *extra]
    if mapping:
        arguments += ["--mapping", str(mapping)]
    call_command("import_tickets", *arguments, stdout=out)
    return ImportRun.objects.order_by("-pk").first(), out.getvalue()


def counts(run, object_type):
    row = run.counts[object_type]
    return {outcome: n for outcome, n in row.items() if n}


def edit(path, change):
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def ticket_of(source_id):
    identity = SourceIdentity.objects.get(source_system="zendesk", object_type="ticket", source_id=str(source_id))
    return Ticket.objects.get(pk=identity.object_id)


def test_a_zendesk_export_becomes_tickets_with_their_history_and_original_times(export, partner, dana):
    run, output = run_import(export)

    assert run.state == ImportRun.State.DONE, output
    solved = ticket_of(101)
    assert (solved.partner, solved.severity, solved.status) == (partner, "P2", "resolved")
    assert solved.received_at == datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    assert solved.resolved_at == datetime(2026, 10, 6, 15, 0, tzinfo=UTC)
    assert solved.first_response_at == datetime(2026, 10, 5, 9, 20, tzinfo=UTC)
    assert (solved.customer_name, solved.environment, solved.category) == ("Acme Retail", "production", "defect")
    assert solved.assignee == dana and solved.submitter.email == "ana@northwind.test"
    kinds = list(solved.events.values_list("kind", "public"))
    assert kinds == [
        ("received", True),
        ("note", False),
        ("attachment", True),
        ("started", True),
        ("comment", True),
        ("waiting", True),
        ("note", False),
        ("resumed", True),
        ("comment", True),
        ("resolved", True),
    ]
    copied = solved.events.get(kind="note", at=solved.received_at)
    assert copied.body.startswith("Copied on this ticket in Zendesk (CC): felix@fabrikam.test.")
    # The paused time (waiting on the partner) is left out of the resolution time, as for our own tickets.
    assert solved.paused_seconds == int(timedelta(hours=24, minutes=20).total_seconds())
    [log] = TicketAttachment.objects.filter(ticket=solved)
    assert (log.original_name, log.content_type, log.uploaded_at) == ("checkout.log", "text/plain", solved.received_at)
    assert log.file.read().startswith(b"2026-10-05 08:59:58 ERROR")


def test_unmatched_organisations_and_agents_get_the_holding_partner_and_placeholders(export, partner, dana):
    run, _ = run_import(export)

    closed = ticket_of(103)
    holding = Partner.objects.get(name="Imported tickets without a partner")
    assert closed.partner == holding and closed.plan.name == "Premier"
    assert (closed.severity, closed.status, closed.category, closed.environment) == ("P3", "closed", "other", "staging")
    placeholder = closed.assignee
    assert placeholder.email == "gone@vendor.test" and not placeholder.is_active
    assert not placeholder.has_usable_password()
    felix = User.objects.get(email="felix@fabrikam.test")
    assert felix.membership.partner == holding
    # An imported requester signs in by resetting a password nobody knows.
    assert list(PasswordResetForm().get_users("felix@fabrikam.test")) == [felix]
    placeholders = run.findings.filter(kind=ImportFinding.Kind.PLACEHOLDER).values_list("source_id", flat=True)
    assert sorted(placeholders) == ["504", "505"]
    reasons = dict(run.findings.filter(object_type="attachment").values_list("source_id", "reason"))
    assert "not accepted" in reasons["9002"] and "not in the export" in reasons["9003"]


def test_a_50_mb_attachment_is_refused_by_the_portal_s_size_check_and_its_comment_kept(export, partner, dana):
    with (export / "attachments" / "9001" / "checkout.log").open("r+b") as big:
        big.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk

    run, _ = run_import(export)

    [refused] = run.findings.filter(object_type="attachment", source_id="9001")
    assert refused.kind == "skipped" and "files can be at most 10" in refused.reason
    assert ticket_of(101).events.filter(kind="comment").count() == 2
    assert not TicketAttachment.objects.filter(ticket=ticket_of(101)).exists()


def test_the_report_accounts_for_every_source_object(export, partner, dana):
    run, output = run_import(export)

    assert counts(run, "organization") == {"source": 2, "unchanged": 1, "skipped": 1}
    assert counts(run, "user") == {"source": 5, "created": 4, "unchanged": 1}
    assert counts(run, "group") == {"source": 1, "skipped": 1}
    assert counts(run, "ticket_field") == {"source": 2, "skipped": 2}
    assert counts(run, "ticket") == {"source": 3, "created": 3}
    assert counts(run, "comment") == {"source": 7, "created": 7}
    assert counts(run, "attachment") == {"source": 3, "created": 1, "skipped": 2}
    total = report.rows(run)[-1]
    assert total[1] == run.total == 23 and total[-1] == 0
    assert sum(total[2:7]) == total[1]
    assert "Every source object is accounted for." in output
    assert "[####################] 100%  23/23 objects" in output
    assert "Skipped: attachment 9002:" in output


def test_imported_tickets_send_no_mail_and_start_no_escalation_for_the_past(export, partner, dana):
    run_import(export)

    urgent = ticket_of(102)
    assert (urgent.severity, urgent.status, urgent.first_response_at) == ("P1", "in_progress", None)
    # Its first response was due long ago: the breach is recorded as history, not sent as an alert.
    assert urgent.events.filter(kind="sla_breach", sla_target="first_response").exists()
    assert all(datetime.fromisoformat(step[0]) >= NOW for step in urgent.escalation_steps)
    sweep_slas(now=NOW + timedelta(seconds=30))
    assert mail.outbox == []
    assert not Notification.objects.exists()
    assert not Escalation.objects.exists()
    assert not TicketEvent.objects.filter(kind__in=["auto_ack", "escalated"]).exists()


def test_a_second_run_of_the_same_export_changes_nothing(export, partner, dana):
    run_import(export)
    before = (Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count(), Partner.objects.count())

    run, _ = run_import(export)

    assert run.state == ImportRun.State.DONE
    for object_type, row in run.counts.items():
        assert row.get("created", 0) == row.get("updated", 0) == 0, object_type
    assert counts(run, "ticket") == {"source": 3, "unchanged": 3}
    after = (Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count(), Partner.objects.count())
    assert after == before


def test_a_delta_run_adds_what_is_new_and_updates_what_changed(export, partner, dana):
    run_import(export)

    def answer_and_add(content):
        urgent = next(t for t in content["tickets"] if t["id"] == 102)
        urgent.update(status="pending", assignee_id=503, updated_at="2026-11-20T11:00:00Z")
        content["tickets"].append({**urgent, "id": 104, "subject": "Refunds stuck", "status": "new", "priority": "low"})

    edit(export / "tickets.json", answer_and_add)
    edit(
        export / "ticket_comments" / "102.json",
        lambda c: c["comments"].append(
            {
                "id": 2002,
                "author_id": 503,
                "body": "Which stores?",
                "public": True,
                "created_at": "2026-11-20T10:30:00Z",
            }
        ),
    )

    run, _ = run_import(export)

    assert counts(run, "ticket") == {"source": 4, "created": 1, "updated": 1, "unchanged": 2}
    assert counts(run, "comment") == {"source": 8, "created": 1, "unchanged": 7}
    urgent = ticket_of(102)
    assert urgent.status == "waiting_on_partner" and urgent.assignee == dana
    assert urgent.first_response_at == datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    assert urgent.events.filter(kind="waiting").count() == 1
    assert ticket_of(104).severity == "P4"
    assert Ticket.objects.count() == 4
    assert mail.outbox == []


def test_a_second_run_brings_back_no_status_event_twice(export, partner, dana):
    run_import(export)
    edit(export / "tickets.json", lambda c: c["tickets"][0].update(subject="Checkout 500 (renamed)"))

    run, _ = run_import(export)

    solved = ticket_of(101)
    assert counts(run, "ticket")["updated"] == 1 and solved.title == "Checkout 500 (renamed)"
    assert solved.events.filter(kind="resolved").count() == 1 and solved.events.filter(kind="started").count() == 1


def test_a_ticket_deleted_here_since_is_imported_again_with_its_comments_and_files(export, partner, dana):
    run_import(export)
    ticket_of(101).delete()

    run, _ = run_import(export)

    again = ticket_of(101)
    assert counts(run, "ticket") == {"source": 3, "created": 1, "unchanged": 2}
    assert counts(run, "comment") == {"source": 7, "created": 4, "unchanged": 3}
    assert again.events.filter(kind="comment").count() == 2 and again.attachments.count() == 1
    assert again.status == "resolved" and again.events.filter(kind="resolved").count() == 1


def test_comments_come_from_the_audits_when_the_export_has_no_comments_file(export, partner, dana):
    (export / "ticket_comments" / "101.json").unlink()

    run, _ = run_import(export)

    solved = ticket_of(101)
    assert counts(run, "comment") == {"source": 4, "created": 4}
    assert solved.status == "resolved" and solved.events.filter(kind="waiting").count() == 1
    assert solved.received_at == datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def test_deleted_tickets_are_skipped_and_side_loaded_records_read_once(export, partner, dana):
    def side_load_and_delete(content):
        content["tickets"][2]["status"] = "deleted"
        content["users"] = json.loads((EXPORT / "users.json").read_text())["users"][:2]  # include=users

    edit(export / "tickets.json", side_load_and_delete)

    run, _ = run_import(export)

    assert run.state == ImportRun.State.DONE
    assert counts(run, "user") == {"source": 5, "created": 4, "unchanged": 1}
    assert counts(run, "ticket") == {"source": 3, "created": 2, "skipped": 1}
    assert counts(run, "comment") == {"source": 7, "created": 5, "skipped": 2}
    assert "“deleted” in Zendesk" in run.findings.get(object_type="ticket").reason


def test_a_dry_run_counts_everything_and_writes_nothing(export, partner, dana, settings):
    before = (Ticket.objects.count(), User.objects.count(), Partner.objects.count(), SourceIdentity.objects.count())

    run, output = run_import(export, "--dry-run")

    assert run.dry_run and run.state == ImportRun.State.DONE
    assert counts(run, "ticket") == {"source": 3, "created": 3}
    assert counts(run, "attachment") == {"source": 3, "created": 1, "skipped": 2}
    assert (Ticket.objects.count(), User.objects.count(), Partner.objects.count()) == before[:3]
    assert SourceIdentity.objects.count() == before[3] == 0
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.log"))
    assert "Dry run: nothing was written." in output


def _broken_json(export):
    (export / "users.json").write_text('{"users": [{"id": 501,}]}')


def _latin1(export):
    (export / "organizations.json").write_bytes('{"organizations": [{"id": 1, "name": "Müller"}]}'.encode("latin-1"))


def _duplicate(export):
    edit(export / "tickets.json", lambda c: c["tickets"].append({**c["tickets"][0], "status": "closed"}))


def _unknown_status(export):
    edit(export / "tickets.json", lambda c: c["tickets"][1].update(status="escalated"))


def _unknown_priority(export):
    edit(export / "tickets.json", lambda c: c["tickets"][1].update(priority="blocker"))


def _nul_text(export):
    edit(export / "ticket_comments" / "102.json", lambda c: c["comments"][0].update(body="bad\u0000byte"))


def _no_requester(export):
    edit(export / "tickets.json", lambda c: c["tickets"][2].pop("requester_id"))


def _tickets_not_a_list(export):
    (export / "tickets.json").write_text('{"tickets": {"101": {}}}')


def _bad_date(export):
    edit(export / "tickets.json", lambda c: c["tickets"][0].update(created_at="05/10/2026"))


def _no_tickets(export):
    (export / "tickets.json").unlink()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_broken_json, "users.json: broken JSON at line 1 column 23"),
        (_latin1, "organizations.json: not UTF-8 text (byte 0xfc"),
        (_duplicate, "tickets.json: tickets id 101 appears twice with different contents"),
        (_unknown_status, "ticket 102: status “escalated” is not in the mapping's statuses"),
        (_unknown_priority, "ticket 102: priority “blocker” is not in the mapping's priorities"),
        (_nul_text, "102.json: text with a NUL character"),
        (_no_tickets, "no tickets found"),
        (_no_requester, "tickets.json: ticket 103 has no requester_id"),
        (_tickets_not_a_list, "tickets.json: “tickets” should be a list"),
        (_bad_date, "ticket 101 has the date '05/10/2026', not ISO 8601"),
    ],
)
def test_a_bad_source_is_refused_in_one_line_before_anything_is_written(export, partner, dana, spoil, message):
    spoil(export)

    with pytest.raises(CommandError) as refused:
        run_import(export)

    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not Ticket.objects.exists() and not SourceIdentity.objects.exists() and not ImportRun.objects.exists()


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such directory"):
        run_import(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("priorities: [1, 2]", "“priorities” must be a table"),
        ("colours: {}", "unknown key “colours”"),
        ("priorities: {urgent: P0}", "priority “urgent” maps to “P0”"),
        ("statuses: {open: doing}", "status “open” maps to “doing”"),
        ("plan: [unclosed", "not valid YAML"),
    ],
)
def test_a_bad_mapping_is_refused_in_one_line(export, tmp_path, text, message):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(text)

    with pytest.raises(CommandError, match=message):
        run_import(export, mapping=mapping)


def test_a_toml_mapping_works_like_yaml(export, partner, dana, tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('plan = "Premier"\n[priorities]\nnormal = "P2"\nnone = "P4"\n')

    run, _ = run_import(export, mapping=mapping)

    assert run.state == ImportRun.State.DONE and ticket_of(103).severity == "P4"


def test_a_group_mapped_to_a_partner_takes_the_tickets_no_organisation_matches(
    export, partner, other_partner_org, dana, tmp_path
):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("partners:\n  groups: {Tier 2 support: contoso}\n")

    run, _ = run_import(export, mapping=mapping)

    assert run.state == ImportRun.State.DONE
    assert ticket_of(103).partner == other_partner_org and ticket_of(101).partner == partner


def test_refusing_unmatched_organisations_fails_their_tickets_and_the_run(export, partner, dana, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("plan: Premier\npartners: {unmatched: refuse}\n")

    with pytest.raises(CommandError, match=r"incomplete: .*failed"):
        run_import(export, mapping=mapping)

    run = ImportRun.objects.get()
    assert run.state == ImportRun.State.INCOMPLETE
    assert counts(run, "ticket") == {"source": 3, "created": 2, "failed": 1}
    [failure] = run.findings.filter(kind="failed")
    assert failure.source_id == "103" and "no partner matches" in failure.reason
    assert not Partner.objects.filter(name="Imported tickets without a partner").exists()


def fail_after_writing(monkeypatch, title_start, error):
    """Raise `error` once the ticket titled `title_start…` is written, in its batch (either way a ticket is written)."""
    careful, fast = Writer.finish_ticket, new_tickets._insert

    def finish_then_fail(self, ticket):
        careful(self, ticket)
        if ticket.title.startswith(title_start):
            raise error

    def insert_then_fail(writer, planned):
        fast(writer, planned)
        if any(plan.ticket.title.startswith(title_start) for plan in planned):
            raise error

    monkeypatch.setattr(Writer, "finish_ticket", finish_then_fail)
    monkeypatch.setattr(new_tickets, "_insert", insert_then_fail)
    return lambda: (
        monkeypatch.setattr(Writer, "finish_ticket", careful),
        monkeypatch.setattr(new_tickets, "_insert", fast),
    )


def test_a_failure_inside_a_batch_leaves_nothing_of_it_and_the_next_run_resumes(export, partner, dana, monkeypatch):
    restore = fail_after_writing(monkeypatch, "Gateway", RuntimeError("disk full"))
    with pytest.raises(CommandError, match=r"stopped: RuntimeError: disk full\. Run the same command to resume\."):
        run_import(export, "--batch-size", "1")

    run = ImportRun.objects.get()
    assert run.state == ImportRun.State.FAILED
    assert list(Ticket.objects.values_list("title", flat=True)) == ["Checkout returns HTTP 500"]
    assert not SourceIdentity.objects.filter(object_type__in=["ticket", "comment"], source_id__in=["102", "2001"])
    restore()

    resumed, output = run_import(export, "--batch-size", "1")

    assert resumed.pk == run.pk and resumed.state == ImportRun.State.DONE
    assert f"Resuming {run} after batch" in output
    assert Ticket.objects.count() == 3 and counts(resumed, "ticket") == {"source": 3, "created": 3}
    assert report.rows(resumed)[-1][-1] == 0


class Killed(BaseException):
    """The process dies: no except clause of the import runs (kill -9)."""


def _killed_at_the_second_ticket(export, monkeypatch):
    """Run the import in batches of one and let it die right after writing the second ticket."""
    restore = fail_after_writing(monkeypatch, "Gateway", Killed())
    with pytest.raises(Killed):
        run_import(export, "--batch-size", "1")
    restore()


def test_a_killed_run_is_resumed_once_it_is_stale_and_not_while_it_may_be_alive(export, partner, dana, monkeypatch):
    _killed_at_the_second_ticket(export, monkeypatch)
    run = ImportRun.objects.get()
    assert run.state == ImportRun.State.RUNNING

    with pytest.raises(CommandError, match="is still running"):
        run_import(export, "--batch-size", "1")
    ImportRun.objects.filter(pk=run.pk).update(heartbeat_at=NOW - timedelta(minutes=11))

    resumed, _ = run_import(export, "--batch-size", "1")

    assert resumed.pk == run.pk and resumed.state == ImportRun.State.DONE
    assert Ticket.objects.count() == 3
    assert counts(resumed, "comment") == {"source": 7, "created": 7}


def test_a_cut_off_run_of_a_source_that_changed_since_is_replaced_by_a_new_run_without_duplicates(
    export, partner, dana, monkeypatch
):
    _killed_at_the_second_ticket(export, monkeypatch)
    cut_off = ImportRun.objects.get()
    ImportRun.objects.filter(pk=cut_off.pk).update(heartbeat_at=NOW - timedelta(hours=1))
    edit(export / "tickets.json", lambda c: c["tickets"][0].update(subject="Checkout 500 (renamed)"))

    run, _ = run_import(export, "--batch-size", "1")

    cut_off.refresh_from_db()
    assert run.pk != cut_off.pk and cut_off.state == ImportRun.State.FAILED
    assert run.state == ImportRun.State.DONE and Ticket.objects.count() == 3
    assert counts(run, "ticket") == {"source": 3, "updated": 1, "created": 2}


def test_a_run_with_objects_unaccounted_for_does_not_finish_as_a_success(export, partner, dana, monkeypatch):
    monkeypatch.setattr(Writer, "groups_batch", lambda self, batch, tally: None)

    with pytest.raises(CommandError, match="incomplete: 1 source object\\(s\\) unaccounted for"):
        run_import(export)

    assert ImportRun.objects.get().state == ImportRun.State.INCOMPLETE


def test_since_imports_only_the_tickets_updated_since_then(export, partner, dana):
    run, _ = run_import(export, "--since", "2026-10-01")

    assert counts(run, "ticket") == {"source": 2, "created": 2}
    assert sorted(Ticket.objects.values_list("title", flat=True)) == [
        "Checkout returns HTTP 500",
        "Gateway down for every store",
    ]


@pytest.fixture
def imports_dir(settings, tmp_path, export):
    settings.IMPORTS_DIR = tmp_path / "imports"
    settings.IMPORTS_DIR.mkdir()
    return Path(shutil.copytree(export, settings.IMPORTS_DIR / "zendesk-2026-12"))


def test_a_manager_dry_runs_an_export_in_the_admin_reads_the_report_and_runs_it(
    client, support_manager, partner, dana, imports_dir, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client.force_login(support_manager)
    assert client.get(reverse("admin:support_importrun_start")).status_code == 200
    mapping = SimpleUploadedFile("mapping.yaml", MAPPING.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:support_importrun_start"),
            {"source_system": "zendesk", "source_dir": str(imports_dir), "mapping": mapping, "dry_run": "on"},
        )
    dry = ImportRun.objects.get()
    assert response.status_code == 302 and dry.dry_run and dry.created_by == support_manager
    dry.refresh_from_db()
    assert dry.state == ImportRun.State.DONE and not Ticket.objects.exists()
    page = client.get(reverse("admin:support_importrun_change", args=[dry.pk])).content.decode()
    assert "Reconciliation (dry run: nothing was written)" in page and "Run this import for real" in page
    assert "Skipped, failed and stand-ins (8)" in page and "the file is not in the export" in page
    csv = b"".join(client.get(reverse("admin:support_importrun_csv", args=[dry.pk])).streaming_content).decode()
    assert csv.splitlines()[0] == "object type,source,created,updated,unchanged,skipped,failed,unaccounted"
    assert "ticket,3,3,0,0,0,0,0" in csv and "Skipped,attachment,9003," in csv

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:support_importrun_run", args=[dry.pk]))

    real = ImportRun.objects.exclude(pk=dry.pk).get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{real.pk}/change/")
    real.refresh_from_db()
    assert not real.dry_run and real.state == ImportRun.State.DONE and real.mapping == dry.mapping
    assert Ticket.objects.count() == 3 and mail.outbox == []


def test_the_admin_refuses_a_bad_export_in_one_line(client, support_manager, imports_dir):
    from django.urls import reverse

    (imports_dir / "tickets.json").write_text("{")
    client.force_login(support_manager)

    response = client.post(
        reverse("admin:support_importrun_start"), {"source_system": "zendesk", "source_dir": str(imports_dir)}
    )

    assert response.status_code == 400
    assert "tickets.json: broken JSON at line 1 column 2" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_support_desk_staff_cannot_reach_the_import_page(client, support_l1):
    from django.urls import reverse

    client.force_login(support_l1)
    assert client.get(reverse("admin:support_importrun_start")).status_code == 302


def test_running_a_dry_run_for_real_after_its_export_broke_says_why_and_starts_nothing(
    client, support_manager, partner, dana, imports_dir, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client.force_login(support_manager)
    mapping = SimpleUploadedFile("mapping.yaml", MAPPING.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:support_importrun_start"),
            {"source_system": "zendesk", "source_dir": str(imports_dir), "mapping": mapping, "dry_run": "on"},
        )
    dry = ImportRun.objects.get()
    assert dry.state == ImportRun.State.DONE
    (imports_dir / "users.json").write_text("[")

    response = client.post(reverse("admin:support_importrun_run", args=[dry.pk]), follow=True)

    assert ImportRun.objects.get() == dry
    assert "users.json: broken JSON at line 1 column 2: Expecting value." in [
        str(m) for m in response.context["messages"]
    ]


def test_an_object_that_fails_takes_back_what_the_run_remembered_of_it(export, partner, dana, monkeypatch):
    def two_tickets_of_a_stranger(content):
        stranger = {**content["tickets"][1], "requester_id": 999}
        content["tickets"] += [{**stranger, "id": 105}, {**stranger, "id": 106}]

    edit(export / "tickets.json", two_tickets_of_a_stranger)
    real = Writer._ticket_values

    def fail_the_first(self, source, *args):
        values = real(self, source, *args)  # after the stranger's placeholder was made
        if source.source_id == "105":
            raise ObjectFailed("the disk said no")
        return values

    monkeypatch.setattr(Writer, "_ticket_values", fail_the_first)

    with pytest.raises(CommandError, match="1 object\\(s\\) failed"):
        run_import(export)

    stranger = ticket_of(106).submitter
    assert stranger.email == "zendesk-user-999@placeholder.invalid" and User.objects.filter(pk=stranger.pk).exists()
    assert counts(ImportRun.objects.get(), "ticket") == {"source": 5, "created": 4, "failed": 1}
