"""Seed django-helpdesk's tables fast, in the shape of the project's bench tickets (run by the peer's venv).

One queue, a staff agent, N open tickets with titles and descriptions, priorities 1–5 spread
evenly, every third one assigned to the agent, each with the "Ticket Opened" follow-up that
helpdesk's own ticket form writes. Rows go in with INSERT … SELECT over generate_series.

Usage (seeds the database that HELPDESK_DATABASE_URL names, already migrated):

    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/seed.py --open 100000
    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/seed.py --due 100000
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


def main():
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--open", type=int, help="open tickets to add")
    group.add_argument("--due", type=int, help="open tickets to add, each due for escalation")
    args = parser.parse_args()
    setup_django()
    queue, agent = world()
    fill(queue, agent, args.open or args.due, due_for_escalation=bool(args.due))


if __name__ == "__main__":
    main()
