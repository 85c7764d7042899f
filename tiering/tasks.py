from celery import shared_task

from . import services
from .models import RetierRun


@shared_task(name="tiering.tasks.execute_run")
def execute_run_task(run_id: int) -> str:
    run = services.execute_run(RetierRun.objects.get(pk=run_id))
    return run.status


@shared_task(name="tiering.tasks.upkeep")
def upkeep() -> dict:
    return services.run_upkeep()
