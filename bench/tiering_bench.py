"""Benchmark of the annual re-tier on PostgreSQL: partners × the three demo ladders.

Usage (creates and empties its own database, partnerportal_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench \
        .venv/bin/python bench/tiering_bench.py [--partners 100000]

Each partner runs all three motions and has about 20 metric values (a few outside the window),
three to four certifications and a 4C check per motion. Prints, for a dry run and for two
applying re-tiers (the first creates every standing, the second is the steady state): wall
time, queries and the run's own peak resident memory (reset before each run); and, in the same run, the time of one raw SQL aggregate over the
same metric rows (the floor).
"""

import argparse
import datetime as dt
import os
import time
import tracemalloc

from common import reset_peak_rss, rss_mib, setup_database
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from programs import demo as programs_demo
from programs.models import Metric, MetricValue, User
from support.demo import setup as support_demo
from tiering import demo as tiering_demo
from tiering import retier
from tiering.models import RetierRun

# (metric key, values per partner, low, high, days between values): about 20 rows per partner.
VALUES = [
    ("contract_signed", 1, 0.9, 1, 0),
    ("arr_sourced", 5, 0, 400_000, 90),  # the fifth quarter back is outside the 12-month window
    ("active_sellers", 1, 0, 12, 0),
    ("dedicated_practice", 1, 0, 1, 0),
    ("co_built_solution", 1, 0, 1, 0),
    ("implementations", 2, 0, 20, 120),
    ("csat", 2, 60, 100, 120),
    ("reference_customers", 1, 0, 3, 0),
    ("published_methodology", 1, 0, 1, 0),
    ("integration_listed", 1, 0.7, 1, 0),
    ("mutual_customers", 1, 0, 60, 0),
    ("alliance_manager", 1, 0, 1, 0),
    ("co_sell_agreement", 1, 0, 1, 0),
    ("joint_solution", 1, 0, 1, 0),
]
CERTIFICATIONS = [("sales_certifications", 1.0), ("vertical_certifications", 0.3), ("trained_consultants", 2.0),
                  ("vertical_specialisations", 0.2)]  # fmt: skip


