"""Settings for Partner Portal, read from the environment.

Every value comes from an environment variable (or a `.env` file beside manage.py, which
`make run` / `make test` create for local use). A bad value stops the process at start with one
line that names the variable; README.md lists them all.
"""

import re
from datetime import date as _date
from pathlib import Path
from typing import NoReturn

import environ
import pgtrigger
from csp import constants as csp_constants

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Real environment variables win over the file: read_env only sets what is missing.
environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _fail(message: str) -> NoReturn:
    # SystemExit with a message prints one line on stderr and exits 1, no traceback:
    # manage.py, gunicorn, celery and pytest all stop right there.
    raise SystemExit(f"Configuration error: {message}")


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _fail(f"{name} must be true or false, got {raw!r}")


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        _fail(f"{name} must be a whole number, got {raw!r}")
    if value < minimum:
        _fail(f"{name} must be at least {minimum}, got {value}")
    return value


def _list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env.str(name, default=default).split(",") if item.strip()]


DEBUG = _bool("DEBUG", False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _fail("SECRET_KEY must be set when DEBUG is off (make run / make test write one to .env)")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = _list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    _fail("ALLOWED_HOSTS must name at least one host when DEBUG is off")
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", "")
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        _fail(f"CSRF_TRUSTED_ORIGINS entries need a scheme (https://...), got {_origin!r}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "pgtrigger",
    "pghistory",
    "django_countries",
    "django_filters",
    "django_tables2",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "partnerportal",
    "programs",
    "tiering",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "programs.access.TwoFactorMiddleware",
    "partnerportal.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "partnerportal.urls"
WSGI_APPLICATION = "partnerportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partnerportal.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite file by default (embedded), PostgreSQL in production via DATABASE_URL.
try:
    DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
except Exception as exc:  # environ raises several types for a malformed URL
    _fail(f"DATABASE_URL is not a database URL we understand ({exc})")
_SUPPORTED_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
if DATABASES["default"]["ENGINE"] not in _SUPPORTED_ENGINES:
    _fail(
        "DATABASE_URL must be a sqlite:/// or postgres:// URL, got scheme "
        + repr(env.str("DATABASE_URL").split(":")[0])
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the Celery worker write to the same file: wait for the lock instead
    # of failing, take the write lock at BEGIN (no upgrade deadlocks), and let readers run
    # beside a writer (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = _int("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The audit trail is made by PostgreSQL triggers (django-pghistory); its cross-model event view
# in the admin is PostgreSQL SQL too, so it is offered only there. See docs/audit.md.
AUDIT_ENABLED = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postg")
if AUDIT_ENABLED:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("pghistory") + 1, "pghistory.admin")

AUTH_USER_MODEL = "programs.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Two-factor sign-in (django-otp): required of every staff account, optional for partners.
OTP_TOTP_ISSUER = "Partner Portal"
OTP_TOTP_THROTTLE_FACTOR = 1  # each failed code doubles the wait before the next try (1 s, 2 s, 4 s …)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = None  # show registration/logged_out.html
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_VALID_DAYS = _int("INVITATION_VALID_DAYS", 7, minimum=1)
ATTACHMENT_MAX_BYTES = _int("ATTACHMENT_MAX_MB", 10, minimum=1) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# django-axes: lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = _int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = _int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "programs.access.lockout_username"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Where exports of other helpdesks are put for the admin's import page (one directory per export).
IMPORTS_DIR = Path(env.str("IMPORTS_DIR", default=str(VAR_DIR / "imports")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # The manifest needs `collectstatic` first; production runs it, development does not.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email: console by default, any backend through EMAIL_URL (smtp://user:pass@host:587 ...).
try:
    vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
except Exception as exc:
    _fail(f"EMAIL_URL is not an email URL we understand ({exc})")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Partner Portal <support@partnerportal.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach the portal, for links in mail sent outside a request (tasks, the sweep).
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")

# Security. With DEBUG off every protection is on by default; behind a TLS-terminating proxy
# set SECURE_PROXY_SSL_HEADER=true so Django trusts X-Forwarded-Proto.
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^ping$"]  # load balancers probe over plain HTTP
if _bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_AGE = _int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from our own static files, never inline, so an
# injected <script> or onclick= does not run. Inline styles stay allowed: the API docs (Swagger UI)
# set style attributes from their own scripts, and the 500 page carries its styles inline so it
# renders when static files fail. Attachments are served with a stricter policy of their own.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "worker-src": [csp_constants.SELF, "blob:"],  # ReDoc parses the schema in a worker
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}
SECURE_REFERRER_POLICY = "same-origin"

# Celery. With REDIS_URL, Redis is broker and result store; without it, the broker and results
# live in files under var/ (kombu's filesystem transport) so a fresh machine needs no server.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    _fail(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Longer than the longest task, so an unacknowledged task is not handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery-results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_SECONDS = _int("HEARTBEAT_SECONDS", 30, minimum=1)
SLA_SWEEP_SECONDS = _int("SLA_SWEEP_SECONDS", 60, minimum=1)
# Due tickets the sweep claims per transaction: a killed sweep loses at most one batch's work.
SLA_SWEEP_BATCH_SIZE = _int("SLA_SWEEP_BATCH_SIZE", 2000, minimum=1)
# How often the partners' "your support this quarter" figures are recomputed (the page reads them).
QUARTER_FIGURES_SECONDS = _int("QUARTER_FIGURES_SECONDS", 300, minimum=10)
# /healthz fails when the last beat is older than this: the detection-latency promise.
HEALTHZ_MAX_BEAT_AGE = _int("HEALTHZ_MAX_BEAT_AGE", 120, minimum=1)

# Tiering: the day of the annual re-tier (MM-DD, evaluated on that day), and how long a claimed
# named account may go without logged engagement before it is released.
_retier_date = env.str("RETIER_DATE", default="01-15").strip()
try:
    RETIER_DATE = tuple(int(part) for part in _retier_date.split("-"))
    _date(2001, *RETIER_DATE)  # a year without 29 February: the date must exist every year
except (TypeError, ValueError):
    _fail(f"RETIER_DATE must be a month and day that exists every year, as MM-DD (e.g. 01-15), got {_retier_date!r}")
EXCLUSIVITY_ENGAGEMENT_DAYS = _int("EXCLUSIVITY_ENGAGEMENT_DAYS", 30, minimum=1)
TIERING_UPKEEP_SECONDS = _int("TIERING_UPKEEP_SECONDS", 3600, minimum=60)

# Webhooks to partners' systems. Hosts named in WEBHOOK_ALLOWED_HOSTS may resolve to internal
# addresses (a receiver on this machine in tests, a relay inside the network); every other host
# must resolve to public addresses only. A worker takes due deliveries in batches and holds each
# for WEBHOOK_LEASE_SECONDS: one killed mid-send is retried by another after that.
WEBHOOK_ALLOWED_HOSTS = _list("WEBHOOK_ALLOWED_HOSTS", "")
WEBHOOK_SWEEP_SECONDS = _int("WEBHOOK_SWEEP_SECONDS", 10, minimum=1)
WEBHOOK_LEASE_SECONDS = _int("WEBHOOK_LEASE_SECONDS", 300, minimum=15)
WEBHOOK_BATCH_SIZE = _int("WEBHOOK_BATCH_SIZE", 200, minimum=1)
WEBHOOK_CONCURRENCY = _int("WEBHOOK_CONCURRENCY", 16, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = _int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)  # to connect, and for each read
if WEBHOOK_LEASE_SECONDS < 4 * WEBHOOK_TIMEOUT_SECONDS:
    _fail("WEBHOOK_LEASE_SECONDS must be at least 4 × WEBHOOK_TIMEOUT_SECONDS: a claimed batch must be settled in time")

# The one beat schedule. Later periodic tasks (SLA sweep, re-tier, releases) are added here.
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "partnerportal.tasks.heartbeat", "schedule": float(HEARTBEAT_SECONDS)},
    "sla-sweep": {"task": "support.tasks.sweep_slas", "schedule": float(SLA_SWEEP_SECONDS)},
    "quarter-figures": {"task": "support.tasks.refresh_quarter_figures", "schedule": float(QUARTER_FIGURES_SECONDS)},
    # Policies taking effect, due downgrades, stale account claims, and the annual re-tier on its day.
    "tiering-upkeep": {"task": "tiering.tasks.upkeep", "schedule": float(TIERING_UPKEEP_SECONDS)},
    # Retries that came due and deliveries a killed worker left behind (new events nudge a worker at once).
    "webhook-deliveries": {"task": "programs.tasks.deliver_webhooks", "schedule": float(WEBHOOK_SWEEP_SECONDS)},
    # The same for staff chat alerts.
    "chat-alerts": {"task": "support.tasks.post_chat_alerts", "schedule": float(WEBHOOK_SWEEP_SECONDS)},
}

PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"
# Statement-level triggers: one trigger call per statement (reading the transition table) instead
# of one per row. Row-level triggers upsert the audit context once per row, each inside its own
# subtransaction, which makes a bulk write of n rows cost O(n²) (100,000 standings: minutes).
PGHISTORY_LEVEL = pgtrigger.Statement
# Writes of safe requests (GET/HEAD) are few and unlabelled; labelling them would prefix every
# statement of every page view with two set_config calls.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Caches: Redis when REDIS_URL is set (shared by every process: API throttling counts per token
# across gunicorn workers), memory otherwise (the embedded default runs one process).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# The REST API (/api/v1/). Errors share one JSON shape (partnerportal.api.error_response);
# requests are throttled per token (per user for browser sessions) at API_THROTTLE_RATE.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/minute").strip()
if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", API_THROTTLE_RATE):
    _fail(f"API_THROTTLE_RATE must read like 600/minute (per second, minute, hour or day), got {API_THROTTLE_RATE!r}")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "programs.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["partnerportal.api.TokenRateThrottle"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "partnerportal.api.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "partnerportal.api.Pagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "partnerportal.api_schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "partnerportal.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner Portal API",
    "DESCRIPTION": "Tickets, tiers, support plans and the knowledge base, scoped exactly like the portal. "
    "Authenticate with `Authorization: Bearer <token>` (create tokens under Account → API tokens).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "support.models.Ticket.Status",
        "RetierRunStatusEnum": "tiering.models.RetierRun.Status",
        "PartnerStatusEnum": "programs.models.Partner.Status",
    },
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/semantic.html"
