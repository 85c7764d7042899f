from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from partnerportal.celery import app as celery_app
from partnerportal.health import record_beat, record_heartbeat
from partnerportal.tasks import heartbeat

pytestmark = pytest.mark.django_db


def all_ran(now=None):
    record_beat(now=now)
    record_heartbeat("sla_sweep", now=now)


def test_it_is_healthy_with_a_recent_beat_and_sweep(client):
    all_ran()
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["beat"]["last_run_at"] is not None
    assert body["sla_sweep"]["last_run_at"] is not None


def test_it_fails_naming_the_beat_before_the_first_beat(client):
    record_heartbeat("sla_sweep")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]
    assert response.json()["beat"]["error"] == "the beat has not run yet"


def test_it_fails_when_the_last_beat_is_older_than_two_minutes(client, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    all_ran(now=timezone.now() - timedelta(seconds=121))
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat", "sla_sweep"]
    assert "more than 120s" in response.json()["sla_sweep"]["error"]
    all_ran(now=timezone.now() - timedelta(seconds=119))
    assert client.get(reverse("healthz")).status_code == 200


def test_it_fails_naming_the_broker_when_the_broker_is_unreachable(client, monkeypatch):
    all_ran()
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_it_fails_naming_the_database_when_queries_fail(client, monkeypatch):
    from partnerportal import health

    def broken_cursor():
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    monkeypatch.setattr(health, "check_heartbeat", lambda name, now, what: {"ok": True})
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["database"]["error"] == "connection refused"


def test_the_heartbeat_task_records_the_beat():
    heartbeat.apply()
    from partnerportal.models import Heartbeat

    assert Heartbeat.objects.get(name="beat").age_seconds(timezone.now()) < 5
