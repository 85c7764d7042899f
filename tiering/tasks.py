from celery import shared_task
from django.db import transaction

from . import notices
from .models import Policy, RetierRun
from .retier import execute_run
from .upkeep import run_upkeep


@shared_task(name="tiering.tasks.execute_run")
def execute_run_task(run_id: int) -> str:
    run = execute_run(RetierRun.objects.get(pk=run_id))
    return run.status


@shared_task(name="tiering.tasks.upkeep")
def upkeep() -> dict:
    return run_upkeep()


@shared_task(name="tiering.tasks.mail_notices", ignore_result=True)
def mail_notices() -> int:
    return notices.mail_until_idle()


@shared_task(name="tiering.tasks.policy_notices")
def policy_notices(policy_id: int) -> int:
    return notices.policy_published(Policy.objects.select_related("ladder").get(pk=policy_id))


def enqueue_run(run: RetierRun) -> None:
    """Hand `run` to a worker once the current transaction commits (the run row must be visible to it)."""
    transaction.on_commit(lambda: execute_run_task.delay(run.pk))
