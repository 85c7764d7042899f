"""Create a personal API token for a person and print its secret (for scripts and CI)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from programs.models import User
from programs.services import create_api_token


class Command(BaseCommand):
    help = "Create an API token for the person with EMAIL and print the token (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="Command line", help="What will use the token.")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active person signs in as {email!r}.")
        try:
            _token, secret = create_api_token(user, name=name)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(secret)
