"""swapadmin settings, read from the environment through strict helpers (swapadmin/env.py).

With no configuration at all, swapadmin runs on SQLite and an embedded broker (kombu's
filesystem transport) under SWAPADMIN_DATA_DIR, so `make run` needs no server. With
DATABASE_URL and REDIS_URL it uses PostgreSQL and Redis, as docker-compose.yml does.
"""

from __future__ import annotations

import secrets
import socket
from datetime import timedelta
from pathlib import Path

import dj_database_url

from swapadmin.core.clientip import trusted_proxies_setting
from swapadmin.env import SettingError, envbool, envfloat, envint, envlist, envstr
from swapadmin.health.webhook import url_problem
from swapadmin.mailsettings import email_settings
from swapadmin.secretfiles import read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("SWAPADMIN_DATA_DIR", str(BASE_DIR / "var")) or "var").resolve()
# 0700: it holds the key, the SQLite database (sessions, token digests) and the embedded
# broker's messages. An existing directory is tightened by `make run` (runall).
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key() -> str:
    # A key generated once and kept in the data directory, unless one is configured: sessions
    # survive restarts of `make run` without asking a newcomer to invent a secret.
    configured = envstr("SECRET_KEY")
    if configured:
        return configured
    # 0600 from its first byte; of two processes starting together, both get the same key.
    key = read_or_create_secret(DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50).encode())
    return key.decode().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", "False")
# Error pages and mails hide connection URLs too: they carry passwords (swapadmin/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "swapadmin.reporting.HideUrlsFilter"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # The admin site that lets in the admin role only (is_staff alone is not enough).
    "swapadmin.core.adminconfig.RoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "rest_framework",
    # API tokens: knox keeps a digest and an expiry, never the secret (swapadmin.accounts).
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "swapadmin.core",
    "swapadmin.health",
    "swapadmin.api",
    "swapadmin.web",
    "swapadmin.accounts",
    # Per-host database roles and broker users (manage.py enroll-host).
    "swapadmin.enroll",
    "axes",
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
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
    # Connections are kept for a minute (a new PostgreSQL connection costs about 7 ms) and
    # pinged before each request or task reuses one, so a server restart costs no 500.
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
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
            "NAME": str(DATA_DIR / "swapadmin.sqlite3"),
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

