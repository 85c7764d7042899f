"""Seed django-helpdesk's tables fast, in the shape of the project's bench tickets (run by the peer's venv).

One queue, a staff agent, N open tickets with titles and descriptions, priorities 1–5 spread
evenly, every third one assigned to the agent, each with the "Ticket Opened" follow-up that
helpdesk's own ticket form writes. Rows go in with INSERT … SELECT over generate_series.

Usage (seeds the database that HELPDESK_DATABASE_URL names, already migrated):

    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/seed.py --open 100000
    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/seed.py --due 100000
    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/seed.py --history 100000

--history: the source of the import benchmark (bench/import_bench.py) instead, a helpdesk with a
past: `history()` below.
"""

import argparse
import os
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent / "site"


def setup_django():
    """Configure Django with the peer's site (bench/peers/helpdesk/site/settings.py)."""
    sys.path.insert(0, str(SITE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    import django

    django.setup()


def setup_database():
    """Create the *_bench database anew, migrate it and load the e-mail templates, as the install docs say."""
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    params = settings.DATABASES["default"]
    name = params["NAME"]
    assert name.endswith("_bench"), "run against a *_bench PostgreSQL database"
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    call_command("migrate", verbosity=0)
    call_command("loaddata", "emailtemplate.json", verbosity=0)


DESCRIPTION = "Checkout returns 500 for some cards since this morning; the partner attached a request id."


def world():
    """Return the bench queue (escalating after one day) and the staff agent who works it."""
    from django.contrib.auth.models import User
    from helpdesk.models import Queue

    agent = User.objects.create_user("agent", email="agent@example.test", password="unused", is_staff=True)
    queue = Queue.objects.create(title="Bench desk", slug="bench", email_address="desk@example.test", escalate_days=1)
    return queue, agent


def fill(queue, agent, count, *, due_for_escalation=False):
    """Insert `count` open tickets and their opening follow-ups; due ones were opened two days ago.

    Tickets due for escalation avoid priority 1, which escalate_tickets never escalates.
    """
    from django.db import connection

    # Bound as %(name)s parameters, so a literal modulo is written %%.
    if due_for_escalation:
        created, priority = "now() - interval '2 days' - (g || ' seconds')::interval", "2 + g %% 4"
    else:
        created, priority = "now() - (g || ' seconds')::interval", "1 + g %% 5"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO helpdesk_ticket (title, queue_id, created, modified, submitter_email, assigned_to_id,
                                         status, on_hold, description, priority, due_date, secret_key)
            SELECT 'Bench ticket ' || g, %(queue)s, {created}, {created}, 'bench@example.test',
                   CASE WHEN g %% 3 = 0 THEN %(agent)s END, 1, false, %(description)s, {priority},
                   now() + (g || ' seconds')::interval, gen_random_uuid()::text
            FROM generate_series(1, %(count)s) AS g
            """,
            {"queue": queue.pk, "agent": agent.pk, "description": DESCRIPTION, "count": count},
        )
        cursor.execute(
            """INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public)
               SELECT id, created, 'Ticket Opened', description, true FROM helpdesk_ticket"""
        )
        cursor.execute("ANALYZE helpdesk_ticket")
        cursor.execute("ANALYZE helpdesk_followup")


# The import benchmark's helpdesk: one queue per partner, its people at the partner's domain.
HISTORY_QUEUES, HISTORY_AGENTS, HISTORY_PEOPLE = 10, 20, 2000


def history(count):
    """Insert `count` tickets with three follow-ups each, as two years of a helpdesk's work leave them.

    HISTORY_QUEUES queues ("Desk 1" … slugs desk-1 …), HISTORY_AGENTS staff agents and
    HISTORY_PEOPLE submitters with accounts (person<n>@partner<queue>.test, each writing to
    their partner's queue). Ticket g was opened g × 10 minutes after two years ago; six in ten
    are closed, one resolved, two open, one reopened; priorities 1–5 in turn; every third
    assigned. Follow-ups: the opening (repeating the description, by the submitter), an agent's
    public reply an hour later, then the status change with its "Status" ticket change (closed,
    resolved, reopened), or, on open tickets, an internal note.
    """
    from django.db import connection

    statuses = "(ARRAY[4,4,4,4,4,4,3,1,1,2])[1 + g %% 10]"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,
                                   is_active, date_joined)
            SELECT a, '!', false, 'agent' || a, 'Agent', a::text, 'agent' || a || '@vendor.test', true, true,
                   now() - interval '3 years'
            FROM generate_series(1, %(agents)s) AS a
            UNION ALL
            SELECT %(agents)s + p, '!', false, 'person' || p, 'Person', p::text,
                   'person' || p || '@partner' || (1 + p %% %(queues)s) || '.test', false, true,
                   now() - interval '3 years'
            FROM generate_series(1, %(people)s) AS p;
            INSERT INTO helpdesk_queue (title, slug, email_address, allow_public_submission, allow_email_submission,
                                        email_box_type, email_box_ssl, email_box_interval, permission_name,
                                        enable_notifications_on_email_events)
            SELECT 'Desk ' || q, 'desk-' || q, 'desk' || q || '@vendor.test', false, false, 'pop3', false, 5,
                   'helpdesk.queue_access_desk-' || q, false
            FROM generate_series(1, %(queues)s) AS q;
            """,
            {"agents": HISTORY_AGENTS, "people": HISTORY_PEOPLE, "queues": HISTORY_QUEUES},
        )
        # person p (user id agents + p) writes to queue 1 + p % queues; ticket g is person 1 + g % people's.
        cursor.execute(
            f"""
            INSERT INTO helpdesk_ticket (id, title, queue_id, created, modified, submitter_email, assigned_to_id,
                                         status, on_hold, description, priority, secret_key)
            SELECT g, 'Ticket ' || g, (SELECT id FROM helpdesk_queue WHERE slug = 'desk-' || (1 + p %% %(queues)s)),
                   opened, opened + interval '3 hours',
                   'person' || p || '@partner' || (1 + p %% %(queues)s) || '.test',
                   CASE WHEN g %% 3 = 0 THEN 1 + g %% %(agents)s END, {statuses}, false,
                   %(description)s || ' (ticket ' || g || ')', 1 + g %% 5, gen_random_uuid()::text
            FROM generate_series(1, %(count)s) AS g,
                 LATERAL (SELECT 1 + g %% %(people)s AS p,
                                 now() - interval '2 years' + g * interval '10 minutes' AS opened) AS t
            """,
            {
                "agents": HISTORY_AGENTS,
                "people": HISTORY_PEOPLE,
                "queues": HISTORY_QUEUES,
                "description": DESCRIPTION,
                "count": count,
            },
        )
        cursor.execute(
            """
            INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public, user_id, new_status)
            SELECT id, created, 'Ticket Opened', description, true, %(agents)s + 1 + id %% %(people)s, NULL::integer
            FROM helpdesk_ticket
            UNION ALL
            SELECT id, created + interval '1 hour', 'Comment', 'Thanks, we are looking into it.', true,
                   1 + id %% %(agents)s, NULL::integer
            FROM helpdesk_ticket
            UNION ALL
            SELECT id, created + interval '3 hours',
                   CASE status WHEN 1 THEN 'Comment' WHEN 2 THEN 'Reopened' WHEN 3 THEN 'Resolved' ELSE 'Closed' END,
                   CASE status WHEN 1 THEN 'Asked the gateway team for their logs.' ELSE 'Status changed.' END,
                   status <> 1, 1 + id %% %(agents)s, CASE WHEN status <> 1 THEN status END
            FROM helpdesk_ticket
            ORDER BY 1, 2
            """,
            {"agents": HISTORY_AGENTS, "people": HISTORY_PEOPLE},
        )
        cursor.execute(
            """
            INSERT INTO helpdesk_ticketchange (followup_id, field, old_value, new_value)
            SELECT id, 'Status', 'Open',
                   CASE new_status WHEN 2 THEN 'Reopened' WHEN 3 THEN 'Resolved' ELSE 'Closed' END
            FROM helpdesk_followup WHERE new_status IS NOT NULL
            """
        )
        for table in ("auth_user", "helpdesk_ticket", "helpdesk_followup", "helpdesk_ticketchange"):
            cursor.execute(f"ANALYZE {table}")


def main():
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--open", type=int, help="open tickets to add")
    group.add_argument("--due", type=int, help="open tickets to add, each due for escalation")
    group.add_argument("--history", type=int, help="tickets with their past to add (the import's source)")
    parser.add_argument("--fresh", action="store_true", help="create the *_bench database anew and migrate it first")
    args = parser.parse_args()
    setup_django()
    if args.fresh:
        setup_database()
    if args.history:
        history(args.history)
        return
    queue, agent = world()
    fill(queue, agent, args.open or args.due, due_for_escalation=bool(args.due))


if __name__ == "__main__":
    main()
