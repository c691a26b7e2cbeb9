from django.db import migrations, models


def copy_bodies(apps, schema_editor):
    WebhookEvent = apps.get_model("webhooks", "WebhookEvent")
    for event in WebhookEvent.objects.only("pk", "body").iterator():
        raw = (event.body or "").encode()
        WebhookEvent.objects.filter(pk=event.pk).update(body_raw=raw, body_size=len(raw))


def copy_bodies_back(apps, schema_editor):
    WebhookEvent = apps.get_model("webhooks", "WebhookEvent")
    for event in WebhookEvent.objects.only("pk", "body_raw").iterator():
        text = bytes(event.body_raw).decode("utf-8", errors="replace").replace("\x00", "")
        WebhookEvent.objects.filter(pk=event.pk).update(body=text)


class Migration(migrations.Migration):
    """The body is stored as the bytes received (a NUL byte or invalid UTF-8 round-trips); per-item outcomes
    and the provider's own errors are recorded on the event."""

    dependencies = [("webhooks", "0001_initial")]

    operations = [
        # Copied through Python: a cast would read backslashes in JSON ("\u0623") as bytea escapes.
        migrations.AddField(model_name="webhookevent", name="body_raw", field=models.BinaryField(blank=True, default=b"")),
        migrations.AddField(model_name="webhookevent", name="body_size", field=models.PositiveIntegerField(default=0, help_text="Bytes received (the stored body may be cut).")),
        migrations.RunPython(copy_bodies, copy_bodies_back),
        migrations.RemoveField(model_name="webhookevent", name="body"),
        migrations.RenameField(model_name="webhookevent", old_name="body_raw", new_name="body"),
        migrations.AddField(model_name="webhookevent", name="body_truncated", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="webhookevent", name="items", field=models.JSONField(blank=True, default=list)),
        migrations.AddField(model_name="webhookevent", name="provider_errors", field=models.JSONField(blank=True, default=list)),
    ]
