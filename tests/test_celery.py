"""A task sent through the real broker (Redis in CI, the embedded filesystem broker otherwise)
is picked up by a real Celery worker, which writes to the database and returns its result."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from partnerportal.celery import app
from partnerportal.models import Heartbeat
from partnerportal.tasks import heartbeat

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def isolated_broker(tmp_path, monkeypatch):
    """Keep the embedded broker's files in a temporary folder so a running dev worker is left alone."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    if settings.REDIS_URL:
        yield settings.CELERY_BROKER_URL
        return
    queue = str(tmp_path / "queue")
    options = {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "processed_folder": str(tmp_path / "done"),
        "control_folder": str(tmp_path / "control"),
    }
    for folder in options.values():
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.setitem(app.conf, "broker_transport_options", {**app.conf.broker_transport_options, **options})
    monkeypatch.setitem(app.conf, "result_backend", f"file://{tmp_path / 'results'}")
    (tmp_path / "results").mkdir()
    _forget_result_backend()  # the result backend is built once per thread: rebuild it for the new folder
    yield app.conf.broker_url
    monkeypatch.undo()
    _forget_result_backend()


def _forget_result_backend():
    """Drop what the app built from its old configuration: result backend and broker connection pools."""
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


def test_a_real_worker_runs_the_heartbeat_task_and_returns_its_result(isolated_broker):
    with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
        result = heartbeat.delay()
        recorded_at = result.get(timeout=30)
    assert result.successful()
    assert Heartbeat.objects.get(name="beat").last_run_at.isoformat() == recorded_at
    assert isolated_broker.split("://")[0] in {"redis", "filesystem"}
