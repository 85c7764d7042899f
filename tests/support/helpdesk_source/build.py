"""Build the import tests' source: a django-helpdesk 2.6.1 database made by django-helpdesk itself.

Run by the peer's venv (bench/peers/helpdesk/peer_venv.py builds it) with the peer's site settings:
its own migrations on a scratch SQLite file, then queues, users, tickets in every status, public
and internal follow-ups, ticket changes, CCs and attachments written through its own models, with
the original times set afterwards (its `created`/`modified` fields stamp the present on save).
Prints the database's path; the attachments go under `media/` next to it.

    var/peers/helpdesk-venv/bin/python tests/support/helpdesk_source/build.py [DIRECTORY] [--database-url URL]

DIRECTORY defaults to var/helpdesk-source/. With --database-url postgres://… the tables go into
that (empty, existing) PostgreSQL database instead, and its URL is printed. tests/support/
test_imports_helpdesk.py reads the result (HELPDESK_SOURCE_DB names the file) and says what to
expect of it.
"""

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SITE = ROOT / "bench" / "peers" / "helpdesk" / "site"


def setup(directory: Path, database_url: str | None) -> str:
    """Configure django-helpdesk's site on `database_url`, or a fresh SQLite file in `directory`; return which."""
    directory.mkdir(parents=True, exist_ok=True)
    built = database_url
    if built is None:
        database = directory / "helpdesk.sqlite3"
        database.unlink(missing_ok=True)
        built, database_url = str(database), f"sqlite:///{database}"
    os.environ["HELPDESK_DATABASE_URL"] = database_url
    os.environ["HELPDESK_MEDIA_ROOT"] = str(directory / "media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"  # the peer site's, whoever runs this
    sys.path.insert(0, str(SITE))
    import django

    django.setup()
    return built


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def follow_up(ticket, when, *, user=None, title="Comment", comment="", public=True, status=None, message_id=None):
    """Write a follow-up as helpdesk's update_ticket does: its new status, and a Status change row."""
    from helpdesk.models import FollowUp

    followup = FollowUp(ticket=ticket, date=at(when), user=user, title=title, comment=comment, public=public)
    followup.message_id = message_id
    if status is not None and status != ticket.status:
        old = ticket.get_status_display()
        ticket.status = status
        followup.new_status = status
        followup.save()
        followup.ticketchange_set.create(field="Status", old_value=old, new_value=ticket.get_status_display())
    else:
        followup.save()
    return followup


def attach(followup, name: str, content: bytes) -> None:
    from django.core.files.base import ContentFile
    from helpdesk.models import FollowUpAttachment

    FollowUpAttachment.objects.create(followup=followup, file=ContentFile(content, name=name), filename=name)


def build() -> None:
    from django.contrib.auth.models import User
    from helpdesk.models import Queue, Ticket, TicketCC

    dana = User.objects.create_user(
        "dana", email="dana@vendor.test", first_name="Dana", last_name="Agent", is_staff=True
    )
    gone = User.objects.create_user("gone", email="gone@vendor.test", first_name="Former", is_staff=True)
    ana = User.objects.create_user("ana", email="ana@northwind.test", first_name="Ana", last_name="Lima")
    desk = Queue.objects.create(title="Northwind desk", slug="northwind", email_address="desk@vendor.test")
    general = Queue.objects.create(title="General", slug="general", email_address="help@vendor.test")

    # 1: resolved, with a reply, an internal note, a file on the opening and a CC of someone without an account.
    checkout = Ticket.objects.create(
        title="Checkout returns HTTP 500",
        queue=desk,
        submitter_email="ana@northwind.test",
        description="Checkout fails for card payments since 08:55.",
        priority=2,
        assigned_to=dana,
    )
    opened = follow_up(checkout, "2026-10-05 09:00", user=dana, title="Ticket Opened", comment=checkout.description)
    attach(opened, "checkout.log", b"2026-10-05 08:59:58 ERROR payment gateway timeout\n")
    attach(opened, "screenshot.exe", b"MZ\x90\x00not a screenshot")
    follow_up(checkout, "2026-10-05 09:20", user=dana, comment="Looking into it: which card brands?")
    follow_up(checkout, "2026-10-05 10:00", user=dana, comment="Gateway logs show timeouts.", public=False)
    follow_up(
        checkout,
        "2026-10-06 15:00",
        user=dana,
        title="Resolved",
        comment="Fixed and deployed.",
        status=Ticket.RESOLVED_STATUS,
    )
    TicketCC.objects.create(ticket=checkout, email="felix@fabrikam.test", can_view=True)

    # 2: open and urgent, from someone without an account, who answered by e-mail.
    gateway = Ticket.objects.create(
        title="Gateway down for every store",
        queue=general,
        submitter_email="felix@fabrikam.test",
        description="No store can take payments.",
        priority=1,
    )
    follow_up(gateway, "2026-11-20 10:00", title="Ticket Opened Via Web", comment=gateway.description)
    follow_up(gateway, "2026-11-20 10:10", comment="Still down.", message_id="<a1@fabrikam.test>")
    TicketCC.objects.create(ticket=gateway, user=ana)

    # 3: resolved, reopened by the submitter's mail, then closed by an agent who has left since.
    refunds = Ticket.objects.create(
        title="Refunds stuck",
        queue=desk,
        submitter_email="ana@northwind.test",
        description="Refunds stay pending.",
        priority=4,
    )
    follow_up(refunds, "2026-09-01 08:00", user=gone, title="Ticket Opened", comment=refunds.description)
    follow_up(refunds, "2026-09-02 09:00", user=gone, comment="Released.", status=Ticket.RESOLVED_STATUS)
    follow_up(refunds, "2026-09-03 09:00", comment="Still pending.", status=Ticket.REOPENED_STATUS, message_id="<b@x>")
    follow_up(refunds, "2026-09-04 09:00", user=gone, title="Closed", status=Ticket.CLOSED_STATUS)

    # 4: a duplicate, very low priority; 5: open, made without the form (no opening follow-up).
    duplicate = Ticket.objects.create(
        title="Refunds stuck (again)",
        queue=general,
        submitter_email="ana@northwind.test",
        description="Same.",
        priority=5,
    )
    follow_up(duplicate, "2026-09-05 08:00", title="Ticket Opened Via Web", comment=duplicate.description)
    follow_up(duplicate, "2026-09-05 09:00", user=dana, title="Duplicate", status=Ticket.DUPLICATE_STATUS)
    quiet = Ticket.objects.create(title="Invoice copy", queue=desk, submitter_email="ana@northwind.test", priority=3)

    # Follow-ups stamp their ticket's `modified` with the present, and `created` is set on insert:
    # the original times go in last.
    for ticket, created, modified in [
        (checkout, "2026-10-05 09:00", "2026-10-06 15:00"),
        (gateway, "2026-11-20 10:00", "2026-11-20 10:10"),
        (refunds, "2026-09-01 08:00", "2026-09-04 09:00"),
        (duplicate, "2026-09-05 08:00", "2026-09-05 09:00"),
        (quiet, "2026-11-25 12:00", "2026-11-25 12:00"),
    ]:
        Ticket.objects.filter(pk=ticket.pk).update(created=at(created), modified=at(modified))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "var" / "helpdesk-source")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to build in, instead of SQLite")
    args = parser.parse_args()
    database = setup(args.directory.resolve(), args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    build()
    print(database)


if __name__ == "__main__":
    main()
