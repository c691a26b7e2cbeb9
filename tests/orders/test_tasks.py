"""The rating-prompt sweep as the beat (and the embedded loop) runs it."""

from __future__ import annotations

import pytest
from django.conf import settings

from orders.models import RatingPrompt
from orders.tasks import send_due_prompts
from sufrahbot.sweeps import run_due_sweeps_once

from .factories import order_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_beat_schedule_runs_the_prompt_sweep_every_30_seconds():
    assert settings.CELERY_BEAT_SCHEDULE["send-due-rating-prompts"] == {
        "task": "orders.tasks.send_due_prompts",
        "schedule": 30.0,
    }


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
