"""Side-by-side benchmark against django-helpdesk 2.6.1 (issue 22): one command, both sides in the same run.

Usage (run with the project's venv; creates and drops its two databases, partnerportal_peers_bench
and helpdesk_peer_bench, and builds the peer's venv under var/peers/helpdesk-venv on first use):

    .venv/bin/python bench/peers/compare.py [--sizes 1000 100000] [--runs 15] [--escalations 10000]

For each size, interleaved, the peer then ours, each in a fresh database seeded with that many open
tickets: django-helpdesk's ticket-list JSON (what its staff ticket list page loads, 25 rows) by
bench/peers/helpdesk/measure.py in the peer's venv, and our staff `/queue/` (50 rows) and API ticket
list (50 rows, the partner's token) by bench/peers/ours.py, which calls support_bench and api_bench.
Each figure is the median of --runs requests after a warm-up, in process with Django's test client,
signed in as staff (ours through the second factor). Then escalations per second: our SLA sweep over
--escalations tickets due for one escalation against `manage.py escalate_tickets` over as many tickets
due (default 10,000; 100,000 took the peer 19 minutes on its own on this 2-CPU machine; 0 skips it).
Neither side sends mail: our sweep queues its notifications (rows the mail step sends later, left out
as in support_bench); the peer's command renders its mails inline and hands them to Django's dummy
backend. Prints each side's JSON line as it comes, then a Markdown table; bench/peers/results/ keeps
the output of past runs. BENCH_VERBOSE=1 adds the peer's list statements with their times (stderr).
DATABASE_URL and HELPDESK_DATABASE_URL override the two databases; both names must end in _bench.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "helpdesk"))
from peer_venv import PEER, ROOT, peer_python  # bench/peers/helpdesk/peer_venv.py, shared with the tests

OURS_DATABASE = "postgres://postgres@127.0.0.1:5432/partnerportal_peers_bench"
PEER_DATABASE = "postgres://postgres@127.0.0.1:5432/helpdesk_peer_bench"


def measure(command, env):
    """Run one side's script and return the JSON line it prints last (mail and warnings may come before)."""
    output = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True, check=True)
    line = [line for line in output.stdout.splitlines() if line.startswith("{")][-1]
    print(line, flush=True)
    return json.loads(line)


def figure(result):
    return f"{result['median_ms']:,.1f} ms, {result['queries']} queries"


def table(sizes, rounds, escalations):
    """Return the Markdown table: times compare as peer ÷ ours, rates as ours ÷ peer (above 1: ours is faster)."""
    rows = ["| figure | ours | django-helpdesk 2.6.1 | ours faster by |", "| --- | --- | --- | --- |"]
    for size in sizes:
        ours, peer = rounds[size]
        rows.append(
            f"| staff list at {size:,} open: `/queue/` (50 rows) vs list JSON (25 rows) "
            f"| {figure(ours['queue'])} | {figure(peer['list'])} "
            f"| {peer['list']['median_ms'] / ours['queue']['median_ms']:.1f}× |"
        )
    if len(sizes) > 1:
        small, large = rounds[min(sizes)], rounds[max(sizes)]
        ours_growth = large[0]["queue"]["median_ms"] / small[0]["queue"]["median_ms"]
        peer_growth = large[1]["list"]["median_ms"] / small[1]["list"]["median_ms"]
        rows.append(
            f"| staff list growth {min(sizes):,} → {max(sizes):,} | {ours_growth:.2f}× | {peer_growth:.2f}× "
            f"| {peer_growth / ours_growth:.1f}× |"
        )
    ours, peer = rounds[max(sizes)]
    rows.append(
        f"| API ticket list (50 rows, partner token) vs list JSON, {max(sizes):,} open "
        f"| {figure(ours['api'])} | {figure(peer['list'])} | {peer['list']['median_ms'] / ours['api']['median_ms']:.1f}× |"
    )
    if escalations:
        ours, peer = escalations[0]["escalations"], escalations[1]["escalations"]
        rows.append(
            f"| escalations per second, {ours['due']:,} due: SLA sweep vs `escalate_tickets` "
            f"| {ours['per_second']:,.0f}/s ({ours['seconds']} s, {ours['queries']} queries) "
            f"| {peer['per_second']:,.0f}/s ({peer['seconds']} s, {peer['queries']:,} queries) "
            f"| {ours['per_second'] / peer['per_second']:.0f}× |"
        )
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--escalations", type=int, default=10000, help="tickets due for escalation (0: skip)")
    args = parser.parse_args()
    peer = [str(peer_python()), str(PEER / "measure.py")]
    ours = [sys.executable, str(ROOT / "bench" / "peers" / "ours.py")]
    peer_env = {"HELPDESK_DATABASE_URL": os.environ.get("HELPDESK_DATABASE_URL", PEER_DATABASE)}
    ours_env = {"DATABASE_URL": os.environ.get("DATABASE_URL", OURS_DATABASE), "EMAIL_URL": "dummymail://"}
    rounds = {}
    for size in sorted(args.sizes):
        options = ["--size", str(size), "--runs", str(args.runs)]
        found_peer = measure([*peer, *options], peer_env)
        rounds[size] = (measure([*ours, *options], ours_env), found_peer)
    escalations = None
    if args.escalations:
        options = ["--size", "0", "--escalations", str(args.escalations)]
        found_peer = measure([*peer, *options], peer_env)
        escalations = (measure([*ours, *options], ours_env), found_peer)
    print()
    print(table(sorted(args.sizes), rounds, escalations))


if __name__ == "__main__":
    main()
