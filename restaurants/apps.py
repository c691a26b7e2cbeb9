from django.apps import AppConfig


class RestaurantsConfig(AppConfig):
    name = "restaurants"

    def ready(self) -> None:
        from . import routing, signals  # noqa: F401  (connect the receivers; Django's documented place for it)
