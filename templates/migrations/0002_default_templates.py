"""Every existing restaurant gets the default rating and order-status templates, in Arabic and English, as
drafts (restaurants created later get them from template_defaults_ensure)."""

from django.db import migrations

from templates.defaults import default_templates


def seed(apps, schema_editor):  # noqa: ARG001
    Restaurant = apps.get_model("restaurants", "Restaurant")  # noqa: N806
    MessageTemplate = apps.get_model("message_templates", "MessageTemplate")  # noqa: N806
    TemplateVersion = apps.get_model("message_templates", "TemplateVersion")  # noqa: N806
    for restaurant in Restaurant.objects.all():
        for fields in default_templates():
            template, created = MessageTemplate.objects.get_or_create(
                restaurant=restaurant, name=fields["name"], language=fields["language"], defaults=fields
            )
            if created:
                content = {k: fields.get(k, "") for k in ("name", "language", "category", "body", "buttons", "examples")}
                TemplateVersion.objects.create(
                    template=template, version=1, content=content, status="draft", note="created"
                )


class Migration(migrations.Migration):
    dependencies = [("message_templates", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
