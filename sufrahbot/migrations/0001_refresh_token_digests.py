"""Replace refresh tokens stored in clear (simplejwt's outstanding-token table) by their SHA-256 digest."""

import hashlib

from django.db import migrations


def digest_stored_tokens(apps, schema_editor):  # noqa: ARG001
    OutstandingToken = apps.get_model("token_blacklist", "OutstandingToken")
    for row in OutstandingToken.objects.exclude(token__startswith="sha256:").only("pk", "token").iterator():
        digest = "sha256:" + hashlib.sha256(row.token.encode()).hexdigest()
        OutstandingToken.objects.filter(pk=row.pk).update(token=digest)


class Migration(migrations.Migration):
    dependencies = [("token_blacklist", "0013_alter_blacklistedtoken_options_and_more")]
    operations = [migrations.RunPython(digest_stored_tokens, migrations.RunPython.noop)]
