from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from restaurants.models import Sender
from sufrahbot.crypto import EncryptedJSONField, EncryptedTextField, rotate


def encrypted_columns(model) -> list[str]:
    """The model's encrypted columns. A sender's credentials are one encrypted field whatever the provider,
    so no list of secret names lives here (the provider schemas are the only one)."""
    return [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedJSONField | EncryptedTextField)]


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS (after adding a new key)."

    @transaction.atomic
    def handle(self, *args, **opts):
        table = connection.ops.quote_name(Sender._meta.db_table)
        columns = [connection.ops.quote_name(c) for c in encrypted_columns(Sender)]
        rotated = 0
        with connection.cursor() as cursor:
            # Raw tokens, not the decrypted values the model fields give.
            cursor.execute(f"SELECT id, {', '.join(columns)} FROM {table}")  # fixed identifiers
            rows = cursor.fetchall()
            for pk, *tokens in rows:
                new = [rotate(token) if token else token for token in tokens]
                assignments = ", ".join(f"{column} = %s" for column in columns)
                cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*new, pk])
                rotated += sum(1 for token in tokens if token)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s) of {len(rows)} sender(s)."))
