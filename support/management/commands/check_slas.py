from django.core.management.base import BaseCommand

from support.tickets.sweep import sweep_slas


class Command(BaseCommand):
    help = (
        "Record every SLA warning and breach that is due, perform due escalations and send queued mail "
        "(what the every-minute beat task does)."
    )

    def handle(self, *args, **options):
        result = sweep_slas()
        self.stdout.write(
            f"Checked {result.checked} ticket(s), recorded {result.recorded} warning(s)/breach(es), "
            f"escalated {result.escalated} time(s), sent {result.mailed} mail(s)."
        )
