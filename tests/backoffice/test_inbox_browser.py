"""The inbox in a real browser: headless Chromium (Debian's package) driven by Playwright, against the ASGI
server (uvicorn, in a thread of this process, on PostgreSQL and the Redis channel layer).

A signed webhook makes the customer's message appear without a reload; a reply typed in the page is stored
and queued (and pauses the bot); an order moved in another tab updates the page. Screenshots of what staff
see go to $SUFRAH_SCREENSHOTS (or the test's tmp dir).

Playwright's own browser downloads are never used: the test launches /usr/bin/chromium, which .ci/run
installs with apt-get. Without it the test skips and says why.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from conversations.models import Conversation, Message
from orders.models import Order
from providers import twilio as twilio_provider
from restaurants.models import StaffMembership
from tests.conftest import PUBLIC_BASE_URL, twilio_inbound_params
from tests.factories import ConsoleSenderFactory, RestaurantFactory, UserFactory
from tests.orders.factories import placed_order

CHROMIUM = os.environ.get("SUFRAH_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "pass-word-123"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _playwright():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (Debian's chromium package; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright  # optional at import time: skip, not error
    except ImportError:
        pytest.skip("no browser driver: the playwright package is not installed (requirements-dev.lock has it)")
    return sync_playwright


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SUFRAH_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _webhook(base_url: str, sender, *, phone: str, body: str) -> None:
    params = twilio_inbound_params(sender=sender, from_number=phone, body=body, sid="SM" + uuid.uuid4().hex)
    webhook = twilio_provider.webhook_forge(
        auth_token=sender.credentials["auth_token"], public_base_url=PUBLIC_BASE_URL, params=params
    )
    response = httpx.post(base_url + webhook.path, content=webhook.body, headers=webhook.headers, timeout=10)
    assert response.status_code == 200, response.text


def _login(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert page.url == base_url + "/admin/", page.inner_text("body")[:500]


def test_the_inbox_is_live_replies_are_queued_and_orders_update(server, shots, monkeypatch):
    sync_playwright = _playwright()
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls are plain
    # sync code between browser steps (Django's documented escape hatch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    restaurant = RestaurantFactory(name_en="Layali Grill", name_ar="مشويات ليالي", brand_color="#7c2d12")
    sender = ConsoleSenderFactory(restaurant=restaurant)
    staff = UserFactory(username="agent-layla")
    StaffMembership.objects.create(user=staff, restaurant=restaurant, role="ADMIN")
    phone = "+966501112233"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        _login(page, server, staff.username)
        page.goto(server + "/admin/inbox/")
        page.wait_for_selector("#inbox-live[data-state=live]", timeout=15000)
        page.evaluate("window.__notReloaded = true")

        # 1. A customer writes: the conversation shows up in the list, without a reload.
        _webhook(server, sender, phone=phone, body="مرحبا، أبغى أطلب")
        page.wait_for_selector("#inbox-list li[data-id]", timeout=15000)
        conversation = Conversation.objects.get(restaurant=restaurant, customer_phone=phone)
        page.click(f"#inbox-list li[data-id='{conversation.pk}']")
        page.wait_for_selector("#thread-messages li.in", timeout=10000)

        # An order placed by this customer, then a second message: the thread grows live.
        order = placed_order(conversation=conversation)
        _webhook(server, sender, phone=phone, body="وين طلبي؟")
        arabic = page.wait_for_selector("#thread-messages li.in >> text=وين طلبي؟", timeout=15000)
        assert arabic.evaluate("e => getComputedStyle(e).direction === 'rtl' || e.matches(':dir(rtl)')")
        assert page.evaluate("window.__notReloaded") is True
        page.wait_for_selector(f"#thread-orders a[data-order='{order.pk}']", timeout=10000)
        page.screenshot(path=str(shots / "inbox.png"), full_page=True)

        # 2. A reply typed in the page is stored, queued through conversation_reply, and pauses the bot.
        page.fill("#reply-body", "Your order is on the stove, ten minutes.")
        page.click("#reply-send")
        page.wait_for_selector("#thread-messages li.out.staff >> text=Your order is on the stove", timeout=15000)
        reply = Message.objects.get(conversation=conversation, sent_by=staff)
        assert reply.direction == "out" and reply.body == "Your order is on the stove, ten minutes."
        assert reply.status in ("queued", "sending", "sent", "delivered")
        conversation.refresh_from_db()
        assert conversation.bot_paused is True
        page.wait_for_selector("#thread-state >> text=bot paused", timeout=10000)

        # 2b. An image picked in the reply box goes out with the text as its caption and shows in the thread
        # (loaded with the staff token, not from a public URL).
        image = io.BytesIO()
        Image.new("RGB", (120, 90), (200, 60, 20)).save(image, "PNG")
        page.set_input_files(
            "#reply-file", files=[{"name": "dish.png", "mimeType": "image/png", "buffer": image.getvalue()}]
        )
        page.fill("#reply-body", "Today's special")
        page.click("#reply-send")
        page.wait_for_selector("#thread-messages li.out.staff .inbox-file img[src^='blob:']", timeout=15000)
        sent = Message.objects.get(conversation=conversation, sent_by=staff, kind="image")
        assert sent.body == "Today's special" and sent.media_files.get().content_type == "image/png"
        page.screenshot(path=str(shots / "inbox_image.png"), full_page=True)

        # 3. The order moves in another tab (the admin's order page button): this page follows.
        other = context.new_page()
        other.goto(f"{server}/admin/orders/order/{order.pk}/change/")
        other.screenshot(path=str(shots / "order_page.png"), full_page=True)
        other.click("button[value=PREPARING]")
        other.wait_for_selector(".messagelist .success", timeout=10000)
        assert Order.objects.get(pk=order.pk).status == "PREPARING"
        page.wait_for_selector(
            f"#thread-orders a[data-order='{order.pk}'] .order-status >> text=Preparing", timeout=15000
        )
        assert page.evaluate("window.__notReloaded") is True

        # Resume the bot and resolve from the page.
        page.click("#btn-resume")
        page.wait_for_selector("#thread-state >> text=bot answering", timeout=10000)
        page.click("#btn-resolve")
        page.wait_for_selector("#btn-reopen:visible", timeout=10000)
        conversation.refresh_from_db()
        assert (conversation.bot_paused, conversation.status) == (False, "resolved")
        page.screenshot(path=str(shots / "inbox_resolved.png"), full_page=True)

        # The lists staff use fit a 1,366-pixel screen (no sideways scrolling).
        for name, path in (
            ("orders", "/admin/orders/order/"),
            ("conversations", "/admin/conversations/conversation/"),
            ("messages", "/admin/conversations/message/"),
            ("conversation", f"/admin/conversations/conversation/{conversation.pk}/change/"),
            ("index", "/admin/"),
            ("analytics", f"/admin/analytics/{restaurant.pk}/"),
        ):
            other.goto(server + path)
            other.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            width = other.evaluate("document.documentElement.scrollWidth")
            assert width <= 1366, (path, width)
        browser.close()


def test_a_template_is_picked_filled_previewed_and_sent_outside_the_window(server, shots, monkeypatch):
    """The customer last wrote two days ago: free text is refused (the API's 409, shown on the page), an
    approved template with its variables filled goes out through the same messages endpoint."""
    sync_playwright = _playwright()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from datetime import timedelta

    from django.utils import timezone

    from templates.services import template_create, template_submit

    restaurant = RestaurantFactory(name_en="Layali Grill", name_ar="مشويات ليالي")
    sender = ConsoleSenderFactory(restaurant=restaurant)
    staff = UserFactory(username="agent-sara")
    StaffMembership.objects.create(user=staff, restaurant=restaurant, role="AGENT")
    template = template_create(
        restaurant=restaurant,
        data={
            "name": "come_back",
            "language": "en",
            "category": "MARKETING",
            "body": "Hi {{name}}, {{offer}} on your next order.",
            "examples": {"name": "Sara", "offer": "10% off"},
        },
    )
    assert template_submit(template=template).status == "approved"  # the console provider approves at once
    phone = "+966501112244"
    _webhook(server, sender, phone=phone, body="hello")
    conversation = Conversation.objects.get(restaurant=restaurant, customer_phone=phone)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=2))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        _login(page, server, staff.username)
        page.goto(f"{server}/admin/inbox/?restaurant={restaurant.pk}&conversation={conversation.pk}")
        page.wait_for_selector("#template-window >> text=window is closed", timeout=15000)
        assert page.evaluate("document.getElementById('template-box').open") is True

        # Free text outside the window: refused by the API, and the page says so.
        page.fill("#reply-body", "Are you still there?")
        page.click("#reply-send")
        page.wait_for_selector("#reply-error:visible", timeout=10000)
        assert "Not sent" in page.inner_text("#reply-error")

        # Pick the template: one input per variable; the preview is the API's rendering.
        page.wait_for_selector(f"#template-pick option[value='{template.pk}']", state="attached", timeout=10000)
        page.select_option("#template-pick", str(template.pk))
        page.wait_for_selector("#template-vars input[data-name=name]", timeout=10000)
        assert page.is_disabled("#template-send")
        page.fill("#template-vars input[data-name=name]", "Layla")
        page.fill("#template-vars input[data-name=offer]", "a free dessert")
        page.wait_for_selector("#template-preview >> text=Hi Layla, a free dessert on your next order.", timeout=10000)
        page.screenshot(path=str(shots / "inbox_template.png"), full_page=True)
        page.click("#template-send")
        page.wait_for_selector(
            "#thread-messages li.out.staff >> text=Hi Layla, a free dessert on your next order.", timeout=15000
        )
        browser.close()

    sent = Message.objects.get(conversation=conversation, sent_by=staff)
    assert sent.kind == "template" and sent.body == "Hi Layla, a free dessert on your next order."
    assert sent.status in ("queued", "sending", "sent", "delivered")
    assert not Message.objects.filter(conversation=conversation, body="Are you still there?").exists()
