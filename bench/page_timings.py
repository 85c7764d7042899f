"""Time single requests (no concurrency) to the pages of the load test, with production settings.

Run after bench/load_test.sh (or bench/load_seed.py) against the same database:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench .venv/bin/python bench/page_timings.py

Prints the median of 30 requests per page, in process (no HTTP, no gunicorn).
"""

import os
import statistics
import time

os.environ.update(
    DEBUG="false", SECRET_KEY="page-timings-" + "x" * 40, ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false"
)

from common import signed_in_client  # sets Django up
from django.test import Client

from programs.models import User


def signed_in(email: str) -> Client:
    return signed_in_client(User.objects.get(email=email))


def median_ms(client: Client, path: str, runs: int = 30) -> float:
    assert client.get(path).status_code == 200, path
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(path)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


if __name__ == "__main__":
    partner, agent = signed_in("load-partner-7@load.test"), signed_in("load-agent-1@load.test")
    for client, path in (
        (partner, "/"),
        (partner, "/tickets/"),
        (partner, "/tickets/new/"),
        (agent, "/queue/"),
        (partner, "/ping"),
    ):
        print(f"{path:<14} {median_ms(client, path):7.1f} ms")
