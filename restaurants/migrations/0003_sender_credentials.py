"""Five provider-specific credential columns become one encrypted `credentials` field described by the
provider's schema, plus the plain `routing_id` webhooks are routed by (Meta's phone number id)."""

from django.db import migrations, models

import sufrahbot.crypto

# Old column → credential name, per provider (the console's auth token signs the simulator's webhooks).
MOVES = {
    "twilio": {"twilio_account_sid": "account_sid", "twilio_auth_token": "auth_token"},
    "console": {"twilio_auth_token": "auth_token"},
    "meta": {"meta_phone_number_id": "phone_number_id", "meta_access_token": "access_token", "meta_app_secret": "app_secret"},
}
ROUTING = {"meta": "meta_phone_number_id"}


def forwards(apps, schema_editor):
    Sender = apps.get_model("restaurants", "Sender")
    for sender in Sender.objects.all():
        moves = MOVES.get(sender.provider, {})
        sender.credentials = {new: str(getattr(sender, old)) for old, new in moves.items() if getattr(sender, old)}
        sender.routing_id = getattr(sender, ROUTING[sender.provider]) if sender.provider in ROUTING else ""
        sender.save(update_fields=["credentials", "routing_id"])


def backwards(apps, schema_editor):
    Sender = apps.get_model("restaurants", "Sender")
    for sender in Sender.objects.all():
        for old, new in MOVES.get(sender.provider, {}).items():
            setattr(sender, old, sender.credentials.get(new, ""))
        sender.save()


class Migration(migrations.Migration):
    dependencies = [("restaurants", "0002_uniq_meta_phone_number_id")]

    operations = [
        migrations.AddField(
            model_name="sender",
            name="credentials",
            field=sufrahbot.crypto.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="sender",
            name="routing_id",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveConstraint(model_name="sender", name="uniq_meta_phone_number_id"),
        migrations.RemoveField(model_name="sender", name="twilio_account_sid"),
        migrations.RemoveField(model_name="sender", name="twilio_auth_token"),
        migrations.RemoveField(model_name="sender", name="meta_phone_number_id"),
        migrations.RemoveField(model_name="sender", name="meta_access_token"),
        migrations.RemoveField(model_name="sender", name="meta_app_secret"),
        migrations.AlterField(model_name="sender", name="provider", field=models.CharField(max_length=16)),
        migrations.AddConstraint(
            model_name="sender",
            constraint=models.UniqueConstraint(
                condition=models.Q(("routing_id", ""), _negated=True),
                fields=("provider", "routing_id"),
                name="uniq_sender_routing_id",
            ),
        ),
    ]
