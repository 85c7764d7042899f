from celery import shared_task

from .sweep import sweep_slas


@shared_task(name="support.tasks.sweep_slas")
def sweep_slas_task() -> dict:
    result = sweep_slas()
    return {
        "checked": result.checked,
        "recorded": result.recorded,
        "escalated": result.escalated,
        "mailed": result.mailed,
    }
