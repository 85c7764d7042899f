"""Benchmark of webhook delivery (issue 16): events fanned out over endpoints on a local receiver.

Usage (creates and drops its own database; the Celery runs use the Redis database given):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_webhook_bench \\
    REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/webhook_bench.py [--events 10000] [--endpoints 100] [--workers 2] \\
        [--modes celery loop] [--rates 200] [--steady-batch 1] [--burst-batch 100] [--publishers 1] [--profile]

The world: `--endpoints` partners, each with an admin and one endpoint registered through
`register_endpoint` (http://127.0.0.1:<port>/p<N>, subscribed to `ticket.created`). A partner sees
only its own events, so each event goes to one endpoint; the `--events` are spread evenly over the
partners. The receiver is a separate process (asyncio, HTTP/1.1 keep-alive, answers 204) that
notes each request's `webhook-id` and the time its body arrived.

Runs, for each delivery mode:

- burst: every event is committed first (`--burst-batch` events per transaction), then the
  workers start and drain the outbox: deliveries per second from the first request to the last;
- steady: the workers run while `--publishers` processes commit one event per transaction at
  each `--rates` (events per second): delay from commit (an on_commit hook registered before the
  outbox's nudge) to the receiver, p50 / p95 / p99 / max.

Delivery modes: `celery` is production's way, a real worker (`celery -A webhook_bench worker`,
prefork, `--workers` processes; this module is the Celery app, partnerportal's own with a query
counter added) against REDIS_URL, each commit nudging it through `deliver_webhooks.delay()`;
`loop` runs `--workers` forked processes calling `deliver_due()` until it finds nothing, then
waiting for a nudge (an Event set on commit) or `--poll` seconds.

Queries are counted separately for publishing (per event, in the publishers) and delivering (per
delivery, in the workers: claims, loads, attempt inserts, per-delivery UPDATEs), and once in this
process for one transaction of one event and one `deliver_due()` of a full batch. Delivery time
is split into claim (`_claim`), send (the thread pool's HTTP requests) and record (`record`),
each with the worker's CPU time over it. `--profile` prints a cProfile of a loop worker's main
thread. Prints tables and exits; docs/benchmarks.md records the results.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

os.environ.setdefault("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("DEBUG", "false")  # production's setting: no query log kept per statement
os.environ.setdefault("SECRET_KEY", "webhook-bench-only-not-a-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from common import ROOT, setup_database
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from partnerportal.celery import app  # noqa: F401  (celery -A webhook_bench finds the app here)
from programs.models import (
    Membership,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from programs.webhooks import delivery, outbox
from programs.webhooks.endpoints import register_endpoint
from programs.webhooks.outbox import Event, publish_many

STATS_KEY = "webhook_bench:stats"
READY_KEY = "webhook_bench:ready"
CELERY_LOG = "/tmp/webhook_bench_celery.log"
EVENT_TYPE = "ticket.created"


# --- the receiver ------------------------------------------------------------------------------


def _receiver_main(pipe):
    """Serve on a free port: note (webhook-id, path, time) of every POST and answer 204."""
    receipts: list[tuple[str, str, float]] = []

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ")[1].decode()
                length, webhook_id = 0, ""
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        webhook_id = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                if path.startswith("/_"):
                    if path == "/_collect":
                        body = json.dumps(receipts).encode()
                        receipts.clear()
                    else:  # /_count
                        cpu = psutil.Process().cpu_times()
                        body = json.dumps({"count": len(receipts), "cpu": cpu.user + cpu.system}).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    receipts.append((webhook_id, path, time.time()))
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        pipe.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main())


class Receiver:
    def __init__(self):
        ours, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(target=_receiver_main, args=(theirs,), daemon=True)
        self.process.start()
        self.port = ours.recv()

    def _get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as answer:
            return json.loads(answer.read())

    def count(self) -> int:
        return self._get("/_count")["count"]

    def cpu(self) -> float:
        return self._get("/_count")["cpu"]

    def collect(self) -> list[tuple[str, str, float]]:
        return self._get("/_collect")

    def stop(self):
        self.process.terminate()
        self.process.join(5)


# --- instrumenting the delivery code (in the worker processes) --------------------------------


def _kind(sql: str) -> str:
    head = sql[:60]
    if sql in ("BEGIN", "COMMIT"):
        return sql
    if sql.startswith("SELECT") and "FOR UPDATE" in sql:
        return "claim: SELECT … FOR UPDATE SKIP LOCKED"
    if head.startswith('UPDATE "programs_webhookdelivery" SET "next_attempt_at"') and " IN (" in sql:
        return "claim: UPDATE lease"
    if sql.startswith("SELECT") and "programs_webhookdelivery" in head + sql[:400]:
        return "claim: SELECT deliveries + message + endpoint"
    if sql.startswith('INSERT INTO "programs_webhookattempt"'):
        return "record: INSERT attempts (one per record call)"
    if head.startswith('UPDATE "programs_webhookdelivery"'):
        return "record: UPDATE delivery (per delivery)"
    if head.startswith('UPDATE "programs_webhookendpoint"'):
        return "record: UPDATE endpoint health (per delivery)"
    if sql.startswith("SELECT") and "programs_webhookendpoint" in sql[:300]:
        return "publish: SELECT subscribers"
    if sql.startswith('INSERT INTO "programs_webhookmessage"'):
        return "publish: INSERT messages"
    if sql.startswith('INSERT INTO "programs_webhookdelivery"'):
        return "publish: INSERT deliveries"
    return "other: " + sql[:50]


class Stats:
    """Counters and timers of one process, as a flat dict of floats (summed across processes)."""

    def __init__(self):
        self.values: Counter = Counter()

    def add(self, name, value=1.0):
        self.values[name] += value

    def take(self) -> dict:
        values, self.values = dict(self.values), Counter()
        return values


def _count_queries(stats: Stats):
    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = _kind(sql)
            stats.add(f"q:{kind}")
            stats.add(f"qs:{kind}", time.perf_counter() - started)

    return wrapper


def _count_commits(stats: Stats):
    original = connection.commit

    def commit():
        started = time.perf_counter()
        try:
            return original()
        finally:
            stats.add("q:COMMIT")
            stats.add("qs:COMMIT", time.perf_counter() - started)

    connection.commit = commit


def _timed(stats: Stats, name, function):
    """Wrap `function`: its wall time and the CPU time of the thread running it (time.thread_time)."""

    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            stats.add(f"t:{name}", time.perf_counter() - wall)
            stats.add(f"c:{name}", time.thread_time() - cpu)
            stats.add(f"n:{name}")

    return timed


def instrument_delivery() -> Stats:
    """Count the delivery code's queries and time its phases in this process (the code itself unchanged).

    claim and record run on the worker's main thread, each endpoint's sends on a pool thread: their
    CPU is each thread's own, so it adds up even when recording overlaps the sends.
    """
    stats = Stats()
    connection.execute_wrappers.append(_count_queries(stats))
    _count_commits(stats)
    original_deliver_due = delivery.deliver_due
    delivery._claim = _timed(stats, "claim", delivery._claim)
    delivery.record = _timed(stats, "record", delivery.record)
    delivery._send_to_endpoint = _timed(stats, "send", delivery._send_to_endpoint)

    def deliver_due(**kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        sent = original_deliver_due(**kwargs)
        stats.add("t:deliver_due", time.perf_counter() - wall)
        stats.add("c:deliver_due", time.process_time() - cpu)  # every thread of the process
        stats.add("batches" if sent else "empty claims")
        stats.add("attempted", sent)
        return sent

    delivery.deliver_due = deliver_due
    return stats


# The Celery worker imports this module as its app (-A webhook_bench): count there too.
if os.environ.get("WEBHOOK_BENCH_WORKER") == "1":
    from celery.signals import task_postrun, worker_process_init, worker_ready

    @worker_ready.connect
    def _say_ready(**kwargs):
        import redis

        redis.Redis.from_url(settings.REDIS_URL).set(READY_KEY, str(os.getpid()))

    _worker_stats: Stats | None = None

    @worker_process_init.connect
    def _instrument_child(**kwargs):
        global _worker_stats
        _worker_stats = instrument_delivery()

    @task_postrun.connect
    def _flush_stats(**kwargs):
        import redis

        if _worker_stats is None:
            return
        _worker_stats.add("tasks")
        values = _worker_stats.take()
        client = getattr(_flush_stats, "client", None) or redis.Redis.from_url(settings.REDIS_URL)
        _flush_stats.client = client
        pipe = client.pipeline(transaction=False)
        for name, value in values.items():
            pipe.hincrbyfloat(STATS_KEY, name, value)
        pipe.execute()


# --- the world ---------------------------------------------------------------------------------


def world(endpoints: int, port: int) -> list[int]:
    """Return the ids of `endpoints` partners, each with an admin and one endpoint on the receiver."""
    from tests.factories import PartnerFactory

    partner_ids = []
    for n in range(endpoints):
        partner = PartnerFactory()
        admin = User.objects.create_user(f"admin{n}@example.test")
        Membership.objects.create(partner=partner, user=admin, role=Membership.Role.ADMIN)
        register_endpoint(partner, url=f"http://127.0.0.1:{port}/p{n}", event_types=[EVENT_TYPE], by=admin)
        partner_ids.append(partner.pk)
    return partner_ids


def event(partner_id: int, number: int) -> Event:
    data = {"ticket": {"id": number, "title": f"Bench ticket {number}", "severity": "P3", "status": "new"}}
    return Event(partner_id, EVENT_TYPE, data)


def empty_outbox(partner_ids, history: int):
    """Empty the outbox, then give it `history` delivered messages (a portal that has been running), vacuumed."""
    models = (WebhookAttempt, WebhookDelivery, WebhookMessage)
    tables = ", ".join(f'"{m._meta.db_table}"' for m in models)
    endpoints = dict(WebhookEndpoint.objects.values_list("partner_id", "pk"))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")
        if history:
            cursor.execute(
                f"""INSERT INTO "{WebhookMessage._meta.db_table}" (msg_id, partner_id, event_type, body, created_at)
                    SELECT 'msg_history_' || g, (%s::bigint[])[1 + g %% %s], %s,
                           '{{"type":"ticket.created","data":{{"ticket":{{"id":' || g || '}}}}}}',
                           now() - interval '1 day' + g * interval '1 millisecond'
                    FROM generate_series(1, %s) AS g""",
                [partner_ids, len(partner_ids), EVENT_TYPE, history],
            )
            cursor.execute(
                f"""INSERT INTO "{WebhookDelivery._meta.db_table}"
                        (message_id, endpoint_id, state, attempts, last_status, replay, created_at, delivered_at)
                    SELECT m.id, (%s::bigint[])[array_position(%s::bigint[], m.partner_id)], 'delivered', 1, 204,
                           false, m.created_at, m.created_at
                    FROM "{WebhookMessage._meta.db_table}" AS m""",
                [[endpoints[p] for p in partner_ids], partner_ids],
            )
        for table in tables.split(", "):
            cursor.execute(f"VACUUM ANALYZE {table}")
    connection.close()


# --- publishing --------------------------------------------------------------------------------


def _publisher_main(index, numbers, partner_ids, rate, batch, start_at, out, loop_nudge):
    """Commit events `numbers` (one transaction per `batch`), paced at `rate` per second if given."""
    connections.close_all()
    stats = Stats()
    connection.execute_wrappers.append(_count_queries(stats))
    _count_commits(stats)
    fresh: list[str] = []
    original_new_msg_id = outbox.new_msg_id

    def new_msg_id():
        msg_id = original_new_msg_id()
        fresh.append(msg_id)
        return msg_id

    outbox.new_msg_id = new_msg_id
    if loop_nudge is not None:
        outbox.nudge_worker = loop_nudge.set
    stamps: dict[str, tuple[float, int]] = {}  # msg_id: (commit time, order of writing)

    def committed():  # registered before the outbox's nudge: runs first, right after COMMIT
        now = time.time()
        for msg_id in fresh:
            stamps[msg_id] = (now, len(stamps))
        fresh.clear()

    behind = 0.0
    while time.time() < start_at:
        time.sleep(0.001)
    began = time.perf_counter()
    cpu = time.process_time()
    for first in range(0, len(numbers), batch):
        chunk = numbers[first : first + batch]
        if rate:
            due = began + first / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                behind = max(behind, -wait)
        with transaction.atomic():
            transaction.on_commit(committed)
            publish_many([event(partner_ids[number % len(partner_ids)], number) for number in chunk])
    stats.add("publish seconds", time.perf_counter() - began)
    stats.add("publish cpu", time.process_time() - cpu)
    stats.add("backend cpu", backend_cpu())  # its backend ends with this process: count it here
    stats.add("behind", behind)
    stats.add("events", len(numbers))
    out.put((index, stamps, stats.take()))


def publish(numbers, partner_ids, *, publishers, rate, batch, loop_nudge=None):
    """Publish in `publishers` forked processes; return ({msg_id: (commit time, order)}, summed stats)."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 0.5
    processes = [
        context.Process(
            target=_publisher_main,
            args=(
                i,
                numbers[i::publishers],
                partner_ids,
                rate / publishers if rate else None,
                batch,
                start_at + (i / rate if rate else 0),
                out,
                loop_nudge,
            ),
        )
        for i in range(publishers)
    ]
    for process in processes:
        process.start()
    stamps, stats = {}, Counter()
    for _ in processes:
        _, their_stamps, their_stats = out.get()
        stamps.update(their_stamps)
        for name, value in their_stats.items():
            if name in ("publish seconds", "behind"):
                stats[name] = max(stats[name], value)
            else:
                stats[name] += value
    for process in processes:
        process.join()
    return stamps, stats


