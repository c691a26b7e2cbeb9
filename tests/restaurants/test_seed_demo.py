"""The demo login `./dev run` prints is what a restaurant's admin gets: a staff membership, not a superuser
(a superuser would show nobody what restaurant staff really see, and would see every restaurant)."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from restaurants.management.commands.seed_demo import DEMO_SLUG
from restaurants.models import Restaurant, StaffMembership, StaffRole
from tests.factories import RestaurantFactory

pytestmark = pytest.mark.django_db


def test_the_demo_login_is_the_demo_restaurants_admin_and_sees_only_it(client):
    other = RestaurantFactory(name_en="Someone Else's Grill")
    call_command("seed_demo", "--password", "demo-pass-123", stdout=StringIO())

    user = get_user_model().objects.get(username="demo")
    demo = Restaurant.objects.get(slug=DEMO_SLUG)
    assert (user.is_staff, user.is_superuser) == (True, False)
    assert StaffMembership.objects.get(user=user).restaurant == demo
    assert StaffMembership.objects.get(user=user).role == StaffRole.ADMIN

    assert client.login(username="demo", password="demo-pass-123")
    menu = client.get("/admin/restaurants/menuitem/")
    assert menu.status_code == 200
    item = demo.menu_items.order_by("pk").first()
    assert item is not None and item.name_en in menu.content.decode()
    restaurants = client.get("/admin/restaurants/restaurant/").content.decode()
    assert demo.name_en in restaurants and other.name_en not in restaurants
    assert client.get("/admin/django_celery_beat/periodictask/").status_code in (403, 404)
