from celery import shared_task
from django.conf import settings
from django.db import transaction

from support.escalation.chat import post_until_idle
from support.imports.runner import execute_import_run
from support.insight.quarter import refresh_quarter_figures
from support.models import ImportRun
from support.tickets.sweep import sweep_slas


@shared_task(name="support.tasks.sweep_slas")
def sweep_slas_task() -> dict:
    result = sweep_slas(batch_size=settings.SLA_SWEEP_BATCH_SIZE)
    return {
        "checked": result.checked,
        "recorded": result.recorded,
        "escalated": result.escalated,
        "mailed": result.mailed,
    }


@shared_task(name="support.tasks.post_chat_alerts", ignore_result=True)
def post_chat_alerts_task() -> int:
    return post_until_idle()


@shared_task(name="support.tasks.refresh_quarter_figures")
def refresh_quarter_figures_task() -> int:
    return refresh_quarter_figures()


@shared_task(name="support.tasks.import_tickets")
def import_tickets_task(run_id: int) -> str:
    return execute_import_run(ImportRun.objects.get(pk=run_id)).state


def enqueue_import(run: ImportRun) -> None:
    """Hand `run` to a worker once the current transaction commits (the run row must be visible to it)."""
    transaction.on_commit(lambda: import_tickets_task.delay(run.pk))
