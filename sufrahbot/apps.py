from django.apps import AppConfig


class SufrahbotConfig(AppConfig):
    name = "sufrahbot"
    verbose_name = "Sufrah"
