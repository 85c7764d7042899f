from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from support.models import SupportPlan, Ticket
from support.tickets.clock import refresh_clock


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
        for ticket_id in tickets.values_list("pk", flat=True).iterator(chunk_size=500):
            total += 1
            # Lock and re-read each ticket: a transition or the sweep may have changed it meanwhile.
            with transaction.atomic():
                ticket = Ticket.objects.select_for_update().select_related("plan__calendar").get(pk=ticket_id)
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