# ---- logins, sessions and API tokens (swapadmin.accounts) ----
# django-axes first: it refuses a locked-out user name before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
#: Wrong passwords for one user name from one address before that pair is locked out...
AXES_FAILURE_LIMIT = envint("SWAPADMIN_LOGIN_FAILURE_LIMIT", 5)
#: ...for this long (a right password is refused too meanwhile); then it may try again.
AXES_COOLOFF_TIME = timedelta(minutes=envint("SWAPADMIN_LOGIN_COOLOFF_MINUTES", 15))
# User name and address together: a guesser cannot lock a real admin out from elsewhere,
# and one address guessing many names is still held to the limit for each.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "swapadmin.accounts.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "swapadmin.accounts.throttle.locked_out"
# No start-up banner on every manage.py command; failed logins and lock-outs are still logged.
AXES_VERBOSE = False
# A session lasts one working day from sign-in, then asks for the password again; closing
# the browser ends it sooner. A fixed age rather than an idle timeout: a dashboard left open
# polls every second and would never go idle. The server stores the expiry when the session
# is saved (at sign-in; not on every request, SESSION_SAVE_EVERY_REQUEST is off) and refuses
# it after that whatever the cookie says; the cookie itself has no Max-Age.
SESSION_COOKIE_AGE = envint("SWAPADMIN_SESSION_SECONDS", 12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = envbool("SWAPADMIN_SESSION_ENDS_WITH_BROWSER", "True")
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own AuthToken is swapped out for that one, but knox's migrations would still make
# its unused table, whose key to auth_user no flush of the database knows to empty.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    # Every token is made with an explicit expiry (swapadmin.accounts.tokens); this is only
    # knox's fallback for a token made without one.
    "TOKEN_TTL": timedelta(days=30),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

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
#: What a worker started with these settings consumes: "host" (host.<SWAPADMIN_HOST>, what an
#: enrolled host's worker.env says), "control" (the control plane's tasks: sweep, checks'
#: fan-out, retention, notifications) or both (one machine: `make run`, the default).
SWAPADMIN_WORKER_QUEUES = envlist("SWAPADMIN_WORKER_QUEUES", "control,host")
if not SWAPADMIN_WORKER_QUEUES or set(SWAPADMIN_WORKER_QUEUES) - {"control", "host"}:
    raise SettingError(
        f"SWAPADMIN_WORKER_QUEUES={','.join(SWAPADMIN_WORKER_QUEUES)!r}: give control, host, "
        "or control,host"
    )
#: Set in an enrolled host's worker.env: its broker user reaches its own queue only, so it
#: leaves health events' notification to the control plane's sweep (health/notify.py)
#: instead of publishing to the control queue, a refusal the broker would log every time.
SWAPADMIN_BROKER_OWN_QUEUE_ONLY = envbool("SWAPADMIN_BROKER_OWN_QUEUE_ONLY", "False")
if SWAPADMIN_BROKER_OWN_QUEUE_ONLY and "control" in SWAPADMIN_WORKER_QUEUES:
    # The control plane's sweep would then send no event at all, silently.
    raise SettingError(
        "SWAPADMIN_BROKER_OWN_QUEUE_ONLY=True is for an enrolled host's worker "
        "(SWAPADMIN_WORKER_QUEUES=host): the control plane must publish health events"
    )
#: The embedded broker's polling interval (kombu's filesystem transport has no wake-up).
SWAPADMIN_BROKER_POLL_SECONDS = envfloat("SWAPADMIN_BROKER_POLL_SECONDS", 0.01)
if not 0.001 <= SWAPADMIN_BROKER_POLL_SECONDS <= 5.0:
    raise SettingError(
        f"SWAPADMIN_BROKER_POLL_SECONDS={SWAPADMIN_BROKER_POLL_SECONDS}: give 0.001 to 5 seconds"
    )
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
    if "control" not in SWAPADMIN_WORKER_QUEUES:
        # A host's broker user reaches its own queue only (enroll/broker.py); ack emulation
        # keeps every queue's in-flight messages in one shared hash, so it is off here. A
        # message whose worker dies is then lost, and the sweep sends its job again.
        CELERY_BROKER_TRANSPORT_OPTIONS["ack_emulation"] = False
else:
    # The embedded broker: kombu's filesystem transport, a directory of message files.
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # kombu's transport with whole messages only (swapadmin/core/broker.py).
    CELERY_BROKER_TRANSPORT = "swapadmin.core.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # The exchange table; kombu's default is "control" relative to the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        # How often the worker lists the message directory. kombu's default, once a second,
        # made each job wait half a second on average for its message, and a create, then
        # activate took 1.9 s. At 10 ms it takes 0.13 s; an idle worker then uses 1.5 % of
        # one CPU instead of 0.3 % (docs/BENCHMARKS-control-plane.md, table 7).
        "polling_interval": SWAPADMIN_BROKER_POLL_SECONDS,
    }
# Job state lives in our own Job model (swapadmin.core), never in a result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup would close the database connections around every task unless this
# is set; core/worker.py applies Django's own rules (CONN_MAX_AGE, health checks) instead.
CELERY_DB_REUSE_MAX = 1 << 62
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


