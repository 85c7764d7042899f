"""A ticket import killed with SIGKILL mid-run (a real process, on PostgreSQL) resumes where it stopped.

Nothing of the batch it was writing remains, nothing is imported twice, and the resumed run's
report adds up to the source. Run by `.ci/run` (`pytest -m faults`); skipped elsewhere.
"""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from support.imports import report
from support.models import ImportRun, SourceIdentity, Ticket

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="fault tests run on PostgreSQL"),
]
ROOT = Path(__file__).resolve().parents[2]
TICKETS = 1000  # in batches of 10: the fast path writes one in a few milliseconds, so the kill lands mid-run


def zendesk_export(folder: Path) -> Path:
    """Write an export of TICKETS tickets of Northwind, two comments each (Zendesk's shapes)."""
    (folder / "ticket_comments").mkdir(parents=True)
    orgs = {"organizations": [{"id": 1, "name": "Northwind Resellers", "domain_names": ["northwind.test"]}]}
    (folder / "organizations.json").write_text(json.dumps(orgs))
    people = [{"id": 10, "name": "Ana", "email": "ana@northwind.test", "role": "end-user", "organization_id": 1}]
    people.append({"id": 20, "name": "Dana", "email": "dana@vendor.test", "role": "agent", "organization_id": None})
    (folder / "users.json").write_text(json.dumps({"users": people}))
    tickets = []
    for n in range(TICKETS):
        ticket_id = 1000 + n
        tickets.append(
            {
                "id": ticket_id,
                "subject": f"Ticket {n}",
                "description": "Broken.",
                "status": "solved",
                "priority": "normal",
                "requester_id": 10,
                "assignee_id": 20,
                "organization_id": 1,
                "created_at": "2026-10-01T09:00:00Z",
                "updated_at": "2026-10-02T09:00:00Z",
            }
        )
        comments = [
            {
                "id": ticket_id * 10,
                "author_id": 10,
                "body": "Broken.",
                "public": True,
                "created_at": "2026-10-01T09:00:00Z",
            },
            {
                "id": ticket_id * 10 + 1,
                "author_id": 20,
                "body": "Fixed.",
                "public": True,
                "created_at": "2026-10-01T10:00:00Z",
            },
        ]
        (folder / "ticket_comments" / f"{ticket_id}.json").write_text(json.dumps({"comments": comments}))
    (folder / "tickets.json").write_text(json.dumps({"tickets": tickets, "end_of_stream": True}))
    return folder


def import_command(export: Path) -> list[str]:
    return [sys.executable, "manage.py", "import_tickets", "--from", "zendesk", "--source-dir", str(export)]


def environment() -> dict:
    database = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}",
        "DEBUG": "true",
        "SECRET_KEY": "fault-tests",
    }


def test_an_import_killed_mid_batch_resumes_without_losing_or_doubling_anything(plan, partner, tmp_path):
    export = zendesk_export(tmp_path / "export")
    process = subprocess.Popen(
        [*import_command(export), "--batch-size", "10"], cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not ImportRun.objects.filter(batches_done__gte=5).exists():
        assert process.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline, "the import never committed five batches"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()

    run = ImportRun.objects.get()
    assert run.state == ImportRun.State.RUNNING  # nothing ran to say otherwise
    committed = run.counts["ticket"].get("created", 0)
    assert 0 < committed < TICKETS
    # What exists is exactly what the committed batches say: the batch being written left nothing.
    assert Ticket.objects.count() == committed
    assert SourceIdentity.objects.filter(object_type="ticket").count() == committed

    refused = subprocess.run(import_command(export), cwd=ROOT, env=environment(), capture_output=True, text=True)
    assert refused.returncode != 0 and "is still running" in refused.stderr
    ImportRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))

    resumed = subprocess.run(
        [*import_command(export), "--batch-size", "10"], cwd=ROOT, env=environment(), capture_output=True, text=True
    )

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Resuming Import #{run.pk}" in resumed.stdout
    run.refresh_from_db()
    assert run.state == ImportRun.State.DONE and report.unaccounted(run) == 0
    assert run.counts["ticket"] == {"source": TICKETS, "created": TICKETS}
    assert Ticket.objects.count() == TICKETS
    per_ticket = Ticket.objects.annotate(n=Count("events")).values_list("n", flat=True).distinct()
    assert list(per_ticket) == [3]  # received, the reply, resolved: none twice
