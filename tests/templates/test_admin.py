"""Templates in Django admin: edits go through the services (a version per change), submit is an action."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from templates.models import MessageTemplate, TemplateVersion
from templates.services import template_defaults_ensure
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def superuser(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _form(template: MessageTemplate, **changes) -> dict:
    data = {
        "restaurant": template.restaurant_id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "purpose": template.purpose,
        "header_type": template.header_type,
        "header_text": template.header_text,
        "header_image_url": template.header_image_url,
        "body": template.body,
        "footer": template.footer,
        "buttons": json.dumps(template.buttons),
        "examples": json.dumps(template.examples),
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_an_admin_edit_writes_a_version_shown_on_the_page_and_a_bad_body_is_a_form_error(
    client, superuser, twilio_sender
):
    template = template_defaults_ensure(restaurant=twilio_sender.restaurant)[0]
    change_url = reverse("admin:message_templates_messagetemplate_change", args=[template.pk])

    saved = client.post(change_url, _form(template, footer="Sufrah"))
    refused = client.post(change_url, _form(template, body="x" * 1025))
    page = client.get(change_url)

    assert saved.status_code == 302
    assert refused.status_code == 200 and b"At most 1024 characters" in refused.content
    versions = TemplateVersion.objects.filter(template=template).order_by("id")
    assert [(v.version, v.note, v.changed_by_id) for v in versions] == [
        (1, "created", None),
        (1, "edited", superuser.pk),
    ]
    assert MessageTemplate.objects.get(pk=template.pk).footer == "Sufrah"
    assert page.status_code == 200 and b"edited" in page.content


def test_the_submit_action_submits_through_the_provider(client, superuser, twilio_sender, fake_twilio):
    template = template_defaults_ensure(restaurant=twilio_sender.restaurant)[0]
    changelist = reverse("admin:message_templates_messagetemplate_changelist")

    response = client.post(changelist, {"action": "submit", "_selected_action": [template.pk]}, follow=True)

    template.refresh_from_db()
    assert template.status == "submitted" and template.twilio_content_sid in fake_twilio.state.contents
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]
