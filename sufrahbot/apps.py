from django.apps import AppConfig
from django.core.signals import request_finished, request_started

from sufrahbot.db import connections_mark_released, connections_trust_recent


def _request_started(**kwargs) -> None:
    connections_trust_recent()


def _request_finished(**kwargs) -> None:
    connections_mark_released()


class SufrahbotConfig(AppConfig):
    name = "sufrahbot"
    verbose_name = "Sufrah"

    def ready(self) -> None:
        # After Django's own close_old_connections on both signals (connected when django.db is imported).
        request_started.connect(_request_started, dispatch_uid="sufrah-trust-recent-connections")
        request_finished.connect(_request_finished, dispatch_uid="sufrah-mark-released-connections")
