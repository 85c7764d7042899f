from celery import shared_task

from .health import record_beat


@shared_task(name="partnerportal.tasks.heartbeat", ignore_result=False)
def heartbeat() -> str:
    return record_beat().isoformat()
