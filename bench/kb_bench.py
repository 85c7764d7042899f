"""Benchmark of knowledge base suggest-as-you-type at several knowledge base sizes.

Usage (each creates its own database; PostgreSQL drops and recreates partnerportal_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench \
        .venv/bin/python bench/kb_bench.py --sizes 1000 100000
    DATABASE_URL=sqlite:///var/kb_bench.sqlite3 .venv/bin/python bench/kb_bench.py --sizes 10000

Articles get titles of two support words partners type (checkout, payment, login…: 44 of them, so
each is in about 4.5 % of titles) and four words of a 5,000-word vocabulary with a Zipf-like skew;
bodies of 120 words, one in twenty a support word (so "checkout" is in about 13 % of bodies). The queries replay what a partner types:
for 300 titles, the first two or three words with the last one cut short, and one in ten with a
typo. Prints the median and p95 latency of `support.knowledge.search.search` and of GET /kb/suggest/ (the page
the script calls, with sign-in and rendering).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import common
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from programs.models import Membership, User
from support.knowledge import search as kb
from support.models import Article, ArticleCategory
from tests.factories import PartnerFactory

SUPPORT_WORDS = [
    "checkout",
    "payment",
    "gateway",
    "error",
    "timeout",
    "login",
    "password",
    "reset",
    "sso",
    "saml",
    "api",
    "webhook",
    "rate",
    "limit",
    "export",
    "report",
    "invoice",
    "tax",
    "refund",
    "order",
    "cart",
    "shipping",
    "email",
    "notification",
    "sync",
    "import",
    "csv",
    "token",
    "certificate",
    "mobile",
    "search",
    "upload",
    "avatar",
    "profile",
    "billing",
    "subscription",
    "plan",
    "discount",
    "coupon",
    "currency",
    "500",
    "404",
    "429",
    "latency",
]


def vocabulary(rng, size=5000):
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "qu", "do", "fe", "gi", "hu", "ja"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def pick(rng, words, skew=1.2):
    # Zipf-like: low indexes far more often than high ones.
    return words[min(int(rng.paretovariate(skew)) - 1, len(words) - 1)]


def make_articles(count, rng):
    words = vocabulary(rng)
    rng.shuffle(words)
    category, _ = ArticleCategory.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    batch, offset = [], Article.objects.count()
    for i in range(offset, offset + count):
        title_words = [rng.choice(SUPPORT_WORDS) for _ in range(2)] + [pick(rng, words) for _ in range(4)]
        rng.shuffle(title_words)
        body = " ".join(pick(rng, words) if rng.random() < 0.95 else rng.choice(SUPPORT_WORDS) for _ in range(120))
        batch.append(
            Article(
                title=" ".join(title_words).capitalize(),
                slug=f"bench-{i}",
                category=category,
                audience=rng.choice(["public", "partners", "partners", "internal"]),
                summary=" ".join(pick(rng, words) for _ in range(10)),
                body=body,
                published=rng.random() < 0.95,
            )
        )
        if len(batch) == 5000:
            Article.objects.bulk_create(batch)
            batch = []
    Article.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def typed_queries(rng, count=300):
    titles = list(Article.objects.filter(published=True).values_list("title", flat=True)[:5000])
    queries = []
    for _ in range(count):
        words = rng.choice(titles).lower().split()[: rng.randint(2, 3)]
        words[-1] = words[-1][: max(2, rng.randint(2, len(words[-1])))]
        if rng.random() < 0.1 and len(words[0]) > 4:  # a typo: two letters swapped
            w = words[0]
            words[0] = w[0] + w[2] + w[1] + w[3:]
        queries.append(" ".join(words))
    return queries


def percentile(values, share):
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def measure(queries, user):
    search, endpoint = [], []
    client = Client()
    client.force_login(user)
    for query in queries[:20]:  # warm caches and connections
        kb.search(query, user=user)
        client.get("/kb/suggest/", {"q": query})
    for query in queries:
        start = time.perf_counter()
        kb.search(query, user=user)
        search.append(time.perf_counter() - start)
        start = time.perf_counter()
        response = client.get("/kb/suggest/", {"q": query})
        endpoint.append(time.perf_counter() - start)
        assert response.status_code == 200
    return search, endpoint


def fresh_database():
    if connection.vendor == "postgresql":
        common.setup_database()
        return
    path = Path(settings.DATABASES["default"]["NAME"])
    if "bench" not in path.name:
        sys.exit("run against a *bench* SQLite file, e.g. DATABASE_URL=sqlite:///var/kb_bench.sqlite3")
    connection.close()
    path.unlink(missing_ok=True)
    call_command("migrate", verbosity=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    args = parser.parse_args()
    fresh_database()
    partner = PartnerFactory()
    user = User.objects.create_user("bench@example.test")
    Membership.objects.create(partner=partner, user=user, role="admin")
    rng = random.Random(int(os.environ.get("BENCH_SEED", "2026")))
    have = 0
    for size in sorted(args.sizes):
        make_articles(size - have, rng)
        have = size
        queries = typed_queries(random.Random(7))
        search, endpoint = measure(queries, user)
        print(
            f"suggest  {connection.vendor:<10} articles={size:>7,}  "
            f"search median={statistics.median(search) * 1000:6.2f} ms p95={percentile(search, 0.95) * 1000:6.2f} ms  "
            f"GET /kb/suggest/ median={statistics.median(endpoint) * 1000:6.2f} ms "
            f"p95={percentile(endpoint, 0.95) * 1000:6.2f} ms"
        )


if __name__ == "__main__":
    main()