def _job_signing_key() -> str:
    # Where jobs are created (web, beat), the Ed25519 key that signs each job's specification
    # (core/signing.py): SWAPADMIN_SIGNING_KEY_FILE (or the PEM inline). A fleet's hosts get
    # only SWAPADMIN_VERIFY_KEY. With no database configured (`make run`: web, worker and
    # beat on one machine) a key is generated once in the data directory, as SECRET_KEY is.
    configured = envstr("SWAPADMIN_SIGNING_KEY")
    if configured or DATABASE_URL:
        return configured or ""
    from swapadmin.core.signing import KEY_FILE_NAME, new_private_key_pem

    return read_or_create_secret(DATA_DIR / KEY_FILE_NAME, new_private_key_pem).decode().strip()


SWAPADMIN_SIGNING_KEY = _job_signing_key()
#: The public key workers verify job signatures with: a file, a PEM, or the base64 line
#: `manage.py signing-key --public` prints. Unset: the public half of SWAPADMIN_SIGNING_KEY.
SWAPADMIN_VERIFY_KEY = envstr("SWAPADMIN_VERIFY_KEY") or ""
#: How long a signed job stays valid: long enough for a queued job to wait out a worker
#: that is down for a day; the sweep's resends do not renew it (queue it again).
SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS = envfloat("SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS", 86400.0)
SWAPADMIN_SYSCTL_FILE = Path(
    envstr("SWAPADMIN_SYSCTL_FILE", "/etc/sysctl.d/90-swapadmin.conf") or ""
)
SWAPADMIN_SAMPLE_SECONDS = envfloat("SWAPADMIN_SAMPLE_SECONDS", 5.0)
#: PostgreSQL: the sampler prepares its two statements once per connection (core/sampler.py),
#: half its CPU a sample. False for a PgBouncer in transaction mode older than 1.21 or
#: without max_prepared_statements, which cannot carry prepared statements.
SWAPADMIN_SAMPLER_PREPARES = envbool("SWAPADMIN_SAMPLER_PREPARES", "True")
SWAPADMIN_HEARTBEAT_SECONDS = envfloat("SWAPADMIN_HEARTBEAT_SECONDS", 10.0)
SWAPADMIN_OFFLINE_AFTER_SECONDS = envfloat("SWAPADMIN_OFFLINE_AFTER_SECONDS", 45.0)
SWAPADMIN_SWEEP_SECONDS = envfloat("SWAPADMIN_SWEEP_SECONDS", 30.0)
#: How often a worker process says it still runs its jobs, and after how long without a
#: word (database clock) a running job is failed.
SWAPADMIN_JOB_HEARTBEAT_SECONDS = envfloat("SWAPADMIN_JOB_HEARTBEAT_SECONDS", 5.0)
SWAPADMIN_JOB_STALE_SECONDS = envfloat("SWAPADMIN_JOB_STALE_SECONDS", 60.0)
#: How long a worker has to confirm a cancel of a running job before it is failed anyway.
SWAPADMIN_CANCEL_GRACE_SECONDS = envfloat("SWAPADMIN_CANCEL_GRACE_SECONDS", 120.0)
# A day at most: the page gives the time the sweep fails an unconfirmed job by, and a time
# past any date (inf) would fail every cancel after it had landed (review 271/4).
if not 0.0 <= SWAPADMIN_CANCEL_GRACE_SECONDS <= 86400.0:
    raise SettingError(
        f"SWAPADMIN_CANCEL_GRACE_SECONDS={SWAPADMIN_CANCEL_GRACE_SECONDS}: give 0 to 86400 seconds"
    )
#: A queued job whose message was due this long ago and was not taken is sent again.
SWAPADMIN_RESEND_AFTER_SECONDS = envfloat("SWAPADMIN_RESEND_AFTER_SECONDS", 60.0)
#: How long a worker retries recording a job's end while the database is away, before the
#: job's heartbeat thread takes over (it writes it when the database is back).
SWAPADMIN_DB_OUTAGE_SECONDS = envfloat("SWAPADMIN_DB_OUTAGE_SECONDS", 120.0)
#: The share of a swap root's filesystem a file the dynamic swap policy adds must leave free
#: (a person's provision keeps 1%).
SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT = envfloat("SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT", 10.0)
if not 1 <= SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT <= 90:
    raise SettingError("SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT must be from 1 to 90")
