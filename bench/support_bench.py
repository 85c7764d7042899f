"""Benchmarks of the staff queue and the SLA sweep on PostgreSQL.

Usage (creates and drops its own database, partnerportal_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench \
        .venv/bin/python bench/support_bench.py [--queue-sizes 1000 100000] [--sweep-size 1000000] \
        [--escalation-sizes 1000 100000] [--scoreboard-sizes 10000 1000000]

Prints one line per figure; docs/benchmarks.md records the results.
"""

import argparse
import os
import statistics
import time
from datetime import date
from datetime import time as clock_time

from common import setup_database, signed_in_client
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from floor import FLOOR_URL, install_floor

from programs.models import Membership, StaffRole, User
from support.escalation.terms import escalation_snapshot
from support.models import (
    EscalationLevel,
    EscalationPolicy,
    OnCallLayer,
    OnCallMember,
    OnCallSchedule,
    Ticket,
    TicketEvent,
)
from support.tickets.sweep import sweep_slas
from tests.factories import PartnerFactory, entitle, file_ticket, staff_user, support_plan

COPY_COLUMNS = [
    f.column for f in Ticket._meta.concrete_fields if f.column not in {"id", "next_sla_check_at", "next_due_at"}
]


def world():
    plan = support_plan()
    partner = PartnerFactory()
    entitle(partner, plan)
    member = Membership.objects.create(
        partner=partner, user=User.objects.create_user("bench@example.test"), role="admin"
    )
    agent = staff_user(StaffRole.SUPPORT_L1, email="agent@example.test")
    template = file_ticket(partner, member.user, title="Bench ticket", severity="P3")
    return agent, template