# --- delivery workers --------------------------------------------------------------------------


def _loop_worker_main(index, go, stop, nudge, poll, out, profile):
    connections.close_all()
    stats = instrument_delivery()
    profiles = []
    if profile and index == 0:
        import cProfile
        import threading

        profiles.append(cProfile.Profile())  # the main thread: claim, record, waiting for the pool
        lock, send = threading.Lock(), delivery._send_to_endpoint

        def profiled_send(deliveries, **kwargs):  # each pool thread's sends, profiled on their own
            thread_profile = cProfile.Profile()
            result = thread_profile.runcall(send, deliveries, **kwargs)
            with lock:
                profiles.append(thread_profile)
            return result

        delivery._send_to_endpoint = profiled_send
    go.wait()
    if profiles:
        profiles[0].enable()
    while not stop.is_set():
        nudge.clear()
        if not delivery.deliver_due():
            nudge.wait(poll)
    if profiles:
        import pstats

        profiles[0].disable()
        merged = pstats.Stats(profiles[0])
        for thread_profile in profiles[1:]:
            merged.add(thread_profile)
        merged.dump_stats(f"/tmp/webhook_bench_worker{os.getpid()}.prof")
        stats.add("profile pid", os.getpid())
    out.put(stats.take())


class LoopWorkers:
    """`count` forked processes calling deliver_due() in a loop (what the Celery task does), nudged on commit."""

    name = "loop"

    def __init__(self, count, *, poll, profile=False):
        connections.close_all()
        context = multiprocessing.get_context("fork")
        self.go, self.stop_event, self.nudge = context.Event(), context.Event(), context.Event()
        self.out = context.Queue()
        self.processes = [
            context.Process(
                target=_loop_worker_main, args=(i, self.go, self.stop_event, self.nudge, poll, self.out, profile)
            )
            for i in range(count)
        ]
        for process in self.processes:
            process.start()
        self.pids = [process.pid for process in self.processes]

    def start(self):
        self.go.set()
        self.nudge.set()

    def cpu(self) -> float:
        return sum(_cpu(pid) for pid in self.pids)

    def stop(self) -> Counter:
        self.stop_event.set()
        self.nudge.set()
        stats = Counter()
        for _ in self.processes:
            for name, value in self.out.get().items():
                stats[name] += value
        for process in self.processes:
            process.join()
        return stats


