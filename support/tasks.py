from celery import shared_task
from django.conf import settings

from support.insight.quarter import refresh_quarter_figures
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


@shared_task(name="support.tasks.refresh_quarter_figures")
def refresh_quarter_figures_task() -> int:
    return refresh_quarter_figures()
