"""Faults survived: real Celery workers and beats (separate processes) over a private Redis, on
PostgreSQL, with a few thousand tickets due for SLA warnings, breaches and three escalation levels.

Each test injects one fault while the sweep runs, lets the system recover the way production
would (a restarted worker, the next beat's sweep), then checks that every due warning, breach and
escalation exists exactly once and no ticket or event was lost.

Run by `.ci/run` (`pytest -m faults`, PostgreSQL in DATABASE_URL); skipped elsewhere.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from support.models import Escalation, Ticket, TicketEvent
from tests.factories import copy_ticket, file_ticket
from tests.support.test_escalation import desk  # noqa: F401 (the fixture: a 3-level policy with on-call)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="fault tests run on PostgreSQL"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to run a private Redis"),
]
ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
TICKETS = 3000
LEVELS = 3  # entry (L1), no response (L2), unresolved after two hours (L3)
REDIS_PORT = 6391


@pytest.fixture
def redis(tmp_path):
    """A private Redis (append-only file on, as a broker should run) that the tests may stop and start."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class RedisServer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{REDIS_PORT}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True).stdout == b"PONG\n"
            )
        )

    def stop(self):
        if self.process and self.process.poll() is None:
            subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown"], capture_output=True)
            self.process.wait(timeout=20)

    def queued(self) -> int:
        answer = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "llen", "celery"], capture_output=True, text=True)
        return int(answer.stdout.strip() or 0)


def wait_until(condition, timeout=60.0, every=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def environment(redis, **extra) -> dict:
    database = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": redis.url,
        "DEBUG": "true",
        "SECRET_KEY": "fault-tests",
        "SLA_SWEEP_BATCH_SIZE": "50",  # many small transactions: a fault lands mid-sweep
        "EMAIL_URL": "dummymail://",
        **extra,
    }


def start(command, redis, **extra):
    return subprocess.Popen(
        [CELERY, "-A", "partnerportal", *command, "--loglevel", "warning"],
        cwd=ROOT,
        env=environment(redis, **extra),
        start_new_session=True,  # its own process group: kill -9 takes the pool's children too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker(redis, **extra):
    return start(
        ["worker", "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat"], redis, **extra
    )


def kill(process, sig=signal.SIGKILL):
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)


def send_sweep(redis):
    """Queue one SLA sweep, as the beat does every minute."""
    subprocess.run(
        [CELERY, "-A", "partnerportal", "call", "support.tasks.sweep_slas"], cwd=ROOT, env=environment(redis), check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.fixture
def due(desk, partner, partner_member):  # noqa: F811
    """TICKETS P2 tickets received two days ago: each due for a first-response warning and breach, a
    resolution warning and breach, and escalation to L1, L2 and L3."""
    template = file_ticket(partner, partner_member, severity="P2", at=timezone.now() - timedelta(days=2))
    copy_ticket(template, TICKETS - 1)
    return Ticket.objects.count()


def escalations() -> int:
    return Escalation.objects.count()


def assert_everything_exactly_once(tickets: int):
    assert Ticket.objects.count() == tickets, "a ticket was lost"
    assert Escalation.objects.count() == tickets * LEVELS
    doubled = Escalation.objects.values("ticket", "level").annotate(n=Count("pk")).filter(n__gt=1)
    assert not doubled.exists(), f"escalations recorded twice: {list(doubled[:5])}"
    for kind in ("sla_warning", "sla_breach"):
        per_target = TicketEvent.objects.filter(kind=kind).values("ticket", "sla_target").annotate(n=Count("pk"))
        assert not per_target.filter(n__gt=1).exists(), f"{kind} recorded twice"
        assert per_target.count() == tickets * 2, f"{kind}: {per_target.count()} of {tickets * 2} recorded"
    assert TicketEvent.objects.filter(kind="escalated").count() == tickets * LEVELS
    assert not Ticket.objects.filter(next_sla_check_at__lte=timezone.now()).exists(), "tickets left due"


def test_a_worker_killed_mid_sweep_and_restarted_leaves_every_step_done_once(due, redis):
    first = worker(redis)
    try:
        send_sweep(redis)
        wait_until(lambda: escalations() > 0, what="the sweep to start escalating")
        kill(first)  # kill -9, the whole worker, mid-sweep
    finally:
        kill(first)
    assert escalations() < due * LEVELS, "the sweep finished before the kill: make it slower"
    second = worker(redis)
    try:
        send_sweep(redis)  # the next beat's sweep
        wait_until(lambda: escalations() == due * LEVELS, what="the restarted worker to finish")
        time.sleep(1)
    finally:
        kill(second, signal.SIGTERM)
    assert_everything_exactly_once(due)


def test_tasks_queued_while_redis_restarts_are_not_lost(due, redis):
    for _ in range(3):
        send_sweep(redis)
    assert redis.queued() == 3
    redis.stop()
    redis.start()  # the append-only file brings the queue back
    assert redis.queued() == 3
    running = worker(redis)
    try:
        wait_until(lambda: redis.queued() == 0 and escalations() == due * LEVELS, what="the queued sweeps")
        time.sleep(1)
        redis.stop()  # and a restart while the worker is connected: it reconnects
        redis.start()
        send_sweep(redis)
        wait_until(lambda: redis.queued() == 0, what="the sweep sent after the restart")
        time.sleep(2)
    finally:
        kill(running, signal.SIGTERM)
    assert_everything_exactly_once(due)


def test_a_dropped_database_connection_mid_sweep_is_recovered_by_the_next_sweep(due, redis):
    running = worker(redis)
    try:
        send_sweep(redis)
        wait_until(lambda: escalations() > 0, what="the sweep to start escalating")
        with connection.cursor() as cursor:  # what a database failover or a proxy reset does
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            dropped = cursor.rowcount
        assert dropped >= 1
        assert escalations() < due * LEVELS, "the sweep finished before the connection was dropped"
        send_sweep(redis)  # the next beat's sweep, on a fresh connection
        wait_until(lambda: escalations() == due * LEVELS, what="the next sweep to finish")
        time.sleep(1)
    finally:
        kill(running, signal.SIGTERM)
    assert_everything_exactly_once(due)


def test_two_beats_at_once_send_double_sweeps_that_still_record_each_step_once(due, redis, tmp_path):
    beats = [
        start(["beat", "--schedule", str(tmp_path / f"beat-{n}")], redis, SLA_SWEEP_SECONDS="1", HEARTBEAT_SECONDS="1")
        for n in (1, 2)
    ]
    running = worker(redis, **{"SLA_SWEEP_SECONDS": "1"})
    try:
        wait_until(lambda: escalations() == due * LEVELS, timeout=120, what="the sweeps of two beats")
        time.sleep(3)  # more duplicate sweeps run over the finished tickets
        assert all(beat.poll() is None for beat in beats), "both beats must have been running throughout"
    finally:
        for process in (*beats, running):
            kill(process, signal.SIGTERM)
    assert_everything_exactly_once(due)


def test_the_settings_the_fault_tolerance_rests_on():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    if settings.REDIS_URL:
        # Longer than the longest task (a sweep of 1,000,000 tickets: about a second per 2,000 due).
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= 3600
