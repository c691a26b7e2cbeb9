"""Settings for the test suite: real PostgreSQL and Redis, defaulting to the local servers."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "S5jw5d9TKJLRDlzQr2hxilw92I-adP9DCfUgkNNnYUM=")
os.environ.setdefault("SEND_RETRY_BASE_SECONDS", "0.05")
os.environ.setdefault("SEND_RETRY_MAX_SECONDS", "0.2")
# Whole scripted chats run in a second; the per-customer limit has its own test with a low setting.
os.environ.setdefault("BOT_CUSTOMER_MESSAGES_PER_MINUTE", "600")
# No real provider is ever called: without a test's own fake, their APIs are a closed local port (the discard
# port refuses at once), so a media fetch or send that a test did not point anywhere fails fast.
for _name in ("TWILIO_API_BASE_URL", "META_GRAPH_BASE_URL", "D360_API_BASE_URL"):
    os.environ.setdefault(_name, "http://127.0.0.1:9")

from .settings import *  # noqa: E402,F403

# Files land in a directory of this run; media fetches reach the local provider fakes on 127.0.0.1.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="sufrah-test-media-"))
MEDIA_FETCH_ALLOW_PRIVATE_NETWORKS = True
MEDIA_FETCH_RETRY_BASE_SECONDS = 0.01
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Most tests run tasks inline (after the transaction commits); tests marked `worker` start a real
# Celery worker against Redis and switch this off.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
# Inline tasks retry at once here, so a test sees a send's whole retry chain in one call; the waiting the
# embedded mode does is tested on its own (tests/sufrahbot/test_embedded_retries.py).
EMBEDDED_RETRIES_WAIT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests commit thousands of small transactions: not waiting for the WAL flush on each keeps them fast
# (durability of test data does not matter; the SQL and its locking are unchanged).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
# Webhook receivers in tests listen on loopback; the SSRF tests switch this off again.
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
WEBHOOK_CONNECT_TIMEOUT_SECONDS = 2.0
WEBHOOK_READ_TIMEOUT_SECONDS = 2.0
WEBHOOK_TOTAL_TIMEOUT_SECONDS = 4.0
# Every event any test publishes is checked against its catalogue schema (integrations.catalogue).
SUFRAH_EVENT_SINKS = [*SUFRAH_EVENT_SINKS, "integrations.catalogue.check_event"]  # noqa: F405
