from django.apps import AppConfig


class TemplatesConfig(AppConfig):
    name = "templates"
    label = "message_templates"
    verbose_name = "Message templates"
