"""providers.twilio's HTTP client: the twilio SDK's requests carried on one urllib3 pool per process (no
requests session), shared by every thread of the outbound pool, each thread getting its own answer."""

from __future__ import annotations

import base64
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from providers import twilio
from providers.content import OutboundContent
from tests.fakes.twilio_api import FakeTwilio

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "f" * 32


@dataclass
class _Sender:
    phone_number: str = "+15550002222"
    credentials: dict = field(default_factory=lambda: {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN})


@pytest.fixture
def kept_alive_twilio(settings):
    server = FakeTwilio(keep_alive=True).start()  # as Twilio's API: the pool's connections stay open
    settings.TWILIO_API_BASE_URL = server.base_url
    yield server
    server.stop()


def test_a_send_carries_the_sdks_form_and_basic_auth(kept_alive_twilio):
    content = dataclasses.replace(
        OutboundContent.text("مرحبا، طلبك جاهز"), media_url="https://media.example.com/menu.jpg"
    )
    result = twilio.send(
        sender=_Sender(),
        to="+966501234567",
        content=content,
        status_callback_url="https://sufrah.example.com/webhooks/twilio/status/",
    )
    [request] = kept_alive_twilio.state.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request["form"] == {
        "To": "whatsapp:+966501234567",
        "From": "whatsapp:+15550002222",
        "Body": "مرحبا، طلبك جاهز",
        "MediaUrl": "https://media.example.com/menu.jpg",
        "StatusCallback": "https://sufrah.example.com/webhooks/twilio/status/",
    }
    [sent] = kept_alive_twilio.sent
    assert result.provider_message_id == sent["sid"] and result.status == "queued"


def test_threads_share_the_pool_and_each_gets_its_own_answer(kept_alive_twilio):
    """16 threads sending at once, as the outbound pool does: every send is recorded with the sid Twilio
    gave that very request (a shared client that kept the last response would hand one send another's)."""
    results: dict[str, str] = {}
    lock = threading.Lock()

    def sender_thread(k: int) -> None:
        for n in range(10):
            to = f"+9665{k:02d}{n:06d}"
            result = twilio.send(sender=_Sender(), to=to, content=OutboundContent.text(f"order {k}-{n}"))
            with lock:
                results[to] = result.provider_message_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(sender_thread, range(16)))  # a thread's exception is raised here
    given = {record["to"].removeprefix("whatsapp:"): record["sid"] for record in kept_alive_twilio.sent}
    assert len(given) == len(results) == 160
    assert results == given