def fill(template, count, *, due_share=0.0):
    """Copy the template ticket `count` times; `due_share` of them have thresholds already crossed."""
    columns = ", ".join(COPY_COLUMNS)
    due_every = int(1 / due_share) if due_share else 0
    crossed = f"CASE WHEN {due_every} > 0 AND g %% {due_every} = 0 THEN now() - interval '1 minute' ELSE now() + (g || ' seconds')::interval END"
    with connection.cursor() as cursor:
        # The copies are fixtures, not changes anyone made: keep them out of the audit trail.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            f"""
            INSERT INTO support_ticket ({columns}, next_sla_check_at, next_due_at)
            SELECT {columns}, {crossed}, now() + (g || ' seconds')::interval
            FROM support_ticket, generate_series(1, %s) AS g WHERE id = %s
            """,
            [count, template.pk],
        )
        # Crossed rows: their first-response thresholds are in the past too.
        cursor.execute(
            """UPDATE support_ticket SET first_response_warn_at = now() - interval '30 minutes',
                   first_response_due = now() - interval '1 minute',
                   next_sla_check_at = now() - interval '30 minutes'
               WHERE next_sla_check_at <= now()"""
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE support_ticket")


def bench_page(user, path, runs, *, headers=None):
    """Return the median time of GET `path` as `user` over `runs` requests, and its query count.

    With `headers` (an API token), the requests carry them instead of a signed-in session.
    """
    client = signed_in_client(user, headers=headers)
    client.get(path)  # warm caches
    timings = []
    reset_queries()  # each request resets the log: count from an empty one
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, response.content[:300]
    return statistics.median(timings), len(queries)


def bench_sweep():
    due = Ticket.objects.filter(first_response_due__lt=timezone.now(), first_response_at__isnull=True).count()
    reset_queries()
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            with cProfile.Profile() as profile:
                result = sweep_slas(notify=False)
            profile.print_stats("cumulative")
        else:
            result = sweep_slas(notify=False)
    sweep_seconds = time.perf_counter() - start
    if os.environ.get("BENCH_VERBOSE"):
        for query in queries.captured_queries:
            print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:110]}")
    assert result.recorded == 2 * due, (result.recorded, due)
    # The floor: one raw UPDATE touching the same rows, in the same run.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE support_ticket SET next_sla_check_at = first_response_warn_at WHERE first_response_due < now() AND first_response_at IS NULL"
        )
        start = time.perf_counter()
        cursor.execute("UPDATE support_ticket SET next_sla_check_at = NULL WHERE next_sla_check_at <= now()")
        floor_seconds = time.perf_counter() - start
        touched = cursor.rowcount
    return due, sweep_seconds, len(queries), touched, floor_seconds


def escalation_world(template):
    """Give the bench plan an escalation policy (L1 takes new tickets) with a one-person on-call schedule."""
    person = staff_user(StaffRole.SUPPORT_L1, email="oncall@example.test")
    schedule = OnCallSchedule.objects.create(name="Bench desk", time_zone="UTC")
    layer = OnCallLayer.objects.create(
        schedule=schedule, name="Everyone", starts_on=date(2026, 1, 5), handoff=clock_time(9)
    )
    OnCallMember.objects.create(layer=layer, person=person, position=1)
    policy = EscalationPolicy.objects.create(plan=template.plan)
    EscalationLevel.objects.create(policy=policy, rank=1, name="L1 support", rule="entry", schedule=schedule)
    EscalationLevel.objects.create(policy=policy, rank=2, name="L2 senior support", rule="on_request", person=person)
    template.escalation_terms = escalation_snapshot(template.plan)
    template.save(update_fields=["escalation_terms"])


def fill_due_for_escalation(template, count):
    """Copy the template `count` times, each due for exactly one escalation (L1, a minute ago) and nothing else."""
    columns = ", ".join(c for c in COPY_COLUMNS if c != "escalation_steps")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM support_ticket WHERE id <> %s", [template.pk])
        cursor.execute(
            f"""
            INSERT INTO support_ticket ({columns}, escalation_steps, next_sla_check_at, next_due_at)
            SELECT {columns},
                   jsonb_build_array(jsonb_build_array(to_jsonb(now() - interval '1 minute'), 1, 'entry', 'New ticket.')),
                   now() - interval '1 minute', now() + interval '1 day'
            FROM support_ticket, generate_series(1, %s) AS g WHERE id = %s
            """,
            [count, template.pk],
        )
        cursor.execute(
            "UPDATE support_ticket SET first_response_warn_at = now() + interval '1 day',"
            " first_response_due = now() + interval '2 days', resolution_warn_at = now() + interval '3 days',"
            " resolution_due = now() + interval '4 days', escalation_level = 0"
        )
        cursor.execute("DELETE FROM support_escalation")
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE support_ticket")


def bench_escalations(count):
    due = Ticket.objects.filter(next_sla_check_at__lte=timezone.now()).count()
    reset_queries()
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        result = sweep_slas(notify=False)
    seconds = time.perf_counter() - start
    assert result.escalated == due, (result.escalated, due)
    # The floor: one raw INSERT … SELECT of the same escalation rows (level 2, free), in the same run.
    with connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(
            """INSERT INTO support_escalation (ticket_id, level, level_name, cause, reason, at, assignee_id, routed_via,
                                               informed_only)
               SELECT id, 2, 'L2 senior support', 'manual', 'Floor', now(), assignee_id, 'floor', false
               FROM support_ticket WHERE escalation_level = 1"""
        )
        floor = time.perf_counter() - start
        written = cursor.rowcount
    return due, seconds, len(queries), written, floor


# Finished tickets spread over two years: this month holds 1/24 of them, the chart's 12 weeks 12/104.
HISTORY = {
    "received_at": "now() - ((g %% 730) || ' days')::interval - ((g %% 86400) || ' seconds')::interval",
    "first_response_at": "now() - ((g %% 730) || ' days')::interval + ((g * 37) %% 7200 || ' seconds')::interval",
    "first_response_due": "now() - ((g %% 730) || ' days')::interval + interval '1 hour'",
    "resolved_at": "now() - ((g %% 730) || ' days')::interval + ((g * 91) %% 200000 || ' seconds')::interval",
    "resolution_due": "now() - ((g %% 730) || ' days')::interval + interval '1 day'",
    "status": "'resolved'",
    "first_response_business_seconds": "(g * 37) %% 7200",
    "resolution_business_seconds": "(g * 91) %% 200000",
    "reopened": "g %% 17 = 0",
    "first_contact_resolution": "g %% 3 = 0",
    "severity": "(ARRAY['P1','P2','P3','P4'])[1 + g %% 4]",
}


def fill_history(template, count):
    """Add `count` finished tickets (copies of the template with their own times and outcomes)."""
    columns = [c for c in COPY_COLUMNS if c not in HISTORY]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            f"""
            INSERT INTO support_ticket ({", ".join(columns)}, {", ".join(HISTORY)})
            SELECT {", ".join(columns)}, {", ".join(HISTORY.values())}
            FROM support_ticket, generate_series(1, %s) AS g WHERE id = %s
            """,
            [count, template.pk],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE support_ticket")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue-sizes", type=int, nargs="*", default=[1000, 100000])
    parser.add_argument("--sweep-size", type=int, default=1000000)
    parser.add_argument("--escalation-sizes", type=int, nargs="*", default=[])
    parser.add_argument("--scoreboard-sizes", type=int, nargs="*", default=[])
    args = parser.parse_args()
    setup_database()
    install_floor()
    agent, template = world()
    if args.scoreboard_sizes:
        manager = staff_user(StaffRole.SUPPORT_MANAGER, email="manager@example.test")
        have = 1
        for size in sorted(args.scoreboard_sizes):
            fill_history(template, size - have)
            have = size
            median, queries = bench_page(manager, "/scoreboard/", runs=5)
            print(f"scoreboard  tickets={size:>9,}  median={median * 1000:7.1f} ms  queries={queries}")
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM support_ticket WHERE id <> %s", [template.pk])
            cursor.execute("SET session_replication_role = DEFAULT")
    have = 1
    for size in sorted(args.queue_sizes):
        fill(template, size - have)
        have = size
        # The page and its floor, in turns, so both see the same machine.
        queue, floor = [], []
        for _ in range(5):
            queue.append(bench_page(agent, "/queue/", runs=5))
            floor.append(bench_page(agent, FLOOR_URL, runs=5))
        (median, queries), (floor_median, floor_queries) = min(queue), min(floor)
        print(
            f"queue  open_tickets={size:>9,}  median={median * 1000:7.1f} ms  queries={queries}  "
            f"floor(plain view, same rows)={floor_median * 1000:.1f} ms  queries={floor_queries}  "
            f"ratio={median / floor_median:.2f}"
        )
    if args.sweep_size:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM support_ticket WHERE id <> %s", [template.pk])
            cursor.execute("SET session_replication_role = DEFAULT")
        TicketEvent.objects.filter(kind__in=["sla_warning", "sla_breach"]).delete()
        fill(template, args.sweep_size - 1, due_share=0.01)
        due, seconds, queries, touched, floor = bench_sweep()
        print(
            f"sweep  open_tickets={args.sweep_size:>9,}  due={due:,}  sweep={seconds * 1000:.0f} ms  queries={queries}  "
            f"floor(UPDATE of {touched:,} rows)={floor * 1000:.0f} ms  ratio={seconds / floor:.2f}"
        )
    if args.escalation_sizes:
        escalation_world(template)
        for size in args.escalation_sizes:
            fill_due_for_escalation(template, size)
            due, seconds, queries, written, floor = bench_escalations(size)
            print(
                f"escalations  due={due:>9,}  sweep={seconds:.2f} s  queries={queries} "
                f"({queries / due:.4f} per escalated ticket)  floor(INSERT … SELECT of {written:,} rows)={floor:.2f} s"
                f"  ratio={seconds / floor:.1f}"
            )


if __name__ == "__main__":
    main()
