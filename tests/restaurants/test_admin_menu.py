"""The menu's admin pages write through restaurants.services, like the API: the same checks, the audit trail."""

from __future__ import annotations

import pytest

from restaurants.models import AuditEntry, MenuCategory, MenuItem
from tests.factories import MenuCategoryFactory, MenuItemFactory, RestaurantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _actions(restaurant) -> list[tuple[str, str]]:
    return list(AuditEntry.objects.filter(restaurant=restaurant).order_by("id").values_list("action", "source"))


def test_a_dish_in_another_restaurants_category_is_refused_on_the_form(client, platform):
    mine, theirs = RestaurantFactory(), MenuCategoryFactory()
    form = {"restaurant": mine.pk, "category": theirs.pk, "name_en": "Soup", "name_ar": "شوربة", "price": "9.00"}

    page = client.post("/admin/restaurants/menuitem/add/", {**form, "available": "on", "sort_order": 0})

    assert page.status_code == 200 and "The category belongs to another restaurant." in page.content.decode()
    assert not MenuItem.objects.filter(name_en="Soup").exists()


def test_dishes_added_changed_and_removed_inline_go_through_the_services(client, platform):
    category = MenuCategoryFactory(name_en="Grills")
    kept, dropped = MenuItemFactory(category=category, name_en="Kebab"), MenuItemFactory(category=category)
    restaurant = category.restaurant
    prefix = "items"
    form = {
        "name_en": "Grills",
        "name_ar": category.name_ar,
        "sort_order": 0,
        "active": "on",
        f"{prefix}-TOTAL_FORMS": 3,
        f"{prefix}-INITIAL_FORMS": 2,
        f"{prefix}-0-id": kept.pk,
        f"{prefix}-0-category": category.pk,
        f"{prefix}-0-name_en": "Lamb kebab",
        f"{prefix}-0-name_ar": kept.name_ar,
        f"{prefix}-0-price": "25.00",
        f"{prefix}-0-available": "on",
        f"{prefix}-0-sort_order": 0,
        f"{prefix}-1-id": dropped.pk,
        f"{prefix}-1-category": category.pk,
        f"{prefix}-1-name_en": dropped.name_en,
        f"{prefix}-1-name_ar": dropped.name_ar,
        f"{prefix}-1-price": "25.00",
        f"{prefix}-1-sort_order": 0,
        f"{prefix}-1-DELETE": "on",
        f"{prefix}-2-category": category.pk,
        f"{prefix}-2-name_en": "Chicken",
        f"{prefix}-2-name_ar": "دجاج",
        f"{prefix}-2-price": "19.00",
        f"{prefix}-2-available": "on",
        f"{prefix}-2-sort_order": 1,
    }

    response = client.post(f"/admin/restaurants/menucategory/{category.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    added = MenuItem.objects.get(name_en="Chicken")
    assert added.restaurant == restaurant and added.category == category
    assert MenuItem.objects.get(pk=kept.pk).name_en == "Lamb kebab"
    assert not MenuItem.objects.filter(pk=dropped.pk).exists()
    assert sorted(_actions(restaurant)) == [
        ("menuitem.changed", "admin"),
        ("menuitem.created", "admin"),
        ("menuitem.deleted", "admin"),
    ]


def test_the_bulk_delete_action_deletes_through_the_service_one_by_one(client, platform):
    category = MenuCategoryFactory()
    items = [MenuItemFactory(category=category) for _ in range(2)]

    client.post(
        "/admin/restaurants/menuitem/",
        {"action": "delete_selected", "_selected_action": [i.pk for i in items], "post": "yes"},
    )

    assert not MenuItem.objects.filter(pk__in=[i.pk for i in items]).exists()
    assert _actions(category.restaurant) == [("menuitem.deleted", "admin")] * 2


def test_a_category_created_in_the_admin_is_audited_as_the_apis_are(client, platform):
    restaurant = RestaurantFactory()

    client.post(
        "/admin/restaurants/menucategory/add/",
        {"restaurant": restaurant.pk, "name_en": "Drinks", "name_ar": "مشروبات", "sort_order": 2, "active": "on",
         "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0},
    )

    assert MenuCategory.objects.get(restaurant=restaurant).name_en == "Drinks"
    assert _actions(restaurant) == [("menucategory.created", "admin")]
