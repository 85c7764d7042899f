"""Time django-helpdesk 2.6.1 at one size and print one JSON line (run by the peer's venv).

Usage (creates and drops its own database, the one HELPDESK_DATABASE_URL names, default
helpdesk_peer_bench; bench/peers/compare.py runs it):

    var/peers/helpdesk-venv/bin/python bench/peers/helpdesk/measure.py --size 100000 [--runs 15] \
        [--escalations 100000]

--size: open tickets behind the ticket list's JSON (0: skip). The JSON is what the staff ticket list
page loads (`helpdesk:datatables_ticket_list`, the page's own default query: open and reopened
tickets sorted by creation, a page of 25), fetched in process with Django's test client signed in
as a staff user: the median of --runs requests after a warm-up, and the query count of one
(BENCH_VERBOSE=1 prints that request's statements with their times on stderr).
--escalations: a fresh database with that many tickets due for escalation, then
`manage.py escalate_tickets` once, timed (0: skip).
"""

import argparse
import json
import os
import statistics
import sys
import time

from seed import fill, setup_database, setup_django, world

# ticket_list's default_query_params, encoded the way that view encodes them for its datatable.
DEFAULT_QUERY = {"filtering": {"status__in": [1, 2]}, "sorting": "created", "search_string": "", "sortreverse": False}
DATATABLES = {"draw": "1", "start": "0", "length": "25", "search[value]": "", "search[regex]": "false"}


def bench_list(agent, runs, size):
    """Return the median time of the ticket list's JSON over `runs` requests, and its query count."""
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from helpdesk.query import query_to_base64

    client = Client()
    client.force_login(agent)
    path = reverse("helpdesk:datatables_ticket_list", args=[query_to_base64(DEFAULT_QUERY)])
    client.get(path, DATATABLES)  # warm caches
    reset_queries()  # each request resets the log: count from an empty one
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, DATATABLES)
    page = response.json()
    if os.environ.get("BENCH_VERBOSE"):
        for query in queries.captured_queries:
            print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}", file=sys.stderr)
    assert response.status_code == 200 and page["recordsTotal"] == size, (response.status_code, page)
    assert len(page["data"]) == min(25, size), len(page["data"])
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path, DATATABLES)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(timings), len(queries)


def bench_escalations(count):
    """Return the seconds `escalate_tickets` takes over `count` due tickets, and its query count."""
    from django.core.management import call_command
    from django.db import connection
    from helpdesk.models import Ticket

    statements = 0

    def counted(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    # A counter, not CaptureQueriesContext: the command runs about ten statements a ticket.
    with connection.execute_wrapper(counted):
        start = time.perf_counter()
        call_command("escalate_tickets")
        seconds = time.perf_counter() - start
    escalated = Ticket.objects.filter(last_escalation__isnull=False).count()
    assert escalated == count, (escalated, count)
    return seconds, statements


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--escalations", type=int, default=0)
    args = parser.parse_args()
    setup_django()
    result = {"side": "django-helpdesk 2.6.1"}
    if args.size:
        setup_database()
        queue, agent = world()
        start = time.perf_counter()
        fill(queue, agent, args.size)
        result["seed_seconds"] = round(time.perf_counter() - start, 2)
        median, queries = bench_list(agent, args.runs, args.size)
        result["list"] = {"tickets": args.size, "rows": 25, "median_ms": round(median * 1000, 1), "queries": queries}
    if args.escalations:
        setup_database()
        queue, agent = world()
        fill(queue, agent, args.escalations, due_for_escalation=True)
        seconds, queries = bench_escalations(args.escalations)
        result["escalations"] = {
            "due": args.escalations,
            "seconds": round(seconds, 2),
            "per_second": round(args.escalations / seconds, 1),
            "queries": queries,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
