"""The admin's assignee field: only the conversation's restaurant's active staff, saved through the service."""

from __future__ import annotations

import pytest

from conversations.models import Conversation
from restaurants.models import AuditEntry
from tests.factories import ConversationFactory, StaffMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _form(conversation, **changes):
    data = {
        "customer_name": conversation.customer_name,
        "language": "en",
        "status": conversation.status,
        "assignee": "",
        "unread_count": conversation.unread_count,
        "reply": "",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_assignee_choices_are_the_restaurants_active_staff_and_another_restaurants_staff_is_refused(admin_client):
    conversation = ConversationFactory()
    own = StaffMembershipFactory(restaurant=conversation.restaurant).user
    gone = StaffMembershipFactory(restaurant=conversation.restaurant, user=UserFactory(is_active=False)).user
    other = StaffMembershipFactory().user  # staff of another restaurant
    stranger = UserFactory()
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"

    form = admin_client.get(url).context["adminform"].form
    assert list(form.fields["assignee"].queryset) == [own]
    assert {gone, other, stranger}.isdisjoint(form.fields["assignee"].queryset)

    refused = admin_client.post(url, _form(conversation, assignee=other.pk))
    assert refused.status_code == 200 and "assignee" in refused.context["adminform"].form.errors
    assert Conversation.objects.get(pk=conversation.pk).assignee is None

    saved = admin_client.post(url, _form(conversation, assignee=own.pk, status="resolved"))
    assert saved.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.status) == (own, "resolved")


def test_a_name_corrected_in_the_admin_goes_through_the_service_audited(admin_client):
    conversation = ConversationFactory(customer_name="Laila")
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"

    saved = admin_client.post(url, _form(conversation, customer_name="Layla"))

    assert saved.status_code == 302
    assert Conversation.objects.get(pk=conversation.pk).customer_name == "Layla"
    [entry] = AuditEntry.objects.filter(restaurant=conversation.restaurant, action="conversation.changed")
    assert entry.changes["customer_name"] == {"before": "Laila", "after": "Layla"}
