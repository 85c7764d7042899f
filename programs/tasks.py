from celery import shared_task

from programs.webhooks.delivery import deliver_until_idle


@shared_task(name="programs.tasks.deliver_webhooks", ignore_result=True)
def deliver_webhooks() -> int:
    return deliver_until_idle()
