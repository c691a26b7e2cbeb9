"""Every fixture under tests/fixtures/ (written from Meta's and Twilio's documented webhook payloads) is posted
through the real route, signed, and what is stored is checked: each message type keeps its content, numbers
are taken as WhatsApp sends them, unknown statuses and ids are recorded and skipped, and the bot stays quiet
on events."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conversations.models import Conversation, Message
from providers import meta, twilio
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ConversationFactory, SenderFactory
from tests.fakes.meta_graph import FakeMetaGraph
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).parent.parent / "fixtures"
APP_SECRET = "fixture-app-secret"
ACCESS_TOKEN = "EAAfixture" + "x" * 30
NUMBER_ID = "106540352242922"
META_NUMBER = "+15550783881"
TWILIO_NUMBER = "+14155238886"


@pytest.fixture
def graph(settings):
    server = FakeMetaGraph(ACCESS_TOKEN).start()
    settings.META_GRAPH_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture
def meta_sender(graph):
    return SenderFactory(
        provider="meta",
        phone_number=META_NUMBER,
        credentials={"phone_number_id": NUMBER_ID, "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        routing_id=NUMBER_ID,
    )


def post_meta(client, name: str):
    body = (FIXTURES / "meta" / f"{name}.json").read_bytes()
    return client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=APP_SECRET, body=body),
    )


def inbound(wamid_suffix: str) -> Message:
    return Message.objects.get(direction="in", provider_message_id__endswith=wamid_suffix)


def replies() -> int:
    return Message.objects.filter(direction="out").count()


W = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA"


def outbound(sender, wamid: str, status: str = "sent") -> Message:
    conversation = ConversationFactory(sender=sender, restaurant=sender.restaurant)
    return Message.objects.create(
        restaurant=sender.restaurant,
        conversation=conversation,
        direction="out",
        provider="meta",
        provider_message_id=wamid,
        status=status,
        status_rank={"sent": 3, "delivered": 4}[status],
    )


# name → (what to set up, what must be stored). Every fixture file has an entry (test below).
def _text_reply_context(sender):
    m = inbound("01")
    assert m.body == "Is the kabsa still available?"
    assert m.content["context"] == {
        "from": "15550783881",
        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QTRCNjY5MkFBRkUzQjQ3NDIA",
    }
    assert m.conversation.customer_id == "+16505551234" and m.conversation.customer_name == "Sheena Nelson"
    assert replies() >= 1  # a conversational message gets an answer


def _text_forwarded(sender):
    assert inbound("02").content["context"] == {"forwarded": True}


def _reaction(sender):
    m = inbound("03")
    assert (m.kind, m.body) == ("reaction", "❤️")
    assert m.content["reaction"] == {
        "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QTRCNjY5MkFBRkUzQjQ3NDIA",
        "emoji": "❤️",
    }
    assert replies() == 0  # no "Sorry, I didn't get that" to an emoji


def _reaction_removed(sender):
    m = inbound("04")
    assert m.kind == "reaction" and m.content["reaction"]["emoji"] == "" and m.body == "(reaction removed)"
    assert replies() == 0


def _contacts(sender):
    m = inbound("05")
    (card,) = m.content["contacts"]
    assert m.kind == "contacts" and m.body == "👤 Barbara J. Johnson"
    assert card["name"]["formatted_name"] == "Barbara J. Johnson"
    assert card["phones"] == [{"phone": "+1 (650) 555-1234", "wa_id": "16505551234", "type": "WORK"}]
    assert card["emails"][0]["email"] == "bjohnson@example.com" and card["org"]["company"] == "Example, Inc."
    assert card["addresses"][0]["city"] == "Menlo Park" and card["birthday"] == "1999-01-23"


def _order(sender):
    m = inbound("06")
    assert m.kind == "order" and m.content["catalog_id"] == "194836987003835"
    assert m.content["text"] == "Please deliver before 8"
    assert m.content["items"] == [
        {"product_retailer_id": "item-1", "quantity": 2, "item_price": "38", "currency": "SAR"},
        {"product_retailer_id": "item-2", "quantity": 1, "item_price": "12.5", "currency": "SAR"},
    ]


def _location(sender):
    m = inbound("07")
    assert m.kind == "location"
    assert m.content["location"] == {
        "name": "Main Office",
        "address": "1 Hacker Way, Menlo Park, CA 94025",
        "url": "https://www.meta.com",
        "latitude": 37.483307,
        "longitude": -122.148981,
    }


def _document(sender):
    m = inbound("08")
    (media,) = m.content["media"]
    assert m.kind == "media" and m.body == "Our event menu"
    assert media == {
        "type": "document",
        "id": "1003383421387256",
        "content_type": "application/pdf",
        "sha256": "TTjcnDeCz0ybfQdNYHhd8bJzn2bqXVc8lBLA7Q8Gf4w=",
        "filename": "menu.pdf",
    }


def _audio_voice(sender):
    (media,) = inbound("09").content["media"]
    assert media["type"] == "audio" and media["voice"] is True and media["content_type"] == "audio/ogg; codecs=opus"


def _sticker(sender):
    (media,) = inbound("10").content["media"]
    assert media["type"] == "sticker" and media["animated"] is False


def _image_referral(sender):
    m = inbound("11")
    assert m.content["media"][0]["type"] == "image" and m.body == "Is this on the menu?"
    assert m.content["referral"]["source_id"] == "120226305854810726"
    assert m.content["referral"]["headline"] == "Sufrah Kitchen" and m.content["referral"]["source_type"] == "ad"
    assert m.content["referral"]["ctwa_clid"].startswith("ARAkLkA8rmlF")


def _nfm_reply(sender):
    m = inbound("12")
    assert m.content["flow"] == {
        "name": "flow",
        "response": {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "delivery_time": "19:30", "notes": "no onions"},
    }
    assert m.content["context"]["id"].startswith("wamid.")


def _button_template_reply(sender):
    m = inbound("13")
    assert (m.kind, m.body, m.content["reply_id"]) == ("interactive", "Excellent", "rate:5")
    assert m.content["button"] == {"payload": "rate:5", "text": "Excellent"} and m.content["context"]["id"]


def _interactive_button_reply(sender):
    m = inbound("14")
    assert m.content["reply"] == {"type": "button_reply", "id": "menu:order", "title": "Order"}


def _interactive_list_reply(sender):
    m = inbound("15")
    assert m.content["reply"] == {
        "type": "list_reply",
        "id": "item:7",
        "title": "Kabsa",
        "description": "Rice and lamb",
    }


def _system_user_changed_number(sender):
    m = inbound("16")
    assert m.kind == "system" and m.content["system_type"] == "user_changed_number"
    # The conversation follows the customer to the new number.
    assert (m.conversation.customer_id, m.conversation.customer_phone) == ("+16505559999", "+16505559999")
    assert replies() == 0


def _setup_edit(client, sender):
    assert post_meta(client, "text_reply_context").status_code == 200


def _edit(sender):
    original, edit = inbound("01"), inbound("17")
    assert edit.kind == "edit" and edit.body == "Is the lamb kabsa still available?"
    assert original.body == "Is the lamb kabsa still available?"
    assert original.content["original_body"] == "Is the kabsa still available?"
    assert original.content["edited_by"] == edit.provider_message_id
    assert Message.objects.filter(direction="out").count() == 1  # the first message's answer only


def _setup_revoke(client, sender):
    assert post_meta(client, "text_forwarded").status_code == 200


def _revoke(sender):
    original = inbound("02")
    assert original.content["revoked"] is True and inbound("18").kind == "revoke"
    assert Message.objects.filter(direction="out").count() == 1


def _unsupported(sender):
    m = inbound("19")
    assert m.kind == "unsupported" and m.content["unsupported"]["type"] == "poll"
    assert m.content["errors"][0]["code"] == "131051"
    assert m.content["errors"][0]["details"] == "Message type is currently not supported."


def _media_error(sender):
    m = inbound("20")
    assert m.kind == "media" and m.content["errors"][0]["code"] == "131052"


def _value_errors(sender):
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.provider_errors[0]["code"] == "130429"
    assert event.provider_errors[0]["details"] == "Cloud API message throughput has been reached."


def _setup_status_failed(client, sender):
    outbound(sender, "wamid.OUT-FAILED")


def _status_failed(sender):
    m = Message.objects.get(provider_message_id="wamid.OUT-FAILED")
    assert (m.status, m.error_code, m.error_message) == ("failed", "131047", "Re-engagement message")
    (item,) = WebhookEvent.objects.get().items
    assert item["outcome"] == "applied" and item["errors"][0]["code"] == "131047"
    assert item["errors"][0]["details"].startswith("Message failed to send because more than 24 hours")


def _setup_status_played(client, sender):
    outbound(sender, "wamid.OUT-VOICE", status="delivered")


def _status_played(sender):
    assert Message.objects.get(provider_message_id="wamid.OUT-VOICE").status == "delivered"
    (item,) = WebhookEvent.objects.get().items
    assert (item["outcome"], item["reason"]) == ("skipped", "unknown status 'played'")


def _status_unknown_id(sender):
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and event.items[0]["outcome"] == "skipped"
    assert event.items[0]["reason"] == "not a message of ours"


def _mexico_521(sender):
    # WhatsApp's Mexican wa_id 521 + 10 digits is +52 + the 10 digits.
    conversation = Conversation.objects.get()
    assert (conversation.customer_id, conversation.customer_phone) == ("+525512345678", "+525512345678")
    assert inbound("21").body == "Hola, quiero ordenar"


def _argentina_549(sender):
    assert Conversation.objects.get().customer_phone == "+5491155551234"


def _bsuid_only(sender):
    m = inbound("23")
    assert (m.conversation.customer_id, m.conversation.customer_phone) == ("US.13491208655302741918", "")
    assert m.conversation.customer_name == "Bob"


def _unparseable_number(sender):
    # Not a possible number, but never a reason to refuse: kept as given.
    assert Conversation.objects.get().customer_id == "+999123" and inbound("24").body == "hello"


def _setup_batch_mixed(client, sender):
    outbound(sender, "wamid.OUT-VOICE", status="delivered")


def _batch_mixed(sender):
    assert {m.body for m in Message.objects.filter(direction="in")} == {"first", "second"}
    event = WebhookEvent.objects.get()
    assert event.status == "processed"
    assert [(i["type"], i["outcome"]) for i in event.items] == [
        ("message", "stored"),
        ("message", "stored"),
        ("status", "skipped"),
        ("status", "skipped"),
    ]


META_CASES = {
    "text_reply_context": (None, _text_reply_context),
    "text_forwarded": (None, _text_forwarded),
    "reaction": (None, _reaction),
    "reaction_removed": (None, _reaction_removed),
    "contacts": (None, _contacts),
    "order": (None, _order),
    "location": (None, _location),
    "document": (None, _document),
    "audio_voice": (None, _audio_voice),
    "sticker": (None, _sticker),
    "image_referral": (None, _image_referral),
    "nfm_reply": (None, _nfm_reply),
    "button_template_reply": (None, _button_template_reply),
    "interactive_button_reply": (None, _interactive_button_reply),
    "interactive_list_reply": (None, _interactive_list_reply),
    "system_user_changed_number": (None, _system_user_changed_number),
    "edit": (_setup_edit, _edit),
    "revoke": (_setup_revoke, _revoke),
    "unsupported": (None, _unsupported),
    "media_error": (None, _media_error),
    "value_errors": (None, _value_errors),
    "status_failed": (_setup_status_failed, _status_failed),
    "status_played": (_setup_status_played, _status_played),
    "status_unknown_id": (None, _status_unknown_id),
    "mexico_521": (None, _mexico_521),
    "argentina_549": (None, _argentina_549),
    "bsuid_only": (None, _bsuid_only),
    "unparseable_number": (None, _unparseable_number),
    "batch_mixed": (_setup_batch_mixed, _batch_mixed),
}


def test_every_fixture_has_a_case():
    assert sorted(p.stem for p in (FIXTURES / "meta").glob("*.json")) == sorted(META_CASES)
    assert sorted(p.stem for p in (FIXTURES / "twilio").glob("*.txt")) == sorted(TWILIO_CASES)


@pytest.mark.parametrize("name", sorted(META_CASES))
def test_meta_fixture_is_accepted_and_stored_faithfully(client, meta_sender, name):
    setup, check = META_CASES[name]
    if setup:
        setup(client, meta_sender)
        WebhookEvent.objects.all().delete()
    response = post_meta(client, name)
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert event.status == "processed", (event.error, event.items)
    assert bytes(event.body) == (FIXTURES / "meta" / f"{name}.json").read_bytes()  # stored as received
    check(meta_sender)


# --- Twilio ----------------------------------------------------------------------------------------------


def twilio_params(name: str, sender) -> dict[str, str]:
    lines = (FIXTURES / "twilio" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    params = dict(line.split("=", 1) for line in lines if line)
    params["AccountSid"] = sender.credentials["account_sid"]
    return params


def post_twilio(client, sender, params: dict, path: str):
    signature = twilio.sign(auth_token=sender.credentials["auth_token"], url=PUBLIC_BASE_URL + path, params=params)
    return client.post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def _t_text(sender):
    m = Message.objects.get(direction="in")
    assert m.body == "مرحبا" and m.conversation.customer_id == "+966508034010"


def _t_location(sender):
    m = Message.objects.get(direction="in")
    assert m.content["location"] == {
        "name": "Office",
        "address": "King Fahd Rd, Riyadh",
        "latitude": 24.7136,
        "longitude": 46.6753,
    }


def _t_media_document(sender):
    m = Message.objects.get(direction="in")
    assert m.kind == "media" and m.body == "our menu" and m.content["media"][0]["content_type"] == "application/pdf"


def _t_button_reply(sender):
    m = Message.objects.get(direction="in")
    assert m.content["reply_id"] == "menu:order" and m.content["button"] == {"payload": "menu:order", "text": "Order"}
    assert m.content["context"] == {"id": "SM" + "e" * 32, "from": "whatsapp:+14155238886"}


def _t_referral(sender):
    referral = Message.objects.get(direction="in").content["referral"]
    assert referral == {
        "source_id": "120226305854810726",
        "source_type": "ad",
        "source_url": "https://fb.me/3cr4Wqqkv",
        "headline": "Sufrah Kitchen",
        "body": "Order your iftar with one message",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
        "media_type": "image",
    }


def _t_bsuid(sender):
    conversation = Message.objects.get(direction="in").conversation
    assert (conversation.customer_id, conversation.customer_phone) == ("IN.1648738043044942", "")


def _t_mexico_521(sender):
    assert Message.objects.get(direction="in").conversation.customer_id == "+525512345678"


def _t_status(expected_status, expected_code=""):
    def check(sender):
        m = Message.objects.get(provider_message_id="SMOUT")
        assert (m.status, m.error_code) == (expected_status, expected_code)

    return check


def _t_status_unknown(sender):
    assert Message.objects.get(provider_message_id="SMOUT").status == "sent"
    assert WebhookEvent.objects.get().items[0]["reason"] == "unknown status 'teleported'"


TWILIO_CASES = {
    "text": _t_text,
    "location": _t_location,
    "media_document": _t_media_document,
    "button_reply": _t_button_reply,
    "referral": _t_referral,
    "bsuid": _t_bsuid,
    "mexico_521": _t_mexico_521,
    "status_read": _t_status("read"),
    "status_failed": _t_status("failed", "63016"),
    "status_unknown": _t_status_unknown,
}


@pytest.mark.parametrize("name", sorted(TWILIO_CASES))
def test_twilio_fixture_is_accepted_and_stored_faithfully(client, fake_twilio, name):
    sender = SenderFactory(phone_number=TWILIO_NUMBER)
    params = twilio_params(name, sender)
    path = "/webhooks/twilio/status/" if name.startswith("status_") else "/webhooks/twilio/"
    if name.startswith("status_"):
        conversation = ConversationFactory(sender=sender, restaurant=sender.restaurant)
        Message.objects.create(
            restaurant=sender.restaurant,
            conversation=conversation,
            direction="out",
            provider="twilio",
            provider_message_id="SMOUT",
            status="sent",
            status_rank=3,
        )
    response = post_twilio(client, sender, params, path)
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert event.status == "processed", (event.error, event.items)
    TWILIO_CASES[name](sender)


# --- malformed input: 400 with the error body, never a 500; stored so it round-trips ------------------


def _signed_meta(client, body: bytes):
    return client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=APP_SECRET, body=body),
    )


def _envelope(value) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": value}]}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(_envelope(5)).encode(),
        json.dumps(_envelope(["a string where a change object goes"])).encode(),
        json.dumps(_envelope([{"field": "messages", "value": "not an object"}])).encode(),
        json.dumps({"object": "whatsapp_business_account", "entry": "x"}).encode(),
        b"[" * 100_000 + b"]" * 100_000,
        b'{"object": "whatsapp_business_account", "entry": [\x00]}',
        b"\xff\xfe not utf-8",
        (FIXTURES / "meta" / "location.json").read_bytes().replace(b"37.483307", b"NaN"),
    ],
    ids=["changes-5", "string-for-change", "string-for-value", "entry-string", "deep", "nul", "not-utf8", "nan"],
)
def test_malformed_meta_input_is_400_with_the_error_body_and_stored_byte_for_byte(client, meta_sender, body):
    response = _signed_meta(client, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed"
    event = WebhookEvent.objects.get()
    assert event.status == "rejected" and bytes(event.body) == body
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [{"MessageSid": "SM\x00abc"}, {"Latitude": "NaN", "Longitude": "46.6"}, {"Latitude": "inf", "Longitude": "1"}],
    ids=["nul-in-sid", "nan-latitude", "inf-latitude"],
)
def test_malformed_twilio_input_is_400(client, extra):
    sender = SenderFactory(phone_number=TWILIO_NUMBER)
    params = {**twilio_params("text", sender), **extra}
    response = post_twilio(client, sender, params, "/webhooks/twilio/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed"
    assert WebhookEvent.objects.get().status == "rejected" and not Message.objects.exists()


def test_an_item_that_cannot_be_read_is_recorded_and_its_neighbours_stored(client, meta_sender):
    # 1e999 is valid JSON but no latitude; a message without an id is no message: both recorded, not fatal.
    payload = json.loads((FIXTURES / "meta" / "batch_mixed.json").read_bytes())
    messages = payload["entry"][0]["changes"][0]["value"]["messages"]
    location = json.loads((FIXTURES / "meta" / "location.json").read_bytes())["entry"][0]["changes"][0]["value"]
    messages.insert(0, location["messages"][0] | {"location": {"latitude": "1e999", "longitude": 1}})
    messages.insert(1, {"from": "16505551234", "type": "text", "text": {"body": "no id"}})
    response = _signed_meta(client, json.dumps(payload).encode())
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "processed"
    assert [(i["type"], i["outcome"]) for i in event.items][:4] == [
        ("unreadable", "skipped"),
        ("unreadable", "skipped"),
        ("message", "stored"),
        ("message", "stored"),
    ]
    assert "latitude" in event.items[0]["reason"] and "'id'" in event.items[1]["reason"]
    assert {m.body for m in Message.objects.filter(direction="in")} == {"first", "second"}


def test_a_failing_item_is_recorded_and_does_not_stop_the_others(client, meta_sender, monkeypatch):
    from webhooks import processing

    real = processing.message_receive

    def flaky(*, sender, inbound):
        if inbound.text == "first":
            raise RuntimeError("disk on fire")
        return real(sender=sender, inbound=inbound)

    monkeypatch.setattr(processing, "message_receive", flaky)
    assert post_meta(client, "batch_mixed").status_code == 200  # verified: answered 200 whatever happens next
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "disk on fire" in event.error
    assert [i["outcome"] for i in event.items] == ["failed", "stored", "skipped", "skipped"]
    assert [m.body for m in Message.objects.filter(direction="in")] == ["second"]
    # The replay (sweep or admin) stores what failed; what was stored is not stored twice.
    monkeypatch.setattr(processing, "message_receive", real)
    assert processing.webhook_event_process(event_id=event.pk) == "processed"
    assert sorted(m.body for m in Message.objects.filter(direction="in")) == ["first", "second"]
    assert [i["outcome"] for i in WebhookEvent.objects.get().items] == ["stored", "duplicate", "skipped", "skipped"]


def test_a_body_over_10_mb_is_413_with_an_audit_row(client, meta_sender):
    body = b'{"object": "whatsapp_business_account", "entry": [], "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = _signed_meta(client, body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    event = WebhookEvent.objects.get()
    assert event.status == "rejected" and event.body_size == len(body) and bytes(event.body) == b""


def test_the_signature_of_a_body_over_the_stored_limit_is_checked_on_the_whole_body(client, meta_sender):
    payload = json.loads((FIXTURES / "meta" / "interactive_button_reply.json").read_bytes())
    payload["pad"] = "x" * 1_200_000  # over the 1 MB a stored (unverified) body is cut to
    body = json.dumps(payload).encode()
    forged = client.post(
        "/webhooks/meta/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta.sign(app_secret=APP_SECRET, body=body[:1_000_000]),
    )
    assert forged.status_code == 403
    assert _signed_meta(client, body).status_code == 200
    rejected, accepted = WebhookEvent.objects.order_by("id")
    assert rejected.body_truncated and len(bytes(rejected.body)) == 1_000_000
    # Verified: kept whole, so processing (and a replay) sees every item.
    assert not accepted.body_truncated and bytes(accepted.body) == body and accepted.status == "processed"
    assert inbound("14").content["reply"]["id"] == "menu:order"
