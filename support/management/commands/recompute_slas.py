from django.core.management.base import BaseCommand, CommandError

from support.models import SupportPlan, Ticket
from support.services import refresh_clock


class Command(BaseCommand):
    help = "Recompute the SLA deadlines of open tickets after a plan or calendar change, and report what moved."

    def add_arguments(self, parser):
        parser.add_argument("--plan", help="Only tickets opened under this plan (its name).")

    def handle(self, *args, plan=None, **options):
        tickets = Ticket.objects.open().select_related("plan__calendar").order_by("pk")
        if plan:
            if not SupportPlan.objects.filter(name=plan).exists():
                raise CommandError(f"No support plan is named “{plan}”.")
            tickets = tickets.filter(plan__name=plan)
        cache, moved_count, total = {}, 0, 0
        for ticket in tickets.iterator(chunk_size=500):
            total += 1
            moved = refresh_clock(ticket, cache)
            if moved:
                moved_count += 1
                changes = ", ".join(
                    f"{name} {old:%Y-%m-%d %H:%M} → {new:%Y-%m-%d %H:%M}"
                    for name, (old, new) in moved.items()
                    if old and new
                )
                self.stdout.write(f"#{ticket.pk}: {changes or ', '.join(moved)}")
        self.stdout.write(f"{moved_count} of {total} open ticket(s) moved.")
