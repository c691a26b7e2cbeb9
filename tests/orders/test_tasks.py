"""The rating-prompt sweep as the beat (and the embedded loop) runs it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from orders.models import RatingPrompt
from orders.tasks import send_due_prompts
from sufrahbot.sweeps import run_due_sweeps_once

from .factories import order_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_beat_entry_names_the_task_it_imports_and_the_prompt_sweep_is_scheduled():
    # Beat sends a task by its name and the worker runs what is registered under that name: an entry whose
    # path is not the task's registered name would never run.
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert import_string(entry["task"]).name == entry["task"], name
        assert entry["schedule"] > 0, name
    assert settings.CELERY_BEAT_SCHEDULE["send-due-rating-prompts"]["task"] == send_due_prompts.name


def test_the_task_sends_due_prompts_and_a_second_run_sends_none(fake_twilio):
    orders = [order_in("DELIVERED"), order_in("DELIVERED")]

    assert send_due_prompts.delay().get() == 2
    assert send_due_prompts.delay().get() == 0

    assert list(RatingPrompt.objects.values_list("status", flat=True)) == ["SENT", "SENT"]
    assert sum("How was" in m["body"] for m in fake_twilio.sent) == len(orders)


def test_the_embedded_sweep_loop_sends_prompts_once(fake_twilio):
    order = order_in("DELIVERED")

    first, second = run_due_sweeps_once(), run_due_sweeps_once()

    assert (first["send-due-rating-prompts"], second["send-due-rating-prompts"]) == (1, 0)
    assert RatingPrompt.objects.get(order=order).status == "SENT"
