"""What the benchmarks share: Django set up against a *_bench PostgreSQL database, emptied and migrated."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partnerportal.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

import django

django.setup()

ROOT = Path(__file__).resolve().parent.parent


def setup_database():
    """Create the *_bench database anew and migrate it."""
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    params = settings.DATABASES["default"]
    name = params["NAME"]
    assert connection.vendor == "postgresql" and name.endswith("_bench"), "run against a *_bench PostgreSQL database"
    with psycopg.connect(
        host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    call_command("migrate", verbosity=0)


def signed_in_client(user, *, headers=None):
    """Return a test client signed in as `user` all the way: staff also pass their second factor.

    With `headers` (an API token) the client carries them instead of a session.
    """
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from programs.services import requires_two_factor

    client = Client(headers=headers)
    if headers is None:
        client.force_login(user)
        if requires_two_factor(user):
            device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "Bench"})
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
    return client


def reset_peak_rss() -> None:
    """Start the process's peak resident size afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def rss_mib(field: str = "VmHWM") -> float:
    """The process's peak resident size since the last reset (VmHWM) or its size now (VmRSS), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} line in /proc/self/status")