def load(partners: int, today: dt.date) -> int:
    """Insert the partners and their figures in SQL; return the number of metric rows."""
    metrics = dict(Metric.objects.values_list("key", "pk"))
    booleans = set(Metric.objects.filter(unit="boolean").values_list("key", flat=True))
    with connection.cursor() as cursor:
        # Fixtures, not changes anyone made: keep them out of the audit trail.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            """INSERT INTO programs_partner (name, slug, country, time_zone, status, created_at)
               SELECT 'Bench partner ' || g, 'bench-' || g, 'GB', 'Europe/London', 'active', now()
               FROM generate_series(1, %s) AS g""",
            [partners],
        )
        cursor.execute(
            """INSERT INTO programs_partnermotion (partner_id, motion_id, joined_on)
               SELECT p.id, m.id, %s FROM programs_partner p CROSS JOIN programs_motion m
               WHERE p.slug LIKE 'bench-%%'""",
            [today],
        )
        for key, count, low, high, spacing in VALUES:
            value = (
                "round(random())" if key in booleans and low == 0 else f"floor({low} + random() * ({high} - {low} + 1))"
            )
            if key in booleans and low > 0:  # mostly yes
                value = f"CASE WHEN random() < {low} THEN 1 ELSE 0 END"
            cursor.execute(
                f"""INSERT INTO programs_metricvalue (partner_id, metric_id, recorded_on, value, source)
                    SELECT p.id, %s, %s::date - (10 + n * %s), LEAST({value}, {high}), 'bench'
                    FROM programs_partner p CROSS JOIN generate_series(0, %s) AS n
                    WHERE p.slug LIKE 'bench-%%'""",
                [metrics[key], today, spacing, count - 1],
            )
        for key, share in CERTIFICATIONS:
            cursor.execute(
                """INSERT INTO programs_certification (partner_id, metric_id, name, holder, earned_on, expires_on)
                   SELECT p.id, %s, 'Bench certification', '', %s::date - 400,
                          CASE WHEN random() < 0.1 THEN %s::date - 5 ELSE NULL END
                   FROM programs_partner p CROSS JOIN generate_series(1, ceil(%s)::int) AS n
                   WHERE p.slug LIKE 'bench-%%' AND random() < %s / ceil(%s)""",
                [metrics[key], today, today, share, share, share],
            )
        cursor.execute(
            """INSERT INTO tiering_qualificationcheck
                   (partner_id, motion_id, assessed_on, customer_base, credibility, capability, commitment, notes)
               SELECT p.id, m.id, %s::date - 200, true, true, random() < 0.9, true, ''
               FROM programs_partner p CROSS JOIN programs_motion m WHERE p.slug LIKE 'bench-%%'""",
            [today],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in ("programs_partner", "programs_partnermotion", "programs_metricvalue", "programs_certification",
                      "tiering_qualificationcheck"):  # fmt: skip
            cursor.execute(f"ANALYZE {table}")
    return MetricValue.objects.count()


def floor_seconds() -> float:
    """Time one raw aggregate over every metric row, fetched to the client (the best of three)."""
    best = float("inf")
    with connection.cursor() as cursor:
        for _ in range(3):
            start = time.perf_counter()
            cursor.execute(
                "SELECT partner_id, metric_id, sum(value) FROM programs_metricvalue GROUP BY partner_id, metric_id"
            )
            while cursor.fetchmany(10_000):  # fetched, not kept: the rows would set the runs' peak memory
                pass
            best = min(best, time.perf_counter() - start)
    return best


def measure(kind: str, today: dt.date, trace_memory: bool) -> tuple[RetierRun, float, int, float]:
    run = retier.start_run(kind=kind, as_of=today, by=None)
    # Each run's own peak: the floor's fetch of every aggregate row (above) would otherwise set it.
    reset_peak_rss()
    print(f"{kind}: resident before the run {rss_mib('VmRSS'):.0f} MiB")
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        run = retier.execute_run(run)
    seconds = time.perf_counter() - start
    if os.environ.get("BENCH_VERBOSE"):
        slowest = sorted(queries.captured_queries, key=lambda query: -float(query["time"]))[:8]
        for query in slowest:
            print(f"    {float(query['time']) * 1000:8.0f} ms  {' '.join(query['sql'].split())[:150]}")
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace_memory else 0.0
    if trace_memory:
        tracemalloc.stop()
    return run, seconds, len(queries), peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--trace-memory", action="store_true", help="Python heap peak (slows the run ≈ 2×).")
    args = parser.parse_args()
    setup_database()
    today = timezone.localdate()
    programs_demo.seed()
    support_demo.seed_plans()
    catalogue = tiering_demo._catalogue()
    tiering_demo._ladders(catalogue, User.objects.get(email="manager@demo.test"), today)
    start = time.perf_counter()
    rows = load(args.partners, today)
    print(f"loaded  partners={args.partners:,}  metric_values={rows:,}  ({time.perf_counter() - start:.0f} s)")
    floor = floor_seconds()
    print(f"floor   one GROUP BY over {rows:,} metric rows, fetched: {floor:.2f} s")
    for label, kind in (("dry run", "dry_run"), ("re-tier 1", "apply"), ("re-tier 2", "apply")):
        run, seconds, queries, peak = measure(kind, today, args.trace_memory)
        moves = {}
        for entry in run.summary.values():
            for move, n in entry["moves"].items():
                moves[move] = moves.get(move, 0) + n
        rss = rss_mib()
        memory = f"python_peak={peak:.0f} MiB  " if args.trace_memory else ""
        print(
            f"{label:<9} evaluated={run.total:,}  wall={seconds:.2f} s  queries={queries}  {memory}"
            f"peak_rss={rss:.0f} MiB  ratio_to_floor={seconds / floor:.1f}  moves={moves}"
        )


if __name__ == "__main__":
    main()