class CeleryWorkers:
    """A real worker, `celery -A webhook_bench worker --concurrency=count`, against REDIS_URL."""

    name = "celery"

    def __init__(self, count, **_):
        import redis

        self.count = count
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        # Nudges a previous run left queued. Plain Redis: a kombu connection in this process would be
        # closed (blocking) by kombu's after-fork hook in every publisher forked from it.
        self.redis.delete(STATS_KEY, READY_KEY, "celery", "unacked", "unacked_index")
        self.process = None

    def start(self):
        env = dict(os.environ, WEBHOOK_BENCH_WORKER="1", PYTHONPATH=str(Path(__file__).resolve().parent))
        command = [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "webhook_bench",
            "worker",
            f"--concurrency={self.count}",
            "--pool=prefork",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=webhook-bench-{os.getpid()}@%h",
        ]
        self.log = open(CELERY_LOG, "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.redis.get(READY_KEY):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the Celery worker did not start: see {CELERY_LOG}")

    def pids(self):
        if self.process is None:
            return []
        try:
            parent = psutil.Process(self.process.pid)
            return [parent.pid] + [child.pid for child in parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        return sum(_cpu(pid) for pid in self.pids())

    def stop(self) -> Counter:
        time.sleep(0.5)  # let the last task's counters reach Redis
        queued = self.redis.llen("celery")  # nudges still waiting once every event was delivered
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()
        stats = Counter({k.decode(): float(v) for k, v in self.redis.hgetall(STATS_KEY).items()})
        stats["nudges left queued"] = queued
        self.redis.delete(STATS_KEY)
        return stats


def _cpu(pid) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system + times.children_user + times.children_system
    except psutil.NoSuchProcess:
        return 0.0


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL process, by pid."""
    found = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == "postgres" and process.info["cpu_times"]:
            found[process.pid] = process.info["cpu_times"].user + process.info["cpu_times"].system
    return found


def redis_cpu() -> float:
    return sum(
        p.info["cpu_times"].user + p.info["cpu_times"].system
        for p in psutil.process_iter(["name", "cpu_times"])
        if p.info["name"] == "redis-server" and p.info["cpu_times"]
    )


def backend_cpu() -> float:
    """CPU seconds so far of this connection's PostgreSQL backend (reported before it goes away)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return _cpu(cursor.fetchone()[0])


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU of PostgreSQL processes since `before` (backends that ended meanwhile are not seen)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


# --- one run -----------------------------------------------------------------------------------


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def wait_for(receiver, expected, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver.count() >= expected:
            return True
        time.sleep(0.1)
    return False


def note(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(kind, workers_class, args, partner_ids, receiver, *, rate):
    """One burst (rate None) or steady run; return a dict of figures."""
    note(f"{workers_class.name} {kind} {rate or ''}: start")
    empty_outbox(partner_ids, args.history)
    receiver.collect()
    numbers = list(range(args.events))
    workers = workers_class(args.workers, poll=args.poll, profile=args.profile and rate is None)
    loop_nudge = getattr(workers, "nudge", None)
    worker_cpu_base = 0.0  # the burst's worker figure includes starting them (Celery's boot)
    if rate is None:  # burst: commit all, then start the workers
        connections.close_all()
        cpu_before = {
            "pg": postgres_cpu(),
            "receiver": receiver.cpu(),
            "redis": redis_cpu(),
            "machine": psutil.cpu_times(),
        }
        started = time.perf_counter()
        stamps, publish_stats = publish(
            numbers, partner_ids, publishers=args.publishers, rate=None, batch=args.burst_batch, loop_nudge=loop_nudge
        )
        workers.start()
        drain_started = time.time()
    else:  # steady: workers first, then events at the rate
        workers.start()
        if hasattr(workers, "wait_ready"):
            workers.wait_ready()
        worker_cpu_base = workers.cpu()
        connections.close_all()
        cpu_before = {
            "pg": postgres_cpu(),
            "receiver": receiver.cpu(),
            "redis": redis_cpu(),
            "machine": psutil.cpu_times(),
        }
        started = time.perf_counter()
        drain_started = None
        stamps, publish_stats = publish(
            numbers, partner_ids, publishers=args.publishers, rate=rate, batch=args.steady_batch, loop_nudge=loop_nudge
        )
    note(f"published {len(stamps)}")
    complete = wait_for(receiver, len(stamps), timeout=120)
    note(f"received: {complete}")
    elapsed = time.perf_counter() - started
    worker_cpu = workers.cpu() - worker_cpu_base
    cpu_after = {
        "pg": postgres_cpu_since(cpu_before["pg"]) + publish_stats["backend cpu"],
        "receiver": receiver.cpu(),
        "redis": redis_cpu(),
        "machine": psutil.cpu_times(),
    }
    worker_stats = workers.stop()
    note("workers stopped")
    receipts = receiver.collect()
    pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).count()

    first_seen: dict[str, float] = {}
    duplicates = 0
    for webhook_id, _, at in receipts:
        if webhook_id in first_seen:
            duplicates += 1
        else:
            first_seen[webhook_id] = at
    latencies = [first_seen[msg_id] - committed for msg_id, (committed, _) in stamps.items() if msg_id in first_seen]
    # Order per endpoint: a delivery arriving after one committed (or written) later to the same endpoint.
    out_of_order, latest = 0, {}
    for webhook_id, path, _ in sorted(receipts, key=lambda r: r[2]):
        committed = stamps.get(webhook_id, (0.0, 0))
        if committed < latest.get(path, (0.0, 0)):
            out_of_order += 1
        latest[path] = max(latest.get(path, (0.0, 0)), committed)
    times = sorted(first_seen.values())
    busy = _busy(cpu_before["machine"], cpu_after["machine"])
    figures = {
        "mode": workers_class.name,
        "kind": "burst" if rate is None else f"steady {rate}/s",
        "events": len(stamps),
        "delivered": len(first_seen),
        "complete": complete and pending == 0 and len(first_seen) == len(stamps),
        "duplicates": duplicates,
        "out of order": out_of_order,
        "elapsed": elapsed,
        "publish seconds": publish_stats["publish seconds"],
        "publish behind": publish_stats["behind"],
        "deliveries/s": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0,
        "drain from start": (times[-1] - drain_started) if drain_started and times else None,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "publish stats": publish_stats,
        "worker stats": worker_stats,
        "cpu": {
            "workers": worker_cpu,
            "postgres": cpu_after["pg"],
            "receiver": cpu_after["receiver"] - cpu_before["receiver"],
            "redis": cpu_after["redis"] - cpu_before["redis"],
            "publishers": publish_stats["publish cpu"],
            "machine busy": busy,
            "seconds": elapsed,
        },
    }
    if args.profile and rate is None and worker_stats.get("profile pid"):
        import pstats

        print(
            f"\n--- cProfile of a {workers_class.name} worker (burst; main thread + its pool's sends), by own time ---"
        )
        stats = pstats.Stats(f"/tmp/webhook_bench_worker{int(worker_stats['profile pid'])}.prof")
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
    return figures


def _busy(before, after) -> float:
    """CPU seconds the whole machine spent busy between two psutil.cpu_times() samples."""
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    total = sum(after) - sum(before)
    return total - idle


# --- queries, counted in this process ----------------------------------------------------------


def isolated_queries(partner_ids, history):
    """Queries of one event's transaction, of 100 events' transaction, and of one deliver_due() batch."""
    outbox.nudge_worker = lambda: None  # no worker here; deliver_due below is called directly
    empty_outbox(partner_ids, history)
    result = {}
    with CaptureQueriesContext(connection) as one, transaction.atomic():
        publish_many([event(partner_ids[0], 0)])
    result["publish 1 event / transaction"] = [q["sql"] for q in one.captured_queries]
    with CaptureQueriesContext(connection) as hundred, transaction.atomic():
        publish_many([event(partner_ids[n % len(partner_ids)], n) for n in range(1, 101)])
    result["publish 100 events / transaction"] = [q["sql"] for q in hundred.captured_queries]
    with transaction.atomic():
        publish_many([event(partner_ids[n % len(partner_ids)], n) for n in range(101, settings.WEBHOOK_BATCH_SIZE)])
    with CaptureQueriesContext(connection) as batch:
        sent = delivery.deliver_due()
    result[f"deliver_due, a batch of {sent}"] = [q["sql"] for q in batch.captured_queries]
    with transaction.atomic():
        publish_many([event(partner_ids[0], 0)])
    with CaptureQueriesContext(connection) as single:
        sent_single = delivery.deliver_due()
    result[f"deliver_due, a batch of {sent_single}"] = [q["sql"] for q in single.captured_queries]
    assert not WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).exists()
    outbox.nudge_worker = ORIGINAL_NUDGE
    return result, {"publish 1": 1, "publish 100": 100, "batch": sent, "single": sent_single}


ORIGINAL_NUDGE = outbox.nudge_worker


# --- printing ----------------------------------------------------------------------------------


def print_queries(isolated, sizes):
    print("\nQueries counted in this process (CaptureQueriesContext, COMMIT included):")
    divisors = [sizes["publish 1"], sizes["publish 100"], sizes["batch"], sizes["single"]]
    for (what, queries), per in zip(isolated.items(), divisors, strict=True):
        kinds = Counter(_kind(q) for q in queries)
        print(f"  {what}: {len(queries)} queries, {len(queries) / per:.2f} per event/delivery")
        for kind, count in kinds.most_common():
            print(f"      {count:5d}  {kind}")


def print_runs(runs):
    print()
    print(
        f"{'mode':7} {'run':13} {'events':>6} {'ok':>3} {'dup':>4} {'ooo':>5} {'publish s':>9} {'behind':>7} "
        f"{'deliv/s':>8} {'drain s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    )
    for r in runs:
        drain = f"{r['drain from start']:8.2f}" if r["drain from start"] is not None else f"{'':8}"
        print(
            f"{r['mode']:7} {r['kind']:13} {r['events']:6d} {'yes' if r['complete'] else 'NO':>3} "
            f"{r['duplicates']:4d} {r['out of order']:5d} {r['publish seconds']:9.2f} {r['publish behind']:7.2f} "
            f"{r['deliveries/s']:8.0f} {drain} {r['p50']:7.3f} {r['p95']:7.3f} {r['p99']:7.3f} {r['max']:7.3f}"
        )
    print("  (ooo: deliveries that reached their endpoint after one committed later; latencies in seconds)")
    for r in runs:
        print(f"\n{r['mode']} {r['kind']}:")
        p, w = r["publish stats"], r["worker stats"]
        events = p["events"] or 1
        publish_queries = {k[2:]: v for k, v in p.items() if k.startswith("q:") and "pg_backend_pid" not in k}
        print(
            f"  publish: {sum(publish_queries.values()) / events:.2f} queries per event (COMMIT included): "
            + ", ".join(f"{k} {v / events:.2f}" for k, v in sorted(publish_queries.items()))
        )
        attempted = w.get("attempted", 0) or 1
        queries = {k[2:]: v for k, v in w.items() if k.startswith("q:")}
        print(
            f"  deliver: {sum(queries.values()) / attempted:.2f} queries per delivery (COMMIT included), "
            f"{w.get('batches', 0):.0f} batches ({attempted / max(w.get('batches', 1), 1):.1f} deliveries each), "
            f"{w.get('empty claims', 0):.0f} empty claims"
            + (
                f", {w['tasks']:.0f} Celery tasks, {w['nudges left queued']:.0f} nudges left queued"
                if "tasks" in w
                else ""
            )
        )
        for name, count in sorted(queries.items(), key=lambda kv: -w.get("qs:" + kv[0], 0)):
            seconds = w.get("qs:" + name, 0)
            print(f"      {count / attempted:6.2f}/delivery  {seconds:7.2f} s  {name}")
        per = 1000 / attempted
        print(
            f"  deliver_due, summed over workers: {w.get('t:deliver_due', 0):.2f} s wall, "
            f"{w.get('c:deliver_due', 0):.2f} s CPU (all threads) = {w.get('c:deliver_due', 0) * per:.2f} ms/delivery; "
            f"of which claim {w.get('c:claim', 0) * per:.2f}, sends {w.get('c:send', 0) * per:.2f}, "
            f"record {w.get('c:record', 0) * per:.2f} ms CPU/delivery"
        )
        print(
            f"  wall: claim {w.get('t:claim', 0):.2f} s ({w.get('n:claim', 0):.0f} calls), "
            f"record {w.get('t:record', 0):.2f} s ({w.get('n:record', 0):.0f} calls), on the main thread; "
            f"sends {w.get('t:send', 0):.2f} s over {w.get('n:send', 0):.0f} endpoint batches on the pool threads "
            f"({w.get('t:send', 0) * per:.2f} ms/request, CPU {w.get('c:send', 0) * per:.2f}: the rest is waiting "
            f"for the receiver or the GIL)"
        )
        c = r["cpu"]
        ours = c["workers"] + c["postgres"] + c["receiver"] + c["publishers"] + c["redis"]
        print(
            f"  CPU seconds over {c['seconds']:.1f} s: workers {c['workers']:.1f}, postgres {c['postgres']:.1f}, "
            f"receiver {c['receiver']:.1f}, publishers {c['publishers']:.1f}, redis {c['redis']:.1f}; machine busy "
            f"{c['machine busy']:.1f} of {c['seconds'] * psutil.cpu_count():.1f} (the rest, other processes and the "
            f"kernel: {c['machine busy'] - ours:.1f})"
        )


def code_version() -> str:
    """The commit that last changed the webhook code, and whether the working tree differs from it."""
    git = ["git", "-C", str(ROOT)]
    paths = ["programs/webhooks", "partnerportal/webhooks.py", "programs/models/webhooks.py", "programs/tasks.py"]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    last = subprocess.run([*git, "log", "-1", "--format=%h", "--", *paths], capture_output=True, text=True).stdout
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *paths], capture_output=True, text=True).stdout
    changes = " + uncommitted changes" if dirty.strip() else ""
    return f"webhook code of {last.strip()}{changes} (HEAD {head})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="delivery processes (Celery concurrency)")
    parser.add_argument("--modes", nargs="+", choices=["celery", "loop"], default=["celery", "loop"])
    parser.add_argument("--rates", type=float, nargs="*", default=[200], help="steady runs, events/s")
    parser.add_argument("--no-burst", action="store_true")
    parser.add_argument("--burst-batch", type=int, default=100, help="events per transaction in the burst")
    parser.add_argument("--publishers", type=int, default=1, help="publishing processes")
    parser.add_argument("--steady-batch", type=int, default=1, help="events per transaction in the steady runs")
    parser.add_argument(
        "--history", type=int, default=50000, help="delivered messages already in the outbox at each run's start"
    )
    parser.add_argument("--poll", type=float, default=0.05, help="loop workers: seconds to wait for a nudge")
    parser.add_argument("--profile", action="store_true", help="cProfile a loop worker in the burst")
    args = parser.parse_args()
    import faulthandler

    faulthandler.register(signal.SIGUSR1)
    assert "127.0.0.1" in settings.WEBHOOK_ALLOWED_HOSTS, "WEBHOOK_ALLOWED_HOSTS must name 127.0.0.1"
    if "celery" in args.modes:
        assert settings.REDIS_URL, "the celery mode needs REDIS_URL (e.g. redis://127.0.0.1:6379/13)"

    receiver = Receiver()
    try:
        setup_database()
        partner_ids = world(args.endpoints, receiver.port)
        measured = code_version()
        print(f"code: {measured}")
        print(
            f"{args.endpoints} endpoints on 127.0.0.1:{receiver.port}, {args.events} events, {args.workers} workers, "
            f"WEBHOOK_BATCH_SIZE={settings.WEBHOOK_BATCH_SIZE}, WEBHOOK_CONCURRENCY={settings.WEBHOOK_CONCURRENCY}, "
            f"DEBUG={settings.DEBUG}, {psutil.cpu_count()} CPUs"
        )
        isolated, sizes = isolated_queries(partner_ids, args.history)
        print_queries(isolated, sizes)
        runs = []
        for mode in args.modes:
            workers_class = CeleryWorkers if mode == "celery" else LoopWorkers
            if not args.no_burst:
                runs.append(run("burst", workers_class, args, partner_ids, receiver, rate=None))
            for rate in args.rates:
                runs.append(run("steady", workers_class, args, partner_ids, receiver, rate=rate))
        print_runs(runs)
        if code_version().split(" (HEAD")[0] != measured.split(" (HEAD")[0]:
            print(f"\nNOTE: the code changed during the run: {measured} at the start, {code_version()} at the end")
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
