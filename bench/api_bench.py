"""Benchmark of the partner's ticket lists (the API's page of 50, the portal's /tickets/) at two sizes.

Usage (creates and drops its own database, partnerportal_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench \\
        .venv/bin/python bench/api_bench.py [--sizes 1000 100000] [--runs 25]

All tickets belong to one partner, so the partner's own list holds every one of them: half open,
half finished over the last two years (so "your support this quarter" has figures to show). Prints
the median time and the query count per size: for the API, with the partner's token and a support
agent's, of the first page and of the tenth (reached by following the cursor); for the portal's
/tickets/ page, signed in as the partner, after the beat task has stored the quarter's figures.
"""

import argparse
import os
import time

os.environ.setdefault("API_THROTTLE_RATE", "1000000/minute")

from django.test import Client
from support_bench import bench_page, fill, fill_history, world

from programs.services import create_api_token
from support.insight.quarter import refresh_quarter_figures
from support.models import Ticket

LIST = "/api/v1/tickets/?page_size=50"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    from common import setup_database

    setup_database()
    agent, template = world()
    people = {"partner": template.submitter, "agent": agent}
    tokens = {
        who: {"Authorization": "Bearer " + create_api_token(person, name="bench")[1]} for who, person in people.items()
    }
    have = 1
    results = {}
    for size in sorted(args.sizes):
        added = size - have
        fill(template, added // 2)
        fill_history(template, added - added // 2)
        have = size
        assert Ticket.objects.count() == size
        start = time.perf_counter()
        refresh_quarter_figures()
        print(f"quarter figures refreshed  tickets={size:>9,}  {(time.perf_counter() - start) * 1000:7.1f} ms")
        median, queries = bench_page(template.submitter, "/tickets/", args.runs)
        results[("portal", size)] = median
        print(f"portal /tickets/ as=partner  tickets={size:>9,}  median={median * 1000:7.1f} ms  queries={queries}")
        for who, headers in tokens.items():
            median, queries = bench_page(people[who], LIST, args.runs, headers=headers)
            results[(who, size)] = median
            print(
                f"api ticket list  as={who:<7}  tickets={size:>9,}  median={median * 1000:7.1f} ms  queries={queries}"
            )
            # The 10th page, reached by following the cursor: a page costs the same wherever it is.
            url = LIST
            for _ in range(9):
                url = Client(headers=headers).get(url).json()["next"]
            median, queries = bench_page(people[who], url, args.runs, headers=headers)
            print(f"  10th page  as={who:<7}  tickets={size:>9,}  median={median * 1000:7.1f} ms  queries={queries}")
    small, large = min(args.sizes), max(args.sizes)
    print(
        f"portal /tickets/ as=partner  ratio {large:,}/{small:,} = {results[('portal', large)] / results[('portal', small)]:.2f}"
    )
    for who in tokens:
        print(
            f"api ticket list  as={who:<7}  ratio {large:,}/{small:,} = {results[(who, large)] / results[(who, small)]:.2f}"
        )


if __name__ == "__main__":
    main()
