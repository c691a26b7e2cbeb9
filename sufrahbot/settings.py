"""Sufrah settings: everything that differs between machines comes from the environment.

With neither DATABASE_URL nor REDIS_URL set, the project runs on its embedded default: SQLite (WAL),
Celery tasks run in-process after commit, Channels' in-memory layer, and the run command drives the
periodic sweeps. The same code paths run either way; only these settings differ.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers as cors_default_headers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SUFRAH_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED = not DATABASE_URL and not REDIS_URL
# Without Redis there is no broker: tasks run in-process after commit and the run command drives the sweeps.
TASKS_IN_PROCESS = not REDIS_URL

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or EMBEDDED or env_bool("SUFRAH_INSECURE_DEV_KEY")):
        raise RuntimeError("SECRET_KEY must be set (see .env.example)")
    SECRET_KEY = "insecure-embedded-dev-key-change-me"  # embedded/dev only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
# Origins allowed to open the events websocket; defaults to the CORS origins plus the hosts above.
WEBSOCKET_ALLOWED_ORIGINS = env_list("WEBSOCKET_ALLOWED_ORIGINS") or (CORS_ALLOWED_ORIGINS + ALLOWED_HOSTS)
# Live sockets re-check access at once when a membership or user changes, and every this many seconds.
WEBSOCKET_ACCESS_RECHECK_SECONDS = float(os.environ.get("WEBSOCKET_ACCESS_RECHECK_SECONDS", "60"))

# The public URL Twilio calls: signatures are computed over it. Behind a proxy without it, the request's
# own URL is rebuilt from X-Forwarded-Proto / X-Forwarded-Host.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
TRUST_PROXY_HEADERS = env_bool("TRUST_PROXY_HEADERS", True)
if TRUST_PROXY_HEADERS:
    USE_X_FORWARDED_HOST = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "backoffice",  # first: its admin templates (branding, RTL) override django.contrib.admin's
    "backoffice.apps.SufrahAdminConfig",  # django.contrib.admin with Sufrah's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally, pinned with the package
    "channels",
    "django_celery_beat",
    "django_prometheus",
    "sufrahbot",
    "restaurants",
    "webhooks",
    "conversations",
    "orders",
    "templates.apps.TemplatesConfig",
    "campaigns",
    "integrations",
]

MIDDLEWARE = [
    "sufrahbot.middleware.RequestLogMiddleware",
    "sufrahbot.middleware.ContentLengthMiddleware",  # ahead of django-prometheus, which 500s on a bad one
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "backoffice.middleware.RestaurantTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# The benches add a bare baseline view through their own URLconf (bench/urls.py).
ROOT_URLCONF = os.environ.get("ROOT_URLCONF_OVERRIDE", "sufrahbot.urls")
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
WSGI_APPLICATION = "sufrahbot.wsgi.application"
ASGI_APPLICATION = "sufrahbot.asgi.application"

# The running code's version: SUFRAH_VERSION (a release tag or commit, set by the image build), else the
# project's own version.
VERSION = (
    os.environ.get("SUFRAH_VERSION", "")
    or tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]
)
# /health/ answers 503 when a verified webhook has waited longer than this to be processed.
HEALTH_MAX_WEBHOOK_AGE_SECONDS = float(os.environ.get("HEALTH_MAX_WEBHOOK_AGE_SECONDS", "300"))
# /metrics wants "Authorization: Bearer <METRICS_TOKEN>"; unset, /metrics answers 403 to everyone.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- The production server (docs/operations.md) ------------------------------------------------------
# HTTP threads per web process (each holds at most one database connection), web processes, and the
# connections one web process accepts before answering 503 (a provider retries a 503; nothing is stored).
WEB_THREADS = int(os.environ.get("WEB_THREADS", "8"))
WEB_PROCESSES = int(os.environ.get("WEB_PROCESSES", "2"))
WEB_MAX_CONNECTIONS = int(os.environ.get("WEB_MAX_CONNECTIONS", "1000"))
# Webhook routing from memory (restaurants.routing): how long a process trusts a cached sender (and its
# decrypted secrets), and how many it keeps. 0 seconds reads the database on every request.
SENDER_ROUTE_CACHE_SECONDS = float(os.environ.get("SENDER_ROUTE_CACHE_SECONDS", "30"))
SENDER_ROUTE_CACHE_SIZE = int(os.environ.get("SENDER_ROUTE_CACHE_SIZE", "50000"))
# Verified webhooks are queued for processing at most once per this many milliseconds per web process: alone
# when idle, together under load (one task for many; sufrahbot.enqueue.BatchedEnqueue). -1 queues each at once.
WEBHOOK_BATCH_WINDOW_MS = float(os.environ.get("WEBHOOK_BATCH_WINDOW_MS", "50"))
# Celery pools: inbound (webhook processing, the bot, sweeps) and outbound (provider sends) apart, so slow
# sends never hold up inbound messages.
INBOUND_CONCURRENCY = int(os.environ.get("INBOUND_CONCURRENCY", "2"))
# Outbound sends mostly wait on the provider (~0.1–0.3 s a Twilio call), so the outbound pool runs threads
# (OUTBOUND_POOL=threads): OUTBOUND_CONCURRENCY sends in flight in each process for one process's memory, each
# thread with its own database connection (persistent) and the process's one bounded HTTP pool per provider.
# One process is held to one core by the GIL (~6 ms of CPU a send): OUTBOUND_PROCESSES runs more of them (a
# core each) where sending has cores to itself. Four senders against the fake on this 2-core machine
# (bench/e2e.py --outbound-only), answering at once / in 150 ms: 1 × 16 threads 100–131 / 93 msg/s, 2 × 8
# 185–203 / 94, 2 × 16 218 / 144. But with the inbound pool on the same two cores (bench/e2e.py at 50/s for
# 60 s) the second process took CPU the bot needed: p99 12.4 s against 0.9 s with one. So one by default.
# OUTBOUND_POOL=prefork runs OUTBOUND_CONCURRENCY processes in each instead.
OUTBOUND_POOL = os.environ.get("OUTBOUND_POOL", "threads")
if OUTBOUND_POOL not in ("threads", "prefork"):
    raise RuntimeError(f"OUTBOUND_POOL must be threads or prefork, not {OUTBOUND_POOL!r}")
OUTBOUND_PROCESSES = int(os.environ.get("OUTBOUND_PROCESSES", "1"))
if OUTBOUND_PROCESSES < 1:
    raise RuntimeError(f"OUTBOUND_PROCESSES must be at least 1, not {OUTBOUND_PROCESSES}")
OUTBOUND_CONCURRENCY = int(os.environ.get("OUTBOUND_CONCURRENCY", "16" if OUTBOUND_POOL == "threads" else "2"))
# Outgoing webhook deliveries (their own queue, webhooks_out): mostly waiting on receivers.
WEBHOOKS_CONCURRENCY = int(os.environ.get("WEBHOOKS_CONCURRENCY", "2"))

if DATABASE_URL:
    # Persistent connections are safe with the production server: HTTP runs on a fixed thread pool and
    # Celery on fixed processes, so connections = threads + worker processes (see docs/operations.md).
    # Without Redis, HTTP runs on the ASGI handler's per-request threads, where they would pile up: 0 there.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60" if REDIS_URL else "0")),
            conn_health_checks=True,
        )
    }
    # Parameters travel apart from the SQL (psycopg's server-side binding) and a statement run
    # DB_PREPARE_THRESHOLD times on a connection is prepared there: PostgreSQL stops parsing and planning the
    # hot statements again, the client stops quoting every value into the text. In process, storing and
    # answering a new customer's message: PostgreSQL's CPU 2.4-3.8 -> 1.9-2.1 ms, the client's instructions
    # 3 % fewer. 0 turns preparing off (a pooler in transaction mode without prepared-statement support).
    prepare_threshold = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
    DATABASES["default"].setdefault("OPTIONS", {}).update(  # beside what the URL's query gave (sslmode, ...)
        server_side_binding=True, prepare_threshold=prepare_threshold if prepare_threshold > 0 else None
    )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "sufrah.sqlite3")),
            "OPTIONS": {
                # WAL lets the web server and the sweep thread read while one writes; IMMEDIATE avoids
                # the deadlock-prone upgrade from a read to a write lock.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A staff membership is enough for Django admin: its role grants the model permissions (no hand-made groups).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "restaurants.admin_permissions.MembershipPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from the finders; it only wants the folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Uploaded and fetched files (message media, menu photos) go through Django's storage API: STORAGES["default"].
# The default keeps them on disk under MEDIA_ROOT; an S3-compatible store is a STORAGES change only (docs/media.md).
# MEDIA_URL is never routed: every file is served by a view that checks the restaurant (or a signed link).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media-is-not-served-directly/"
# Inbound media: fetched by conversations.tasks.fetch_message_media (outbound pool: provider I/O, like sends).
MEDIA_FETCH_MAX_ATTEMPTS = int(os.environ.get("MEDIA_FETCH_MAX_ATTEMPTS", "5"))
MEDIA_FETCH_RETRY_BASE_SECONDS = float(os.environ.get("MEDIA_FETCH_RETRY_BASE_SECONDS", "5"))
MEDIA_FETCH_MAX_SECONDS = float(os.environ.get("MEDIA_FETCH_MAX_SECONDS", "120"))
# Media URLs are fetched only over https from public addresses; tests reach their local fakes with this on.
MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = os.environ.get("MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS", "") == "1"
# Menu photos (restaurants.photos): the largest upload accepted, and a pixel cap against decompression bombs.
MENU_PHOTO_MAX_UPLOAD_BYTES = int(os.environ.get("MENU_PHOTO_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
MENU_PHOTO_MAX_PIXELS = int(os.environ.get("MENU_PHOTO_MAX_PIXELS", "40000000"))
# How long the signed link a provider fetches an outbound file from stays valid.
MEDIA_PUBLIC_URL_MAX_AGE_SECONDS = int(os.environ.get("MEDIA_PUBLIC_URL_MAX_AGE_SECONDS", "3600"))

# --- Secrets at rest -------------------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation: prepend a new key, then run
# `manage.py rotate_secrets`). Required with DATABASE_URL/REDIS_URL unless DEBUG=1; only the embedded default
# and DEBUG fall back to a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and not (DEBUG or EMBEDDED):
    # A key derived from SECRET_KEY would put every provider token one leaked setting away from plaintext.
    raise RuntimeError(
        "FIELD_ENCRYPTION_KEYS must be set outside the embedded default and DEBUG: it encrypts provider tokens "
        'at rest. Make one with\n  python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"\nand set FIELD_ENCRYPTION_KEYS=<that key> (see .env.example).'
    )

# --- Redis, Celery, Channels ------------------------------------------------------------------------
# Prefix of this deployment's keys in Redis (channel groups, worker heartbeats).
CHANNELS_PREFIX = os.environ.get("CHANNELS_PREFIX", "sufrah")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    if REDIS_URL.startswith("redis://"):
        CELERY_BROKER_TRANSPORT = "sufrahbot.broker:Transport"  # one Redis client per channel (sufrahbot/broker.py)
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = False
    # Redis pub/sub: a group_send is one PUBLISH, however many dashboards listen (the list-based layer
    # made it 2 round trips, plus a pipeline and a Lua script per process with listeners; docs/operations.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    RATE_LIMITER = "conversations.ratelimit.RedisTokenBucket"
    EMBEDDED_RETRIES_WAIT = False
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    # Tasks run in-process: a retry waits its countdown on a timer thread (sufrahbot.celery.SufrahTask).
    EMBEDDED_RETRIES_WAIT = True
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    RATE_LIMITER = "conversations.ratelimit.LocalTokenBucket"

CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection around every task unless this is set; then only
# every this-many tasks. sufrahbot.celery applies CONN_MAX_AGE and the health checks after each task instead.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "webhooks.tasks.*": {"queue": "inbound"},
    "conversations.tasks.send_message": {"queue": "outbound"},
    "conversations.tasks.fetch_message_media": {"queue": "outbound"},
    "orders.tasks.*": {"queue": "scheduled"},
    "campaigns.tasks.*": {"queue": "scheduled"},
    # Outgoing webhooks on their own pool: a slow or dead receiver never holds up the bot.
    "integrations.tasks.deliver_webhook": {"queue": "webhooks_out"},
    "integrations.tasks.deliver_due_webhooks": {"queue": "scheduled"},
}
# One worker pool per entry (its queues); `./dev run` and docker-compose start one worker for each.
CELERY_WORKER_POOLS = {"inbound": "inbound,default,scheduled", "outbound": "outbound", "webhooks": "webhooks_out"}
CELERY_WORKER_QUEUES = ",".join(CELERY_WORKER_POOLS.values())
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
# With Redis down, a webhook's enqueue gives up within about a second (it is stored; the sweep re-queues it)
# instead of holding the provider's request past its timeout.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# Task modules outside the apps' tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["webhooks.spool"]
# While PostgreSQL is down, at most this many webhooks wait in Redis (then 503 + Retry-After); 0 turns it off.
WEBHOOK_SPOOL_MAX_ENTRIES = int(os.environ.get("WEBHOOK_SPOOL_MAX_ENTRIES", "100000"))
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic sweeps. Under Redis, Celery beat runs them; embedded, the run command's sweep loop does.
CELERY_BEAT_SCHEDULE: dict = {
    "replay-stale-webhooks": {"task": "webhooks.tasks.replay_stale_events", "schedule": 60.0},
    # Webhooks kept in Redis while PostgreSQL was down (webhooks/spool.py): stored soon after it is back.
    "import-spooled-webhooks": {"task": "webhooks.spool.import_spooled_webhooks", "schedule": 5.0},
    "send-due-rating-prompts": {"task": "orders.tasks.send_due_prompts", "schedule": 30.0},
    "resend-stranded-messages": {"task": "conversations.tasks.resend_stranded_messages", "schedule": 30.0},
    "fetch-stranded-media": {"task": "conversations.tasks.refetch_stranded_media", "schedule": 60.0},
    # Templates in review: ask the providers where they stand (Twilio has no status webhook).
    "sync-submitted-templates": {"task": "templates.tasks.sync_submitted_templates", "schedule": 300.0},
    "start-due-campaigns": {"task": "campaigns.tasks.start_due_campaigns", "schedule": 30.0},
    # Outgoing webhooks: retries whose time has come, and deliveries whose task was lost.
    "deliver-due-webhooks": {"task": "integrations.tasks.deliver_due_webhooks", "schedule": 10.0},
}
# An unsent outbound message this long past its due time (or its claim's lease) is re-queued by the sweep.
STRANDED_SEND_GRACE_SECONDS = float(os.environ.get("STRANDED_SEND_GRACE_SECONDS", "60"))
SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "15"))

# Outbound sending
SEND_MAX_RETRIES = int(os.environ.get("SEND_MAX_RETRIES", "6"))
# Per customer: messages a minute the bot answers (a burst of this many, then one every 60/N s); 0 turns it off.
BOT_CUSTOMER_MESSAGES_PER_MINUTE = int(os.environ.get("BOT_CUSTOMER_MESSAGES_PER_MINUTE", "12"))
SEND_RETRY_BASE_SECONDS = float(os.environ.get("SEND_RETRY_BASE_SECONDS", "2"))
SEND_RETRY_MAX_SECONDS = float(os.environ.get("SEND_RETRY_MAX_SECONDS", "600"))
PROVIDER_HTTP_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_HTTP_TIMEOUT_SECONDS", "10"))
# Kept-alive connections per provider host in one process: one per outbound thread, so none waits for one.
PROVIDER_HTTP_POOL_SIZE = int(os.environ.get("PROVIDER_HTTP_POOL_SIZE", str(max(OUTBOUND_CONCURRENCY, 4))))
# A send claimed by a worker that then died is taken over after this long. It must outlast one provider call
# (connect + read timeouts), or a slow but live send would be taken over and reconciled while still running.
SEND_CLAIM_LEASE_SECONDS = float(os.environ.get("SEND_CLAIM_LEASE_SECONDS", "120"))
if SEND_CLAIM_LEASE_SECONDS <= 2 * PROVIDER_HTTP_TIMEOUT_SECONDS:
    raise RuntimeError(
        f"SEND_CLAIM_LEASE_SECONDS ({SEND_CLAIM_LEASE_SECONDS:g}) must be more than twice "
        f"PROVIDER_HTTP_TIMEOUT_SECONDS ({PROVIDER_HTTP_TIMEOUT_SECONDS:g}): a live send must never look dead"
    )
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "").rstrip("/")
# Twilio's Content API (templates) lives on its own host; tests point it at the same local fake.
TWILIO_CONTENT_BASE_URL = os.environ.get("TWILIO_CONTENT_BASE_URL", "https://content.twilio.com").rstrip("/")
META_GRAPH_BASE_URL = os.environ.get("META_GRAPH_BASE_URL", "https://graph.facebook.com").rstrip("/")
META_GRAPH_VERSION = os.environ.get("META_GRAPH_VERSION", "v21.0")
# The token Meta echoes in the webhook verification handshake (the app's, so one per deployment).
META_VERIFY_TOKEN = os.environ.get("META_VERIFY_TOKEN", "")
D360_API_BASE_URL = os.environ.get("D360_API_BASE_URL", "https://waba-v2.360dialog.io").rstrip("/")
# The WhatsApp providers this installation speaks: name → class (docs/providers.md). The name is the sender's
# `provider` and the webhook path (/webhooks/<name>/).
SUFRAH_PROVIDERS = {
    "twilio": "providers.twilio.Twilio",
    "meta": "providers.meta.Meta",
    "360dialog": "providers.dialog360.Dialog360",
    "console": "providers.console.Console",
}
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)

# --- API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # An integration's API key (Bearer sfk_…) first: it leaves every other token to simplejwt.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "sufrahbot.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "15"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=int(os.environ.get("JWT_REFRESH_DAYS", "7"))),
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY", SECRET_KEY),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
# Brute-force throttle of the password logins (API token + admin): failures per account / per IP within the
# window lock that account / IP out for LOGIN_LOCKOUT_SECONDS (429 + Retry-After).
LOGIN_MAX_FAILURES_PER_ACCOUNT = int(os.environ.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5"))
LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("LOGIN_MAX_FAILURES_PER_IP", "20"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900"))
# The dashboard sends Idempotency-Key on staff replies and reads Idempotent-Replayed on the answer.
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Idempotent-Replayed"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Sufrah API",
    "DESCRIPTION": "Dashboard API of the Sufrah WhatsApp ordering bot.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Three models have a "status": name their enums apart so clients get distinct types.
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "conversations.models.Conversation.Status",
        "MessageStatusEnum": "conversations.models.MessageStatus",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "WebhookDeliveryStatusEnum": "integrations.models.DeliveryStatus",
    },
    # Webhooks are an OpenAPI 3.1 feature: every outgoing event type, its body's schema and an example.
    "OAS_VERSION": "3.1.0",
    # One import path per event type (integrations.openapi; a test checks this list against the catalogue).
    "WEBHOOKS": [
        "integrations.openapi.webhook_message_received",
        "integrations.openapi.webhook_message_sent",
        "integrations.openapi.webhook_message_status",
        "integrations.openapi.webhook_conversation_updated",
        "integrations.openapi.webhook_order_created",
        "integrations.openapi.webhook_order_updated",
        "integrations.openapi.webhook_delivery_started",
        "integrations.openapi.webhook_delivery_completed",
        "integrations.openapi.webhook_rating_received",
        "integrations.openapi.webhook_menu_updated",
        "integrations.openapi.webhook_sender_disconnected",
        "integrations.openapi.webhook_sender_connected",
        "integrations.openapi.webhook_template_updated",
        "integrations.openapi.webhook_campaign_progress",
    ],
}

# --- Events and outgoing webhooks (docs/events.md) ---------------------------------------------------
# Called by sufrahbot.events.publish inside the caller's transaction, by name (sufrahbot imports no app).
SUFRAH_EVENT_SINKS = ["integrations.services.deliveries.deliveries_record"]
# Receivers' addresses must be public; these networks are let through anyway (e.g. "10.20.0.0/16" for an
# in-house POS). Loopback, private, link-local and metadata addresses are refused otherwise.
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS")
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", False)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5"))
WEBHOOK_READ_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_READ_TIMEOUT_SECONDS", "10"))
WEBHOOK_TOTAL_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TOTAL_TIMEOUT_SECONDS", "20"))
WEBHOOK_RESPONSE_MAX_BYTES = int(os.environ.get("WEBHOOK_RESPONSE_MAX_BYTES", "65536"))
# 15 attempts: 30 s, 1, 2, 4, 8, 16, 32 min, 1, 2, 4 h, then every 4 h: about a day in all (±20% jitter).
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "15"))
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))
WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "14400"))
WEBHOOK_RETRY_AFTER_MAX_SECONDS = float(os.environ.get("WEBHOOK_RETRY_AFTER_MAX_SECONDS", "14400"))
# Deliveries failed for good in a row before the subscription is switched off (admin shows why).
WEBHOOK_DISABLE_AFTER_FAILURES = int(os.environ.get("WEBHOOK_DISABLE_AFTER_FAILURES", "20"))
# Requests a minute an integration's API key may make (per key; each key can have its own).
API_KEY_REQUESTS_PER_MINUTE = int(os.environ.get("API_KEY_REQUESTS_PER_MINUTE", "120"))

# --- Logging: JSON lines; secrets are never passed to loggers ------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "sufrahbot.logging.JsonFormatter"},
    },
    "filters": {"redact": {"()": "sufrahbot.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "twilio": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # One access line per request (sufrahbot.middleware); set ACCESS_LOG=0 to drop them.
        "sufrahbot.access": {"level": "INFO" if env_bool("ACCESS_LOG", True) else "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# Security headers that matter once DEBUG is off and a proxy terminates TLS.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
