"""Import benchmark (issue 20): a django-helpdesk PostgreSQL database with history, imported three times.

Usage (creates and drops its two databases, helpdesk_import_src_bench for the source and
partnerportal_import_bench for ours; builds the peer's venv under var/peers/ on first use):

    .venv/bin/python bench/import_bench.py --tickets 100000 [--batch-size 1000] [--profile]

The source is seeded by django-helpdesk 2.6.1's own migrations and `seed.py --history` (ten
queues, twenty agents, 2,000 submitters, three follow-ups per ticket, status changes with their
ticket changes); ours gets ten partners on a business-hours plan and a mapping sending each
queue and e-mail domain to its partner. Then `import_tickets --from helpdesk` in process, timed:
the first run (every object created), a delta re-run of the unchanged source (every object read
and compared: all unchanged), and an incremental re-run with --since the first run's start (what
changed since then: nothing). Each run reports its wall time, tickets per second, queries and
its own peak resident memory (VmHWM reset before it). --profile keeps the first two runs'
profiles in var/import-profile-*.prof. DATABASE_URL and HELPDESK_DATABASE_URL override the
databases; their names must end in _bench.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/partnerportal_import_bench")
SOURCE_URL = os.environ.get("HELPDESK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk_import_src_bench")

from common import ROOT, reset_peak_rss, rss_mib, setup_database  # noqa: E402  (sets Django up)
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from support.models import ImportRun, Ticket, TicketEvent  # noqa: E402
from tests.factories import PartnerFactory, entitle, support_plan  # noqa: E402

sys.path.insert(0, str(ROOT / "bench" / "peers" / "helpdesk"))
from peer_venv import peer_python  # noqa: E402
from seed import HISTORY_QUEUES  # noqa: E402

MAPPING = ROOT / "var" / "import-bench-mapping.yaml"
PROFILED: list[float] = []  # the runs profiled so far (--profile keeps each in var/import-profile-*.prof)


def seed_source(tickets: int) -> None:
    """Build the django-helpdesk source database anew with `tickets` tickets and their history."""
    assert SOURCE_URL.rsplit("/", 1)[-1].endswith("_bench"), "the source database's name must end in _bench"
    subprocess.run(
        [str(peer_python()), str(ROOT / "bench/peers/helpdesk/seed.py"), "--fresh", "--history", str(tickets)],
        env={**os.environ, "HELPDESK_DATABASE_URL": SOURCE_URL, "DJANGO_SETTINGS_MODULE": "settings"},
        check=True,
    )


def our_side() -> None:
    """Ten partners (partner-1 …) on one business-hours plan, and the mapping: queue "Desk n" → partner-n."""
    weekdays = [(day, "09:00", "17:00") for day in range(5)]
    plan = support_plan("Premier", always_open=False, zone="Europe/London", windows=weekdays)
    for n in range(1, HISTORY_QUEUES + 1):
        entitle(PartnerFactory(name=f"Partner {n}", slug=f"partner-{n}"), plan)
    groups = "".join(f'    "Desk {n}": partner-{n}\n' for n in range(1, HISTORY_QUEUES + 1))
    domains = "".join(f"    partner{n}.test: partner-{n}\n" for n in range(1, HISTORY_QUEUES + 1))
    MAPPING.parent.mkdir(exist_ok=True)
    MAPPING.write_text(f"partners:\n  groups:\n{groups}  domains:\n{domains}")


def timed_import(batch_size: int, tickets: int, profile: bool, *extra: str) -> dict:
    """Run the import command once; return its figures (with `profile`, print where its time went)."""
    reset_peak_rss()
    output = io.StringIO()
    queries = 0

    def counted(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    profiler = cProfile.Profile() if profile else None
    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        call_command(
            "import_tickets",
            "--from",
            "helpdesk",
            "--source-url",
            SOURCE_URL,
            "--mapping",
            str(MAPPING),
            "--batch-size",
            str(batch_size),
            *extra,
            stdout=output,
        )
        seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(ROOT / "var" / f"import-profile-{'delta' if PROFILED else 'first'}.prof")
        PROFILED.append(seconds)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    run = ImportRun.objects.order_by("-pk").first()
    assert run is not None and run.state == ImportRun.State.DONE, output.getvalue()[-2000:]
    return {
        "seconds": round(seconds, 1),
        "tickets_per_second": round(tickets / seconds),
        "queries": queries,
        "peak_rss_mib": round(rss_mib()),
        "counts": {kind: row for kind, row in run.counts.items() if row.get("source")},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print each run's profile (cumulative) on stderr")
    args = parser.parse_args()
    seed_source(args.tickets)
    setup_database()
    our_side()
    first = timed_import(args.batch_size, args.tickets, args.profile)
    print(json.dumps({"run": "first", **first}), flush=True)
    assert Ticket.objects.count() == args.tickets
    events = TicketEvent.objects.count()
    delta = timed_import(args.batch_size, args.tickets, args.profile)
    print(json.dumps({"run": "delta (unchanged source)", **delta}), flush=True)
    assert Ticket.objects.count() == args.tickets and TicketEvent.objects.count() == events
    # The incremental way docs/migration.md describes: only what the source changed since the last run.
    since = timed_import(
        args.batch_size, args.tickets, False, "--since", ImportRun.objects.earliest("pk").started_at.isoformat()
    )
    print(json.dumps({"run": "delta --since the first run", **since}), flush=True)
    print(
        f"| import {args.tickets:,} tickets, {first['counts']['comment']['source']:,} follow-ups "
        f"(batches of {args.batch_size:,}) | first run {first['seconds']} s, {first['tickets_per_second']:,}/s, "
        f"{first['peak_rss_mib']} MiB | delta re-run {delta['seconds']} s, {delta['tickets_per_second']:,}/s, "
        f"{delta['peak_rss_mib']} MiB ({first['seconds'] / delta['seconds']:.1f}× faster) "
        f"| --since the first run {since['seconds']} s ({first['seconds'] / since['seconds']:.0f}× faster) |"
    )


if __name__ == "__main__":
    main()
