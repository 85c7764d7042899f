"""Settings of the django-helpdesk 2.6.1 peer: its documented install, configured from the environment.

HELPDESK_DATABASE_URL names the peer's own PostgreSQL database (default helpdesk_peer_bench on
127.0.0.1), or a SQLite file as sqlite:////absolute/path.sqlite3 (the import tests' source database,
tests/support/helpdesk_source/build.py); HELPDESK_MEDIA_ROOT is where its attachments go. DEBUG
follows the same switch as the project's benchmarks (on unless DEBUG=false).
"""

import os
from urllib.parse import unquote, urlsplit

_url = urlsplit(os.environ.get("HELPDESK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk_peer_bench"))
if _url.scheme not in {"postgres", "postgresql", "sqlite"} or not _url.path.strip("/"):
    raise RuntimeError(
        f"HELPDESK_DATABASE_URL must be postgres://user@host:port/name or sqlite:////path, not {_url.geturl()!r}"
    )

DEBUG = os.environ.get("DEBUG", "true").lower() in {"1", "true", "yes", "on"}
SECRET_KEY = "helpdesk-peer-bench-only"  # a local benchmark, never served
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# docs/install.rst (django.contrib.* it needs, rest_framework for the API, django-cleanup), minus
# bootstrap4form: 2.6.1 ships its own bootstrap5_form tags and no longer depends on it.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "django_cleanup.apps.CleanupConfig",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
if _url.scheme == "sqlite":
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(_url.path[1:])}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.strip("/"),
            "USER": unquote(_url.username or "postgres"),
            "PASSWORD": unquote(_url.password or ""),
            "HOST": _url.hostname or "127.0.0.1",
            "PORT": _url.port or 5432,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("HELPDESK_MEDIA_ROOT", "")

# Teams mode is on by default and needs pinax-teams; the project has no teams, so it is off.
HELPDESK_TEAMS_MODE_ENABLED = False
# HELPDESK_KB_ENABLED stays on: with it off, 2.6.1's urls.py still routes kb/ and fails (NameError: kb).
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"

# escalate_tickets composes its mails (templates from emailtemplate.json) and hands them to this
# backend: the benchmark counts the composing, not an SMTP round trip.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.test"
