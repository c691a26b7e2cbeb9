"""Submitting templates for review and keeping their status in step, against the local provider fakes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from templates.models import MessageTemplate, TemplateVersion
from templates.services import (
    template_create,
    template_defaults_ensure,
    template_status_webhook_apply,
    template_submit,
    template_sync,
    template_update,
)
from templates.tasks import sync_submitted_templates
from tests.factories import ConsoleSenderFactory, RestaurantFactory

from .conftest import WABA_ID

pytestmark = pytest.mark.django_db(transaction=True)


def _rating_template(restaurant, language="en") -> MessageTemplate:
    template_defaults_ensure(restaurant=restaurant)
    return MessageTemplate.objects.get(restaurant=restaurant, purpose="rating", language=language)


def test_defaults_ship_in_arabic_and_english_as_drafts_once():
    restaurant = RestaurantFactory()

    template_defaults_ensure(restaurant=restaurant)
    template_defaults_ensure(restaurant=restaurant)

    rows = MessageTemplate.objects.filter(restaurant=restaurant)
    assert sorted(rows.values_list("purpose", "language", "status")) == [
        ("order_status", "ar", "draft"),
        ("order_status", "en", "draft"),
        ("rating", "ar", "draft"),
        ("rating", "en", "draft"),
    ]


def test_meta_submit_creates_it_in_the_business_account_and_sync_follows_the_review(graph, meta_sender):
    template = _rating_template(meta_sender.restaurant)

    template = template_submit(template=template)

    assert template.status == "submitted" and template.meta_template_id in graph.templates
    created = graph.templates[template.meta_template_id]
    assert created["waba_id"] == WABA_ID and created["name"] == "sufrah_rating_prompt"
    assert created["parameter_format"] == "NAMED"
    assert graph.requests[-1]["path"] == f"/v21.0/{WABA_ID}/message_templates"

    graph.review(template.meta_template_id, "APPROVED")
    assert template_sync(template_id=template.pk) == "approved"
    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == ("approved", "")


def test_meta_rejection_arrives_with_its_reason(graph, meta_sender):
    template = template_submit(template=_rating_template(meta_sender.restaurant, "ar"))

    graph.review(template.meta_template_id, "REJECTED", reason="INVALID_FORMAT")
    template_sync(template_id=template.pk)

    template.refresh_from_db()
    assert (template.status, template.rejection_reason) == ("rejected", "INVALID_FORMAT")


def test_the_status_update_webhook_value_changes_only_this_restaurants_template(graph, meta_sender):
    template = template_submit(template=_rating_template(meta_sender.restaurant))
    value = graph.review(template.meta_template_id, "APPROVED")["entry"][0]["changes"][0]["value"]

    assert template_status_webhook_apply(restaurant_id=meta_sender.restaurant_id + 1000, value=value) is False
    template.refresh_from_db()
    assert template.status == "submitted"
    assert template_status_webhook_apply(restaurant_id=meta_sender.restaurant_id, value=value) is True
    template.refresh_from_db()
    assert template.status == "approved"


def test_meta_sync_reads_the_status_when_the_webhook_was_missed(graph, meta_sender):
    template = template_submit(template=_rating_template(meta_sender.restaurant))
    graph.review(template.meta_template_id, "PAUSED")

    assert sync_submitted_templates() == 1

    template.refresh_from_db()
    assert template.status == "paused"
    assert graph.requests[-1]["path"].startswith(f"/v21.0/{template.meta_template_id}?fields=")


def test_meta_refusing_the_submission_is_a_rejection_with_its_message(graph, meta_sender):
    template = template_submit(template=_rating_template(meta_sender.restaurant))
    duplicate = MessageTemplate.objects.get(pk=template.pk)
    MessageTemplate.objects.filter(pk=template.pk).update(status="draft")
    duplicate.status = "draft"

    again = template_submit(template=duplicate)

    assert again.status == "rejected" and "already exists" in again.rejection_reason


def test_meta_server_error_leaves_it_a_draft_with_a_clear_error(graph, meta_sender):
    template = _rating_template(meta_sender.restaurant)
    graph.fail_next(1, status=503, code=2, message="Service temporarily unavailable")

    with pytest.raises(ValidationError) as caught:
        template_submit(template=template)

    assert "provider" in caught.value.message_dict
    template.refresh_from_db()
    assert template.status == "draft" and not template.meta_template_id


def test_twilio_submit_registers_content_and_requests_approval_then_sync_follows(fake_twilio, twilio_sender):
    template = template_submit(template=_rating_template(twilio_sender.restaurant, "ar"))

    assert template.status == "submitted" and template.twilio_content_sid.startswith("HX")
    content = fake_twilio.state.contents[template.twilio_content_sid]
    assert content["account_sid"] == twilio_sender.credentials["account_sid"]
    assert content["whatsapp"]["status"] == "received" and content["whatsapp"]["category"] == "UTILITY"
    assert "twilio/quick-reply" in content["types"]

    fake_twilio.review(template.twilio_content_sid, "rejected", reason="Variables are not allowed at the end")
    assert template_sync(template_id=template.pk) == "rejected"
    template.refresh_from_db()
    assert template.rejection_reason == "Variables are not allowed at the end"

    template = template_update(template=template, data={"body": template.body.replace("أدناه", "")})
    assert template.status == "draft" and template.twilio_content_sid == ""
    template = template_submit(template=template)
    fake_twilio.review(template.twilio_content_sid, "approved")
    assert template_sync(template_id=template.pk) == "approved"


def test_a_console_sender_approves_at_once_for_the_local_demo():
    sender = ConsoleSenderFactory()

    template = template_submit(template=_rating_template(sender.restaurant))

    assert template.status == "approved"


def test_every_change_keeps_the_old_content_as_a_version(twilio_sender):
    template = template_create(
        restaurant=twilio_sender.restaurant,
        data={"name": "welcome_back", "language": "en", "category": "MARKETING", "body": "Hi {{name}}, we miss you."},
    )

    template_update(template=template, data={"body": "Hello {{name}}, we miss you!"})
    template_update(template=template, data={"footer": "Reply STOP to opt out"})
    template_update(template=template, data={"footer": "Reply STOP to opt out"})  # no change: no version

    versions = list(TemplateVersion.objects.filter(template=template).order_by("version"))
    assert [v.version for v in versions] == [1, 1, 2]
    assert versions[1].content["body"] == "Hi {{name}}, we miss you." and versions[1].note == "edited"
    assert versions[2].content["body"] == "Hello {{name}}, we miss you!" and versions[2].content["footer"] == ""
    template.refresh_from_db()
    assert template.version == 3 and template.footer == "Reply STOP to opt out"


def test_a_template_breaking_the_rules_is_refused_by_field(twilio_sender):
    with pytest.raises(ValidationError) as caught:
        template_create(
            restaurant=twilio_sender.restaurant,
            data={"name": "Bad Name", "language": "en", "category": "UTILITY", "body": "x" * 1025},
        )
    assert {"name", "body"} <= set(caught.value.message_dict)
