from celery import shared_task
from django.db import transaction

from .models import RetierRun
from .retier import execute_run
from .upkeep import run_upkeep


@shared_task(name="tiering.tasks.execute_run")
def execute_run_task(run_id: int) -> str:
    run = execute_run(RetierRun.objects.get(pk=run_id))
    return run.status


@shared_task(name="tiering.tasks.upkeep")
def upkeep() -> dict:
    return run_upkeep()


def enqueue_run(run: RetierRun) -> None:
    """Hand `run` to a worker once the current transaction commits (the run row must be visible to it)."""
    transaction.on_commit(lambda: execute_run_task.delay(run.pk))
