"""Seed the demo data of every app, in the order they depend on each other (the top may name them all)."""

from django.core.management.base import BaseCommand

from programs import demo as programs_demo
from support.demo import history as demo_history
from support.demo import setup as support_demo
from tiering import demo as tiering_demo


class Command(BaseCommand):
    help = "Create or refresh the demo data (idempotent). Every demo login uses the password demo12345."

    def handle(self, *args, **options):
        # Plans first, then the tiers that entitle partners to them, then tickets filed under them.
        counts = programs_demo.seed()
        support_demo.seed_plans()
        counts |= tiering_demo.seed()
        counts["tiers with a support plan"] = support_demo.entitle_tiers()
        counts |= support_demo.seed_tickets()
        counts["articles"] = demo_history.seed_knowledge_base()
        counts["past tickets"] = demo_history.seed_history()
        counts["staff authenticators"] = programs_demo.give_staff_authenticators()
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {summary}."))
