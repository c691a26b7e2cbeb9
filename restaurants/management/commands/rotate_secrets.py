from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from restaurants.models import Sender
from sufrahbot.crypto import rotate

SECRET_COLUMNS = ("twilio_auth_token", "meta_access_token", "meta_app_secret")


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key)."

    @transaction.atomic
    def handle(self, *args, **opts):
        table = Sender._meta.db_table
        columns = ", ".join(SECRET_COLUMNS)
        rotated = 0
        with connection.cursor() as cursor:
            # Raw tokens, not the decrypted values the model field gives.
            cursor.execute(f"SELECT id, {columns} FROM {table}")  # noqa: S608 - fixed identifiers
            rows = cursor.fetchall()
            for pk, *tokens in rows:
                new = [rotate(token) if token else token for token in tokens]
                assignments = ", ".join(f"{column} = %s" for column in SECRET_COLUMNS)
                cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*new, pk])  # noqa: S608
                rotated += sum(1 for token in tokens if token)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s) of {len(rows)} sender(s)."))
