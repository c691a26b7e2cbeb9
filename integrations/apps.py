from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (the API key's OpenAPI security scheme, a drf-spectacular extension)
