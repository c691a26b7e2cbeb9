"""Plan limits at the boundary (exactly reached: allowed; one over: refused or flagged), for each limit, where
it is spent: staff seats (service, API, admin, staff_add), senders (service, API, admin), inbound messages
and conversations (stored, answered and flagged), campaigns and campaign recipients (scheduling refused)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services as campaign_services
from campaigns.models import Campaign
from campaigns.sending import campaign_recipients_create
from campaigns.services import campaign_create, campaign_schedule
from conversations.models import Message
from restaurants.models import Plan, Sender, StaffMembership, UsageCounter
from restaurants.plans import plan_limits, plan_override_clean, usage_month
from restaurants.selectors import usage_of
from restaurants.services import sender_register, sender_update
from restaurants.staff import staff_invite
from sufrahbot.errors import PlanLimitReached
from tests.api.conftest import auth, staff
from tests.campaigns.conftest import approved_template, customers
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import RestaurantFactory, SenderFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _plan(**limits) -> Plan:
    return Plan.objects.create(name=f"plan-{Plan.objects.count()}", **limits)


def _api_error(response) -> dict:
    return response.json()["error"]


# --- which limit applies -------------------------------------------------------------------------------------


def test_no_plan_means_no_limits_and_the_override_replaces_single_limits():
    restaurant = RestaurantFactory()
    assert set(plan_limits(restaurant=restaurant).values()) == {None}

    restaurant.plan = _plan(staff_seats=1, senders=1, messages_per_month=100)
    restaurant.plan_override = {"staff_seats": 3, "senders": None}
    limits = plan_limits(restaurant=restaurant)

    assert limits["staff_seats"] == 3 and limits["senders"] is None and limits["messages_per_month"] == 100


@pytest.mark.parametrize(
    "override", [{"seats": 3}, {"staff_seats": -1}, {"staff_seats": "3"}, {"staff_seats": True}, [1]]
)
def test_a_bad_override_is_refused_naming_it(override):
    with pytest.raises(ValidationError) as exc:
        plan_override_clean(override)
    assert "plan_override" in exc.value.message_dict


def test_the_usage_month_is_the_restaurants_own_calendar_month():
    restaurant = RestaurantFactory(timezone="Asia/Riyadh")  # UTC+3
    late_utc = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)  # already 1 December in Riyadh

    assert usage_month(restaurant=restaurant, at=late_utc) == dt.date(2026, 12, 1)
    restaurant.timezone = "UTC"
    assert usage_month(restaurant=restaurant, at=late_utc) == dt.date(2026, 11, 1)


# --- staff seats -----------------------------------------------------------------------------------------------


def test_seats_exactly_reached_then_one_more_is_refused_and_a_role_change_takes_none():
    restaurant = RestaurantFactory(plan=_plan(staff_seats=2))
    staff_invite(restaurant=restaurant, username="first")
    staff_invite(restaurant=restaurant, username="second")  # the last seat: allowed

    with pytest.raises(PlanLimitReached) as exc:
        staff_invite(restaurant=restaurant, username="third")
    assert exc.value.limit == "staff_seats" and (exc.value.allowed, exc.value.used) == (2, 2)
    assert not StaffMembership.objects.filter(user__username="third").exists()
    staff_invite(restaurant=restaurant, username="second", role="ADMIN")  # an existing member: no new seat
    assert StaffMembership.objects.get(user__username="second").role == "ADMIN"


def test_the_staff_api_answers_409_naming_the_seat_limit():
    restaurant = RestaurantFactory(plan=_plan(staff_seats=2))
    admin = staff(restaurant, role="ADMIN")
    api = APIClient()

    ok = api.post(f"/api/v1/restaurants/{restaurant.pk}/staff/", {"username": "sara"}, format="json", **auth(admin))
    over = api.post(f"/api/v1/restaurants/{restaurant.pk}/staff/", {"username": "omar"}, format="json", **auth(admin))

    assert ok.status_code == 201 and ok.json()["password_link"].startswith("https://")
    assert over.status_code == 409
    error = _api_error(over)
    assert error["code"] == "plan_limit_reached"
    assert error["details"] == {"limit": "staff_seats", "allowed": 2, "used": 2, "requested": 1}
    assert "staff seats" in error["message"]


def test_staff_add_refuses_a_seat_over_the_plan():
    restaurant = RestaurantFactory(plan=_plan(staff_seats=1))
    call_command("staff_add", "--restaurant", restaurant.slug, "--username", "one", stdout=StringIO())

    with pytest.raises(CommandError, match="staff_seats"):
        call_command("staff_add", "--restaurant", restaurant.slug, "--username", "two", stdout=StringIO())
    assert StaffMembership.objects.filter(restaurant=restaurant).count() == 1


def _superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def test_the_admin_add_form_and_invite_page_refuse_a_seat_over_the_plan():
    restaurant = RestaurantFactory(plan=_plan(staff_seats=1))
    client = _superuser_client()
    form = {"user": UserFactory().pk, "restaurant": restaurant.pk, "role": "AGENT"}

    added = client.post("/admin/restaurants/staffmembership/add/", form)
    refused = client.post("/admin/restaurants/staffmembership/add/", {**form, "user": UserFactory().pk})
    invited = client.post(
        "/admin/staff/invite/", {"restaurant": restaurant.pk, "username": "nadia", "email": "", "role": "AGENT"}
    )

    assert added.status_code == 302
    assert refused.status_code == 200 and "The plan allows 1 staff seats" in refused.content.decode()
    assert "The plan allows 1 staff seats" in invited.content.decode()
    assert StaffMembership.objects.filter(restaurant=restaurant).count() == 1


# --- senders ---------------------------------------------------------------------------------------------------


def _register(restaurant, number: str, **kwargs) -> Sender:
    return sender_register(
        restaurant=restaurant,
        provider="console",
        phone_number=number,
        credentials={"auth_token": "t" * 32},
        **kwargs,
    )


def test_senders_exactly_reached_then_one_more_is_refused_and_an_inactive_one_takes_no_place():
    restaurant = RestaurantFactory(plan=_plan(senders=1))
    first = _register(restaurant, "+15550109001")

    with pytest.raises(PlanLimitReached) as exc:
        _register(restaurant, "+15550109002")
    assert exc.value.limit == "senders"
    spare = _register(restaurant, "+15550109003", active=False)  # allowed: not active
    with pytest.raises(PlanLimitReached):
        sender_update(sender=spare, data={"active": True})
    sender_update(sender=first, data={"active": False})
    sender_update(sender=spare, data={"active": True})  # the place is free again
    assert list(Sender.objects.filter(restaurant=restaurant, active=True)) == [spare]


def test_the_sender_api_answers_409_over_the_plan():
    restaurant = RestaurantFactory(plan=_plan(senders=1))
    SenderFactory(restaurant=restaurant)
    root = UserFactory(is_superuser=True, is_staff=True)
    body = {
        "restaurant": restaurant.pk,
        "provider": "console",
        "phone_number": "+15550109011",
        "credentials": {"auth_token": "t" * 32},
    }

    response = APIClient().post("/api/v1/admin/senders/", body, format="json", **auth(root))

    assert response.status_code == 409, response.content
    assert _api_error(response)["details"]["limit"] == "senders"


# --- inbound messages and conversations ------------------------------------------------------------------------


def _customer_says(sender, phone: str, body: str = "hi") -> Message:
    params = twilio_inbound_params(sender=sender, from_number=phone, body=body)
    assert signed_post(Client(), sender=sender, params=params).status_code == 200
    return Message.objects.get(provider_message_id=params["MessageSid"])


def test_messages_over_the_plan_are_stored_answered_flagged_and_counted(fake_twilio):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(messages_per_month=2)))

    first = _customer_says(sender, "+966508034501")
    second = _customer_says(sender, "+966508034501", "1")  # exactly the limit: not over
    third = _customer_says(sender, "+966508034501", "2")

    assert [m.over_plan for m in (first, second, third)] == [False, False, True]
    replies = Message.objects.filter(conversation=third.conversation, direction="out")
    assert replies.count() == 3  # every one answered, the one over the plan too
    counter = UsageCounter.objects.get(restaurant=sender.restaurant)
    assert (counter.messages, counter.over_plan_messages, counter.conversations) == (3, 1, 1)


def test_conversations_count_windows_the_customer_opens_and_over_the_plan_they_are_flagged(fake_twilio):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(conversations_per_month=2)))

    a = _customer_says(sender, "+966508034511")
    _customer_says(sender, "+966508034511", "1")  # the same open window: no new conversation
    b = _customer_says(sender, "+966508034512")  # the second: exactly the limit
    a.conversation.__class__.objects.filter(pk=a.conversation_id).update(
        last_inbound_at=timezone.now() - dt.timedelta(hours=25)
    )
    a_again = _customer_says(sender, "+966508034511", "hi again")  # the window had closed: a third

    assert (a.over_plan, b.over_plan, a_again.over_plan) == (False, False, True)
    assert UsageCounter.objects.get(restaurant=sender.restaurant).conversations == 3
    assert Message.objects.filter(conversation=a_again.conversation, direction="out").count() == 3


# --- campaigns and recipients ----------------------------------------------------------------------------------


@pytest.fixture
def no_sending(monkeypatch):
    monkeypatch.setattr(campaign_services, "_start_later", lambda campaign_id: None)


def _draft(sender, template, name="Offer") -> Campaign:
    return campaign_create(
        restaurant=sender.restaurant,
        data={
            "name": name,
            "template": template,
            "sender": sender,
            "variables": {"name": {"field": "customer_name"}, "offer": {"value": "20% off"}},
        },
    )


def test_campaigns_a_month_exactly_reached_then_the_next_cannot_be_scheduled(fake_twilio, no_sending):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(campaigns_per_month=1)))
    template = approved_template(sender, fake_twilio)
    customers(sender, 2)
    campaign_schedule(campaign=_draft(sender, template))
    second = _draft(sender, template, "Another")
    admin = staff(sender.restaurant, role="ADMIN")

    response = APIClient().post(
        f"/api/v1/restaurants/{sender.restaurant.pk}/campaigns/{second.pk}/schedule/", **auth(admin)
    )

    assert response.status_code == 409
    assert _api_error(response)["details"] == {"limit": "campaigns_per_month", "allowed": 1, "used": 1, "requested": 1}
    second.refresh_from_db()
    assert second.state == "draft"
    assert UsageCounter.objects.get(restaurant=sender.restaurant).campaigns == 1


def test_recipients_a_month_exactly_reached_then_a_campaign_one_over_is_refused(fake_twilio, no_sending):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(campaign_recipients_per_month=3)))
    template = approved_template(sender, fake_twilio)
    customers(sender, 3)
    first = campaign_schedule(campaign=_draft(sender, template))  # 3 of 3
    assert (first.usage_month, first.recipients_reserved) == (usage_month(restaurant=sender.restaurant), 3)

    with pytest.raises(PlanLimitReached) as exc:
        campaign_schedule(campaign=_draft(sender, template, "One more"))
    assert exc.value.limit == "campaign_recipients_per_month" and exc.value.requested == 3
    counter = UsageCounter.objects.get(restaurant=sender.restaurant)
    assert (counter.campaigns, counter.campaign_recipients) == (1, 3)  # the refused one charged nothing


def test_the_recipients_charge_is_settled_to_those_created_once(fake_twilio, no_sending):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(campaign_recipients_per_month=100)))
    template = approved_template(sender, fake_twilio)
    customers(sender, 2)
    campaign = campaign_schedule(campaign=_draft(sender, template))
    customers(sender, 3)  # the audience grew before the campaign started

    campaign_recipients_create(campaign_id=campaign.pk)
    campaign_recipients_create(campaign_id=campaign.pk)

    assert UsageCounter.objects.get(restaurant=sender.restaurant).campaign_recipients == 5


# --- the usage page --------------------------------------------------------------------------------------------


def test_usage_api_and_admin_show_the_months_counts_next_to_the_limits(fake_twilio):
    sender = SenderFactory(restaurant=RestaurantFactory(plan=_plan(messages_per_month=1, staff_seats=5)))
    restaurant = sender.restaurant
    restaurant.plan_override = {"staff_seats": 7}
    restaurant.save()
    agent = staff(restaurant, role="AGENT")
    _customer_says(sender, "+966508034521")
    _customer_says(sender, "+966508034521", "1")

    body = APIClient().get(f"/api/v1/restaurants/{restaurant.pk}/usage/", **auth(agent)).json()

    assert body["plan"] == restaurant.plan.name
    assert body["month"] == usage_month(restaurant=restaurant).isoformat()
    assert body["limits"]["messages_per_month"] | {"description": ""} == {"limit": 1, "used": 2, "description": ""}
    assert body["limits"]["staff_seats"]["limit"] == 7 and body["limits"]["staff_seats"]["used"] == 1
    assert body["limits"]["senders"] == {"limit": None, "used": 1, "description": "active senders (WhatsApp numbers)"}
    assert body["over_plan_messages"] == 1
    assert usage_of(restaurant=restaurant).used["messages_per_month"] == 2
    page = _superuser_client().get(f"/admin/restaurants/restaurant/{restaurant.pk}/change/").content.decode()
    assert "customer messages a month: 2 of 1" in page and "staff seats: 1 of 7" in page