#: Retention, in days (the retention task, every 5 minutes; 0 keeps rows for ever):
#: finished jobs (the latest of each kind per backend is kept whatever its age), audit
#: events, delivered or given-up health events, and check results (the current ones kept).
SWAPADMIN_JOB_RETENTION_DAYS = envfloat("SWAPADMIN_JOB_RETENTION_DAYS", 90.0)
SWAPADMIN_AUDIT_RETENTION_DAYS = envfloat("SWAPADMIN_AUDIT_RETENTION_DAYS", 400.0)
SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS = envfloat("SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS", 90.0)
SWAPADMIN_HEALTH_RETENTION_DAYS = envfloat("SWAPADMIN_HEALTH_RETENTION_DAYS", 14.0)
for _name in (
    "SWAPADMIN_JOB_RETENTION_DAYS",
    "SWAPADMIN_AUDIT_RETENTION_DAYS",
    "SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS",
    "SWAPADMIN_HEALTH_RETENTION_DAYS",
):
    if not globals()[_name] >= 0:  # NaN too
        raise SettingError(f"{_name} must be 0 (keep for ever) or a number of days")
SWAPADMIN_ADMIN_PASSWORD = envstr("SWAPADMIN_ADMIN_PASSWORD")
SWAPADMIN_METRICS_ALLOWED_IPS = envlist("SWAPADMIN_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
#: Reverse proxies (addresses or networks) whose X-Forwarded-For names the client, for
#: /metrics and the audit trail; from any other peer the header is ignored. None by default.
SWAPADMIN_TRUSTED_PROXIES = trusted_proxies_setting(
    "SWAPADMIN_TRUSTED_PROXIES", envlist("SWAPADMIN_TRUSTED_PROXIES", "")
)
SWAPADMIN_WEBHOOK_URL = envstr("SWAPADMIN_WEBHOOK_URL") or None
if SWAPADMIN_WEBHOOK_URL and (_why := url_problem(SWAPADMIN_WEBHOOK_URL)):
    raise SettingError(f"SWAPADMIN_WEBHOOK_URL: {_why}")
#: Webhooks are sent by a child process running as this user, never as root.
SWAPADMIN_WEBHOOK_USER = envstr("SWAPADMIN_WEBHOOK_USER", "nobody") or "nobody"
SWAPADMIN_ALERT_EMAILS = envlist("SWAPADMIN_ALERT_EMAILS", "")
#: How long one delivery round of an event (every webhook and address) may take before it
#: stops and is tried again later.
SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS = envfloat("SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS", 300.0)
if not 1 <= SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS <= 86400:
    raise SettingError("SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS must be from 1 to 86400 seconds")

# Alerts by mail: EMAIL_URL and/or EMAIL_HOST, EMAIL_PORT... (swapadmin/mailsettings.py).
# An SMTP host alone selects the SMTP backend; nothing configured prints mail to the console.
_mail = email_settings()
EMAIL_BACKEND = _mail["EMAIL_BACKEND"]
EMAIL_HOST = _mail["EMAIL_HOST"]
EMAIL_PORT = _mail["EMAIL_PORT"]
EMAIL_HOST_USER = _mail["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _mail["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _mail["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _mail["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _mail["EMAIL_TIMEOUT"]
EMAIL_FILE_PATH = _mail["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = _mail["DEFAULT_FROM_EMAIL"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "swapadmin.accounts.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "swapadmin.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "swapadmin.api.filters.OrderingFilter",
    ],
    # limit 1 to 1000 (default 50), offset within SQL's range, or a cursor with page_size 1
    # to 1000 for walking a whole list: anything else is a 400 (swapadmin/api/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "swapadmin.api.pagination.ListPagination",
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
