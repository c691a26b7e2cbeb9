"""Staff reach Django admin through their membership alone; the admin is the restaurant's, not Django's."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from orders.models import Order
from restaurants.models import StaffMembership
from tests.factories import MenuItemFactory, RestaurantFactory, SenderFactory, UserFactory
from tests.orders.factories import customer_conversation, placed_order

pytestmark = pytest.mark.django_db


def member(restaurant, role: str):
    user = UserFactory()  # not is_staff, no model permissions: only the membership
    StaffMembership.objects.create(user=user, restaurant=restaurant, role=role)
    return user


@pytest.fixture
def two_restaurants():
    mine = RestaurantFactory(
        name_en="Mine Grill", name_ar="مشويات منى", brand_color="#123456", logo_url="https://cdn.example/l.png"
    )
    theirs = RestaurantFactory(name_en="Theirs Kitchen")
    return mine, theirs


def _index_apps(response) -> set[str]:
    return {model["object_name"] for app in response.context["app_list"] for model in app["models"]}


def test_a_member_signs_in_on_the_admin_login_page_and_a_user_without_one_cannot(client, two_restaurants):
    mine, _ = two_restaurants
    agent, stranger = member(mine, "AGENT"), UserFactory()

    refused = client.post("/admin/login/", {"username": stranger.username, "password": "pass-word-123"})
    signed_in = client.post("/admin/login/?next=/admin/", {"username": agent.username, "password": "pass-word-123"})

    assert refused.status_code == 200 and "correct username and password" in refused.content.decode()
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"


def test_an_agent_with_only_a_membership_works_orders_and_conversations(client, two_restaurants):
    mine, _ = two_restaurants
    client.force_login(member(mine, "AGENT"))

    index = client.get("/admin/")

    assert index.status_code == 200
    assert _index_apps(index) == {"Conversation", "Message", "Order", "Rating", "RatingPrompt"}
    assert client.get("/admin/orders/order/").status_code == 200
    assert client.get("/admin/conversations/conversation/").status_code == 200
    assert client.get("/admin/restaurants/menuitem/").status_code == 403


def test_an_admin_manages_menu_staff_and_the_restaurant_but_never_platform_models(client, two_restaurants):
    mine, theirs = two_restaurants
    MenuItemFactory(category__restaurant=theirs, name_en="Their secret dish")
    client.force_login(member(mine, "ADMIN"))

    index = client.get("/admin/")
    apps = _index_apps(index)

    assert {"MenuItem", "MenuCategory", "StaffMembership", "Restaurant", "Order", "Conversation"} <= apps
    assert not apps & {"Sender", "WebhookEvent", "PeriodicTask", "Group", "User", "OutstandingToken"}
    for url in (
        "/admin/restaurants/sender/",
        "/admin/auth/group/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/token_blacklist/outstandingtoken/",
        "/admin/auth/user/",
    ):
        assert client.get(url).status_code == 403, url
    menu = client.get("/admin/restaurants/menuitem/")
    assert menu.status_code == 200 and "Their secret dish" not in menu.content.decode()


def test_an_agent_of_one_restaurant_and_admin_of_another_manages_only_the_other_menu(client, two_restaurants):
    mine, theirs = two_restaurants
    user = member(mine, "AGENT")
    StaffMembership.objects.create(user=user, restaurant=theirs, role="ADMIN")
    MenuItemFactory(category__restaurant=mine, name_en="Agent-side dish")
    MenuItemFactory(category__restaurant=theirs, name_en="Admin-side dish")
    client.force_login(user)

    page = client.get("/admin/restaurants/menuitem/").content.decode()

    assert "Admin-side dish" in page and "Agent-side dish" not in page


def test_the_header_is_the_restaurants_with_its_logo_and_colours(client, two_restaurants):
    mine, _ = two_restaurants
    client.force_login(member(mine, "AGENT"))

    page = client.get("/admin/").content.decode()

    assert "Mine Grill · مشويات منى" in page and "Django administration" not in page
    assert "--sufrah-brand: #123456" in page and 'src="https://cdn.example/l.png"' in page
    assert "<title>Back office | Mine Grill</title>" in page


def test_times_show_in_the_restaurants_timezone(client, two_restaurants, fake_twilio):
    mine, _ = two_restaurants  # Asia/Riyadh, UTC+3
    order = placed_order(conversation=customer_conversation(restaurant=mine))
    Order.objects.filter(pk=order.pk).update(created_at=dt.datetime(2026, 1, 1, 22, 30, tzinfo=dt.UTC))
    client.force_login(member(mine, "AGENT"))

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "Jan. 2, 2026, 1:30 a.m." in page


def test_unread_count_is_shown_not_edited(client, two_restaurants):
    mine, _ = two_restaurants
    conversation = customer_conversation(restaurant=mine, unread_count=3)
    client.force_login(member(mine, "AGENT"))

    page = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk])).content.decode()

    assert 'name="unread_count"' not in page and "Unread count" in page


def test_staff_add_prints_a_link_that_sets_the_password(client, two_restaurants, settings):
    mine, _ = two_restaurants
    out = StringIO()

    call_command("staff_add", "--restaurant", mine.slug, "--username", "layla", "--role", "ADMIN", stdout=out)

    link = re.search(r"https?://\S+", out.getvalue()).group(0)
    path = link.removeprefix(settings.PUBLIC_BASE_URL)
    assert StaffMembership.objects.get(user__username="layla").role == "ADMIN"
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "a-long-pass-1", "new_password2": "a-long-pass-1"}
    )
    assert done.status_code == 302
    assert client.login(username="layla", password="a-long-pass-1")
    assert client.get("/admin/restaurants/menuitem/").status_code == 200
    assert client.get(path, follow=True).context["validlink"] is False  # one use


def test_a_restaurant_admin_invites_staff_from_the_admin_and_an_agent_cannot(client, two_restaurants):
    mine, theirs = two_restaurants
    admin_user = member(mine, "ADMIN")
    client.force_login(admin_user)

    page = client.get(reverse("admin:staff-invite"))
    response = client.post(reverse("admin:staff-invite"), {"restaurant": mine.pk, "username": "omar", "role": "AGENT"})
    foreign = client.post(reverse("admin:staff-invite"), {"restaurant": theirs.pk, "username": "x", "role": "AGENT"})

    assert page.status_code == 200
    assert [r.pk for r in page.context["form"].fields["restaurant"].queryset] == [mine.pk]
    assert response.status_code == 200 and "/admin/password-set/" in response.content.decode()
    assert StaffMembership.objects.get(user__username="omar").restaurant == mine
    assert foreign.context["form"].errors["restaurant"] and not StaffMembership.objects.filter(user__username="x")
    client.force_login(member(mine, "AGENT"))
    assert client.get(reverse("admin:staff-invite")).status_code == 403


def test_a_restaurant_admin_cannot_take_over_a_user_of_another_restaurant(client, two_restaurants):
    mine, theirs = two_restaurants
    outsider = member(theirs, "ADMIN")
    client.force_login(member(mine, "ADMIN"))

    response = client.post(
        reverse("admin:staff-invite"), {"restaurant": mine.pk, "username": outsider.username, "role": "ADMIN"}
    )

    assert "username" in response.context["form"].errors
    assert not StaffMembership.objects.filter(user=outsider, restaurant=mine).exists()


def test_senders_stay_out_of_a_restaurant_admins_reach(client, two_restaurants):
    mine, _ = two_restaurants
    sender = SenderFactory(restaurant=mine)
    client.force_login(member(mine, "ADMIN"))

    assert client.get(reverse("admin:restaurants_sender_change", args=[sender.pk])).status_code in (302, 403)


def test_the_api_docs_load_swagger_ui_from_our_own_static_files(client):
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+swagger-ui[^"]*)"', page)

    assert assets and all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets), assets
    assert "cdn.jsdelivr" not in page and "@latest" not in page
    assert client.get(assets[0]).status_code == 200
