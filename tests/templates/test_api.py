"""The templates API: CRUD, submit, preview; a template sent through the conversation's messages endpoint;
the rating prompt and order notices outside the 24-hour window."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from orders.models import RatingPrompt
from orders.services import order_transition, rating_prompts_send_due
from templates.models import MessageTemplate
from templates.services import template_defaults_ensure, template_submit
from tests.api.conftest import auth, error_of, staff, url
from tests.orders.factories import customer_conversation, order_in

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME = {"name": "welcome_back", "language": "en", "category": "MARKETING", "body": "Hi {{name}}, we miss you."}


def _approved(restaurant, fake_twilio, purpose="rating", language="en") -> MessageTemplate:
    template_defaults_ensure(restaurant=restaurant)
    template = MessageTemplate.objects.get(restaurant=restaurant, purpose=purpose, language=language)
    template = template_submit(template=template)
    fake_twilio.review(template.twilio_content_sid, "approved")
    MessageTemplate.objects.filter(pk=template.pk).update(status="approved")
    template.refresh_from_db()
    return template


def test_crud_and_versions(api, fake_twilio):
    conversation = customer_conversation()
    admin = staff(conversation.restaurant, role="ADMIN")
    rid = conversation.restaurant.pk

    created = api.post(url(rid, "templates/"), WELCOME, format="json", **auth(admin))
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["variables"], body["version"]) == ("draft", ["name"], 1)

    tid = body["id"]
    changed = api.patch(
        url(rid, f"templates/{tid}/"), {"footer": "Reply STOP to opt out"}, format="json", **auth(admin)
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    listed = api.get(url(rid, "templates/"), **auth(admin)).json()["results"]
    assert [t["name"] for t in listed] == ["welcome_back"]
    assert api.get(url(rid, f"templates/{tid}/"), **auth(admin)).json()["footer"] == "Reply STOP to opt out"

    clash = api.post(url(rid, "templates/"), WELCOME, format="json", **auth(admin))
    assert clash.status_code == 400 and "name" in error_of(clash)["details"]

    assert api.delete(url(rid, f"templates/{tid}/"), **auth(admin)).status_code == 204
    assert not MessageTemplate.objects.filter(pk=tid).exists()


def test_an_agent_may_read_and_preview_but_not_write(api):
    conversation = customer_conversation()
    agent = staff(conversation.restaurant, role="AGENT")
    rid = conversation.restaurant.pk

    assert api.get(url(rid, "templates/"), **auth(agent)).status_code == 200
    denied = api.post(url(rid, "templates/"), WELCOME, format="json", **auth(agent))
    assert denied.status_code == 403
    preview = api.post(
        url(rid, "templates/preview/"),
        {"body": "Hi {{name}}", "variables": {"name": "S"}},
        format="json",
        **auth(agent),
    )
    assert preview.status_code == 200


def test_preview_answers_the_text_and_both_exact_payloads(api):
    conversation = customer_conversation()
    user = staff(conversation.restaurant)

    response = api.post(
        url(conversation.restaurant.pk, "templates/preview/"),
        {"body": "Hello {{name}}", "variables": {"name": "Sara"}},
        format="json",
        **auth(user),
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["text"] == "Hello Sara"
    assert data["twilio"] == {"ContentSid": None, "ContentVariables": json.dumps({"1": "Sara"})}
    assert data["meta"]["type"] == "template"
    assert data["meta"]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Sara"}]}
    ]


def test_preview_names_each_missing_variable(api):
    conversation = customer_conversation()
    user = staff(conversation.restaurant)

    response = api.post(
        url(conversation.restaurant.pk, "templates/preview/"),
        {"body": "Hi {{name}}, order {{order_number}} is ready.", "variables": {"extra": "x"}},
        format="json",
        **auth(user),
    )

    assert response.status_code == 400
    details = error_of(response)["details"]
    assert details["variables.name"] == ["Missing variable 'name'."]
    assert details["variables.order_number"] == ["Missing variable 'order_number'."]
    assert details["variables.extra"] == ["Variable 'extra' is not in the template."]


def test_preview_of_a_stored_template_uses_its_content_sid(api, fake_twilio):
    conversation = customer_conversation()
    template = _approved(conversation.restaurant, fake_twilio)
    user = staff(conversation.restaurant)

    response = api.post(
        url(conversation.restaurant.pk, "templates/preview/"),
        {"template": template.pk, "variables": {"order_number": "7", "restaurant_name": "Sufrah", "order_id": "3"}},
        format="json",
        **auth(user),
    )

    assert response.status_code == 200
    assert response.json()["twilio"]["ContentSid"] == template.twilio_content_sid
    assert [b["payload"] for b in response.json()["buttons"]] == ["rate:now:3", "rate:later:3", "rate:help:3"]


def test_submit_through_the_api(api, fake_twilio):
    conversation = customer_conversation()
    admin = staff(conversation.restaurant, role="ADMIN")
    template_defaults_ensure(restaurant=conversation.restaurant)
    template = MessageTemplate.objects.get(restaurant=conversation.restaurant, purpose="rating", language="ar")

    response = api.post(url(conversation.restaurant.pk, f"templates/{template.pk}/submit/"), **auth(admin))
    again = api.post(url(conversation.restaurant.pk, f"templates/{template.pk}/submit/"), **auth(admin))

    assert response.status_code == 200 and response.json()["status"] == "submitted"
    assert response.json()["twilio_content_sid"].startswith("HX")
    assert again.status_code == 400 and "status" in error_of(again)["details"]


def test_outside_the_window_free_text_409s_and_an_approved_template_goes_out(api, fake_twilio):
    conversation = customer_conversation(in_window=False)
    template = _approved(conversation.restaurant, fake_twilio, purpose="order_status")
    user = staff(conversation.restaurant)
    messages_url = url(conversation.restaurant.pk, f"conversations/{conversation.pk}/messages/")

    free = api.post(messages_url, {"body": "Are you there?"}, format="json", **auth(user))
    assert free.status_code == 409 and error_of(free)["code"] == "outside_service_window"

    variables = {"order_number": "12", "restaurant_name": "Sufrah", "status": "ready"}
    sent = api.post(messages_url, {"template": template.pk, "variables": variables}, format="json", **auth(user))

    assert sent.status_code == 201, sent.content
    assert sent.json()["kind"] == "template" and sent.json()["status"] == "sent"
    out = fake_twilio.sent[-1]
    assert out["content_sid"] == template.twilio_content_sid and out["body"] == ""
    assert json.loads(out["content_variables"]) == {"1": "12", "2": "Sufrah", "3": "ready"}
    assert Conversation.objects.get(pk=conversation.pk).bot_paused is True


def test_a_template_send_with_a_missing_variable_or_a_draft_template_sends_nothing(api, fake_twilio):
    conversation = customer_conversation(in_window=False)
    template = _approved(conversation.restaurant, fake_twilio, purpose="order_status")
    draft = MessageTemplate.objects.get(restaurant=conversation.restaurant, purpose="rating", language="en")
    user = staff(conversation.restaurant)
    messages_url = url(conversation.restaurant.pk, f"conversations/{conversation.pk}/messages/")
    before = Message.objects.count()

    missing = api.post(
        messages_url, {"template": template.pk, "variables": {"order_number": "1"}}, format="json", **auth(user)
    )
    not_approved = api.post(messages_url, {"template": draft.pk, "variables": {}}, format="json", **auth(user))

    assert missing.status_code == 400 and "variables.status" in error_of(missing)["details"]
    assert not_approved.status_code == 409 and error_of(not_approved)["code"] == "template_not_sendable"
    assert Message.objects.count() == before


def test_a_rating_prompt_due_outside_the_window_goes_as_the_approved_template_and_its_button_rates(client, fake_twilio):
    conversation = customer_conversation(language="ar")
    template = _approved(conversation.restaurant, fake_twilio, purpose="rating", language="ar")
    order = order_in("DELIVERED", conversation=conversation)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))

    assert rating_prompts_send_due() == 1

    prompt = RatingPrompt.objects.get(order=order)
    assert prompt.status == "SENT" and prompt.message.kind == "template"
    out = fake_twilio.sent[-1]
    assert out["content_sid"] == template.twilio_content_sid
    assert json.loads(out["content_variables"])["3"] == str(order.pk)

    # The customer taps "Rate now": Twilio posts the quick reply's id, the bot answers with the stars list.
    from tests.conftest import signed_post, twilio_inbound_params

    params = twilio_inbound_params(
        sender=conversation.sender,
        from_number=conversation.customer_phone,
        body="قيّم الآن",
        ButtonPayload=f"rate:now:{order.pk}",
        ButtonText="قيّم الآن",
    )
    assert signed_post(client, sender=conversation.sender, params=params).status_code == 200
    reply = Message.objects.filter(conversation=conversation, direction="out").order_by("-id").first()
    assert reply.kind == "list" and f"rate:stars:{order.pk}:5" in json.dumps(reply.content)


def test_without_an_approved_rating_template_the_prompt_still_expires(fake_twilio):
    conversation = customer_conversation()
    template_defaults_ensure(restaurant=conversation.restaurant)  # drafts only
    order = order_in("DELIVERED", conversation=conversation)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))

    assert rating_prompts_send_due() == 0
    assert RatingPrompt.objects.get(order=order).status == "EXPIRED"


def test_an_order_notice_outside_the_window_goes_as_the_utility_template(fake_twilio):
    conversation = customer_conversation()
    template = _approved(conversation.restaurant, fake_twilio, purpose="order_status")
    order = order_in("PREPARING", conversation=conversation)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))

    order_transition(order=order, to_status="OUT_FOR_DELIVERY")

    out = fake_twilio.sent[-1]
    assert out["content_sid"] == template.twilio_content_sid
    assert json.loads(out["content_variables"]) == {
        "1": str(order.number),
        "2": conversation.restaurant.name_en,
        "3": "on its way",
    }
