from django.core.management.base import BaseCommand

from support.sweep import sweep_slas


class Command(BaseCommand):
    help = "Record every SLA warning and breach that is due (what the every-minute beat task does)."

    def handle(self, *args, **options):
        result = sweep_slas()
        self.stdout.write(f"Checked {result.checked} ticket(s), recorded {result.recorded} warning(s)/breach(es).")
