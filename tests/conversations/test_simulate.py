"""`manage.py simulate`: a person chats with the bot in the terminal, through the real signed webhook."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from conversations.models import Conversation, Message
from orders.models import Order
from restaurants.management.commands.seed_demo import DEMO_SLUG
from tests.factories import RestaurantFactory, SenderFactory
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_SCRIPT = """\
# a delivery order of two Shish Tawook, typed the way a person would
hi
1
1
1
2
2
1
/location 24.7136,46.6753 Olaya St
1
"""
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def simulate(tmp_path, script: str, **options) -> str:
    path = tmp_path / "script.txt"
    path.write_text(script, encoding="utf-8")
    out = StringIO()
    call_command("simulate", restaurant=DEMO_SLUG, script=str(path), stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_a_scripted_chat_on_the_demo_restaurant_prints_numbered_options_and_places_an_order(tmp_path):
    call_command("seed_demo", stdout=StringIO())

    output = simulate(tmp_path, ORDER_SCRIPT, phone="+966 50 111 2233")

    assert "you> hi" in output and "bot> Welcome to Sufrah Kitchen! 🍽️" in output
    assert "1. Order\n     2. My orders\n     3. Help" in output
    assert "1. Grills\n     2. Mains\n     3. Drinks" in output
    assert "2 × Shish Tawook — 64.00 SAR" in output and "Total: 74.00 SAR" in output
    order = Order.objects.get()
    confirmed = f"bot> ✅ Your order #{order.number} from Sufrah Kitchen is confirmed (delivery). Total: 74.00 SAR."
    assert confirmed in output
    assert order.conversation.customer_phone == "+966501112233"
    assert (order.latitude, order.longitude, order.address) == (24.7136, 46.6753, "Olaya St")
    # Each line was a real, signed, stored and processed webhook (comments and blank lines are not sent).
    assert set(WebhookEvent.objects.values_list("status", "signature_valid")) == {("processed", True)}
    assert WebhookEvent.objects.count() == 9
    assert Message.objects.filter(direction="out").exclude(status="delivered").count() == 0


def test_lang_sets_the_customers_language_before_they_write(tmp_path):
    call_command("seed_demo", stdout=StringIO())

    output = simulate(tmp_path, "1\n1\n", lang="ar")

    assert "bot> أهلاً بك في مطبخ سفرة! 🍽️" in output and "1. اطلب الآن" in output
    assert "1. مشويات" in output
    assert Conversation.objects.get().language == "ar"


def test_after_help_the_simulator_says_the_bot_is_paused(tmp_path):
    call_command("seed_demo", stdout=StringIO())

    output = simulate(tmp_path, "hello\n3\nis anyone there?\n")

    assert "A member of staff will reply here shortly." in output
    assert output.rstrip().endswith("(the bot is paused for this conversation: staff will answer)")


def test_it_prefers_a_console_sender_and_refuses_restaurants_it_cannot_simulate(tmp_path):
    restaurant = RestaurantFactory(slug="two-senders")
    SenderFactory(restaurant=restaurant, provider="twilio")
    console = SenderFactory(
        restaurant=restaurant, provider="console", credentials={"auth_token": "console-secret-0001"}
    )
    path = tmp_path / "s.txt"
    path.write_text("hi\n", encoding="utf-8")
    out = StringIO()
    call_command("simulate", restaurant="two-senders", script=str(path), stdout=out, stderr=StringIO())
    assert f"on {console.phone_number} (console)" in out.getvalue()
    assert Conversation.objects.get().sender == console

    with pytest.raises(CommandError, match="No restaurant"):
        call_command("simulate", restaurant="nope", script=str(path), stdout=StringIO())
    SenderFactory(restaurant=RestaurantFactory(slug="meta-only"), provider="meta")
    with pytest.raises(CommandError, match="no active console or Twilio sender"):
        call_command("simulate", restaurant="meta-only", script=str(path), stdout=StringIO())


@pytest.mark.worker
def test_with_a_real_worker_the_simulator_waits_for_the_asynchronous_replies(tmp_path, settings):
    from tests.test_worker import real_worker

    call_command("seed_demo", stdout=StringIO())
    with real_worker(settings):
        output = simulate(tmp_path, ORDER_SCRIPT)

    assert "1. Order\n     2. My orders\n     3. Help" in output
    assert f"Your order #{Order.objects.get().number} from Sufrah Kitchen is confirmed" in output
    assert "no answer yet" not in output


def test_on_the_embedded_default_without_postgres_or_redis(tmp_path):
    """A separate process on SQLite with in-process tasks, reading the chat from stdin."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(SQLITE_PATH=str(tmp_path / "embedded.sqlite3"), PYTHONPATH=str(PROJECT_ROOT))

    def manage(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    manage("migrate", "-v", "0")
    manage("seed_demo")
    output = manage("simulate", "--restaurant", DEMO_SLUG, stdin=ORDER_SCRIPT)

    assert "1. Order\n     2. My orders\n     3. Help" in output
    assert "bot> ✅ Your order #1001 from Sufrah Kitchen is confirmed (delivery). Total: 74.00 SAR." in output
