from django.apps import AppConfig


class RestaurantsConfig(AppConfig):
    name = "restaurants"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers; Django's documented place for it)
