from django.db import migrations, models
from django.db.models import F


def copy_phone(apps, schema_editor):
    apps.get_model("conversations", "Conversation").objects.update(customer_id=F("customer_phone"))


class Migration(migrations.Migration):
    """Conversations key on the customer's WhatsApp identity (a number, or a business-scoped user id)."""

    dependencies = [("conversations", "0003_message_next_attempt")]

    operations = [
        migrations.AddField(
            model_name="conversation", name="customer_id", field=models.CharField(default="", max_length=160),
            preserve_default=False,
        ),
        migrations.RunPython(copy_phone, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="conversation", name="uniq_conversation_customer"),
        migrations.AlterField(
            model_name="conversation", name="customer_phone", field=models.CharField(blank=True, max_length=32)
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.UniqueConstraint(fields=("restaurant", "customer_id"), name="uniq_conversation_customer_id"),
        ),
    ]
