"""swapadmin settings, read from the environment through strict helpers (swapadmin/env.py).

With no configuration at all, swapadmin runs on SQLite and an embedded broker (kombu's
filesystem transport) under SWAPADMIN_DATA_DIR, so `make run` needs no server. With
DATABASE_URL and REDIS_URL it uses PostgreSQL and Redis, as docker-compose.yml does.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import dj_database_url

from swapadmin.env import envbool, envfloat, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("SWAPADMIN_DATA_DIR", str(BASE_DIR / "var")) or "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    # A key generated once and kept in the data directory, unless one is configured: sessions
    # survive restarts of `make run` without asking a newcomer to invent a secret.
    configured = envstr("SECRET_KEY")
    if configured:
        return configured
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", "False")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "swapadmin.core",
    "swapadmin.health",
    "swapadmin.api",
    "swapadmin.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "swapadmin.urls"
WSGI_APPLICATION = "swapadmin.wsgi.application"

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
            ],
        },
    }
]

DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    # The web server, the worker (its pool and its sampler thread) and beat share one SQLite
    # file, so its locking is the embedded default's concurrency control:
    # - IMMEDIATE: a transaction takes the write lock as it begins, where SQLite can wait
    #   for it. A deferred one that reads and then writes is refused at once ("database is
    #   locked", no busy wait is possible there) when another process wrote in between:
    #   that lost the worker's registration on one start in four.
    # - timeout: how long a writer waits for the lock (SQLite's busy timeout), bounded and
    #   under gunicorn's 30 s request timeout; the worker retries its own writes beyond it.
    # - WAL: readers never wait for the writer, nor it for them. synchronous=NORMAL is WAL's
    #   safe setting: a commit is not fsynced (a power cut may lose the last ones, never
    #   corrupt the file), which keeps each writer's turn short.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "swapadmin.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from static/ too, so `make run` needs no collectstatic step; the image runs
# collectstatic at build time and whitenoise prefers those compressed, hashed copies.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "False")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "False")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
if envbool("SECURE_PROXY_SSL", "False"):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see docs/DEPLOY.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# ---- Celery: every setting under the CELERY_ namespace (swapadmin/celery.py) ----
REDIS_URL = envstr("REDIS_URL")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # The embedded broker: kombu's filesystem transport, a directory of message files.
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # The exchange table; kombu's default is "control" relative to the working directory.
        "control_folder": str(BROKER_DIR / "control"),
    }
# Job state lives in our own Job model (swapadmin.core), never in a result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Remote control (shutdown, pool changes, rate limits sent over the broker) is off: anyone who
# can publish on the broker could otherwise stop every host's worker. Health checks ask the
# database instead (manage.py worker-alive).
CELERY_WORKER_ENABLE_REMOTE_CONTROL = envbool("SWAPADMIN_WORKER_REMOTE_CONTROL", "False")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request must not hang when the broker is down: the job stays queued and the sweep resends.
CELERY_BROKER_CONNECTION_TIMEOUT = envfloat("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# ---- swapadmin ----
SWAPADMIN_HOST = envstr("SWAPADMIN_HOST") or socket.gethostname()
#: What identifies this machine (a container's worker mounts the host's file here).
SWAPADMIN_MACHINE_ID_FILE = Path(
    envstr("SWAPADMIN_MACHINE_ID_FILE", "/etc/machine-id") or "/etc/machine-id"
)
SWAPADMIN_FSTAB = Path(envstr("SWAPADMIN_FSTAB", "/etc/fstab") or "/etc/fstab")
SWAPADMIN_SYSCTL_FILE = Path(
    envstr("SWAPADMIN_SYSCTL_FILE", "/etc/sysctl.d/90-swapadmin.conf") or ""
)
SWAPADMIN_SAMPLE_SECONDS = envfloat("SWAPADMIN_SAMPLE_SECONDS", 5.0)
SWAPADMIN_HEARTBEAT_SECONDS = envfloat("SWAPADMIN_HEARTBEAT_SECONDS", 10.0)
SWAPADMIN_OFFLINE_AFTER_SECONDS = envfloat("SWAPADMIN_OFFLINE_AFTER_SECONDS", 45.0)
SWAPADMIN_SWEEP_SECONDS = envfloat("SWAPADMIN_SWEEP_SECONDS", 30.0)
#: How often a worker process says it still runs its jobs, and after how long without a
#: word (database clock) a running job is failed.
SWAPADMIN_JOB_HEARTBEAT_SECONDS = envfloat("SWAPADMIN_JOB_HEARTBEAT_SECONDS", 5.0)
SWAPADMIN_JOB_STALE_SECONDS = envfloat("SWAPADMIN_JOB_STALE_SECONDS", 60.0)
#: How long a worker has to confirm a cancel of a running job before it is failed anyway.
SWAPADMIN_CANCEL_GRACE_SECONDS = envfloat("SWAPADMIN_CANCEL_GRACE_SECONDS", 120.0)
#: A queued job whose message was due this long ago and was not taken is sent again.
SWAPADMIN_RESEND_AFTER_SECONDS = envfloat("SWAPADMIN_RESEND_AFTER_SECONDS", 60.0)
#: How long a worker retries recording a job's end while the database is away, before the
#: job's heartbeat thread takes over (it writes it when the database is back).
SWAPADMIN_DB_OUTAGE_SECONDS = envfloat("SWAPADMIN_DB_OUTAGE_SECONDS", 120.0)
SWAPADMIN_ADMIN_PASSWORD = envstr("SWAPADMIN_ADMIN_PASSWORD")
SWAPADMIN_METRICS_ALLOWED_IPS = envlist("SWAPADMIN_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
SWAPADMIN_WEBHOOK_URL = envstr("SWAPADMIN_WEBHOOK_URL")
SWAPADMIN_ALERT_EMAILS = envlist("SWAPADMIN_ALERT_EMAILS", "")

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "swapadmin@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "swapadmin.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "swapadmin.api.filters.OrderingFilter",
    ],
    # limit 1 to 1000 (default 50), offset within SQL's range: anything else is a 400.
    "DEFAULT_PAGINATION_CLASS": "swapadmin.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "swapadmin API",
    "DESCRIPTION": "Manage Linux swap across a fleet of hosts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and Swagger UI describe every endpoint: behind a login like the rest.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the vendored sidecar package: the docs page works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}
