"""The data migration digests refresh tokens that an older release stored in clear."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MIGRATION = ("sufrahbot", "0001_refresh_token_digests")


def test_plain_tokens_are_replaced_by_their_digest_and_digests_are_left_alone():
    user = UserFactory()
    now = timezone.now()
    plain = OutstandingToken.objects.create(
        user=user, jti="a" * 32, token="eyJplain.token.value", created_at=now, expires_at=now + timedelta(days=1)
    )
    done = OutstandingToken.objects.create(
        user=user, jti="b" * 32, token="sha256:" + "0" * 64, created_at=now, expires_at=now + timedelta(days=1)
    )
    executor = MigrationExecutor(connection)
    executor.migrate([("sufrahbot", None)])
    executor = MigrationExecutor(connection)
    executor.migrate([MIGRATION])

    plain.refresh_from_db()
    done.refresh_from_db()
    assert plain.token == "sha256:" + hashlib.sha256(b"eyJplain.token.value").hexdigest()
    assert done.token == "sha256:" + "0" * 64
