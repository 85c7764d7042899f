"""Print the current two-factor code of the demo staff accounts (their shared, documented demo key)."""

from django.core.management.base import BaseCommand

from programs.demo import demo_code


class Command(BaseCommand):
    help = "Print the code the demo staff accounts' authenticator shows now (demo data only)."

    def handle(self, *args, **options):
        self.stdout.write(demo_code())
