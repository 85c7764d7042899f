"""Time the project's side of the peer comparison at one size and print one JSON line.

Usage (creates and drops its own database, the one DATABASE_URL names; bench/peers/compare.py runs it):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_peers_bench \
        .venv/bin/python bench/peers/ours.py --size 100000 [--runs 15] [--escalations 100000]

The figures come from the project's own benchmarks, called as they are: support_bench's staff
`/queue/` (a page of 50) and api_bench's ticket list as the partner's token, then support_bench's
escalation sweep over --escalations tickets due (0: skip).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api_bench import LIST  # first: it lifts the API throttle before Django is set up
from common import setup_database
from support_bench import bench_escalations, bench_page, escalation_world, fill, fill_due_for_escalation, world

from programs.services import create_api_token


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--escalations", type=int, default=0)
    args = parser.parse_args()
    result = {"side": "Partner Portal"}
    if args.size:
        setup_database()
        agent, template = world()
        fill(template, args.size - 1)
        median, queries = bench_page(agent, "/queue/", args.runs)
        result["queue"] = {"tickets": args.size, "rows": 50, "median_ms": round(median * 1000, 1), "queries": queries}
        partner = template.submitter
        headers = {"Authorization": "Bearer " + create_api_token(partner, name="bench")[1]}
        median, queries = bench_page(partner, LIST, args.runs, headers=headers)
        result["api"] = {"tickets": args.size, "rows": 50, "median_ms": round(median * 1000, 1), "queries": queries}
    if args.escalations:
        setup_database()
        _, template = world()
        escalation_world(template)
        fill_due_for_escalation(template, args.escalations)
        due, seconds, queries, _, _ = bench_escalations(args.escalations)
        result["escalations"] = {
            "due": due,
            "seconds": round(seconds, 2),
            "per_second": round(due / seconds, 1),
            "queries": queries,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
