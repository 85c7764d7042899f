"""What /healthz checks: the database, the broker, and how long ago the beat last ran."""

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Heartbeat

BEAT = "beat"


def record_heartbeat(name: str, *, now: datetime | None = None) -> datetime:
    """Store the time the periodic job `name` last ran and return it."""
    now = now or timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"last_run_at": now})
    return now


def record_beat(*, now: datetime | None = None) -> datetime:
    """Store the time the periodic beat reached a worker and return it."""
    return record_heartbeat(BEAT, now=now)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means unhealthy, and we say which
        return {"ok": False, "error": str(exc).splitlines()[0]}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    from .celery import app

    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc).splitlines()[0]}
    return {"ok": True, "transport": transport}


def check_heartbeat(name: str, now: datetime, what: str) -> dict:
    try:
        beat = Heartbeat.objects.filter(name=name).first()
    except Exception as exc:
        return {"ok": False, "error": str(exc).splitlines()[0]}
    if beat is None:
        return {"ok": False, "last_run_at": None, "error": f"the {what} has not run yet"}
    age = beat.age_seconds(now)
    status = {"ok": age <= settings.HEALTHZ_MAX_BEAT_AGE, "last_run_at": beat.last_run_at.isoformat()}
    status["age_seconds"] = round(age, 1)
    if not status["ok"]:
        status["error"] = f"last {what} {age:.0f}s ago, more than {settings.HEALTHZ_MAX_BEAT_AGE}s"
    return status


def check_beat(now: datetime) -> dict:
    return check_heartbeat(BEAT, now, "beat")


def check_sla_sweep(now: datetime) -> dict:
    return check_heartbeat("sla_sweep", now, "SLA sweep")


def health_report(now: datetime | None = None) -> dict:
    """Return every check with its status and the list of failing parts."""
    now = now or timezone.now()
    checks = {
        "database": check_database(),
        "broker": check_broker(),
        "beat": check_beat(now),
        "sla_sweep": check_sla_sweep(now),
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    return {"status": "fail" if failing else "ok", "failing": failing, "checked_at": now.isoformat(), **checks}
