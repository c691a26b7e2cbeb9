"""The menu in the dashboard: everyone on staff reads it, only ADMINs change it."""

from __future__ import annotations

import pytest

from orders.models import OrderItem
from restaurants.models import MenuCategory, MenuItem
from tests.factories import MenuCategoryFactory, MenuItemFactory, RestaurantFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import auth, error_of, staff, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def restaurant():
    return RestaurantFactory()


@pytest.fixture
def admin(restaurant):
    return staff(restaurant, role="ADMIN")


@pytest.fixture
def agent(restaurant):
    return staff(restaurant, role="AGENT")


def test_the_menu_lists_categories_with_items_in_order_hidden_ones_included(api, restaurant, agent):
    drinks = MenuCategoryFactory(restaurant=restaurant, sort_order=2, name_en="Drinks")
    mains = MenuCategoryFactory(restaurant=restaurant, sort_order=1, name_en="Mains", active=False)
    tea = MenuItemFactory(category=drinks, sort_order=2, name_en="Tea")
    juice = MenuItemFactory(category=drinks, sort_order=1, name_en="Juice", available=False)
    kabsa = MenuItemFactory(category=mains, name_en="Kabsa", price="45.50")
    MenuItemFactory(category__restaurant=RestaurantFactory())  # another tenant's

    response = api.get(url(restaurant.pk, "menu/"), **auth(agent))

    assert response.status_code == 200
    menu = response.json()
    assert menu["restaurant_id"] == restaurant.pk and menu["currency"] == "SAR"
    assert [(c["id"], c["active"]) for c in menu["categories"]] == [(mains.pk, False), (drinks.pk, True)]
    assert [i["id"] for i in menu["categories"][1]["items"]] == [juice.pk, tea.pk]
    assert menu["categories"][0]["items"][0] == {
        "id": kabsa.pk,
        "category_id": mains.pk,
        "name_ar": kabsa.name_ar,
        "name_en": "Kabsa",
        "description_ar": "",
        "description_en": "",
        "price": "45.50",
        "available": True,
        "image_url": "",
        "photo_url": None,
        "thumbnail_url": None,
        "sort_order": 0,
    }


def test_an_admin_creates_updates_and_deletes_a_category(api, restaurant, admin):
    created = api.post(
        url(restaurant.pk, "menu/categories/"),
        {"name_ar": "حلويات", "name_en": "Desserts", "sort_order": 5},
        format="json",
        **auth(admin),
    )
    assert created.status_code == 201, created.content
    category = MenuCategory.objects.get(pk=created.json()["id"])
    assert (category.restaurant_id, category.name_en, category.sort_order, category.active) == (
        restaurant.pk,
        "Desserts",
        5,
        True,
    )

    patched = api.patch(
        url(restaurant.pk, f"menu/categories/{category.pk}/"), {"active": False}, format="json", **auth(admin)
    )
    assert patched.status_code == 200 and patched.json()["active"] is False and patched.json()["name_en"] == "Desserts"

    listed = api.get(url(restaurant.pk, "menu/categories/"), **auth(admin))
    assert [c["id"] for c in listed.json()["results"]] == [category.pk]

    deleted = api.delete(url(restaurant.pk, f"menu/categories/{category.pk}/"), **auth(admin))
    assert deleted.status_code == 204 and not MenuCategory.objects.filter(pk=category.pk).exists()


def test_an_admin_creates_updates_and_deletes_an_item(api, restaurant, admin):
    mains = MenuCategoryFactory(restaurant=restaurant)
    drinks = MenuCategoryFactory(restaurant=restaurant)

    created = api.post(
        url(restaurant.pk, "menu/items/"),
        {"category": mains.pk, "name_ar": "كبسة", "name_en": "Kabsa", "price": "45.00"},
        format="json",
        **auth(admin),
    )
    assert created.status_code == 201, created.content
    item = MenuItem.objects.get(pk=created.json()["id"])
    assert (item.restaurant_id, item.category_id, str(item.price), item.available) == (
        restaurant.pk,
        mains.pk,
        "45.00",
        True,
    )

    patched = api.patch(
        url(restaurant.pk, f"menu/items/{item.pk}/"),
        {"category": drinks.pk, "price": "39.90", "available": False},
        format="json",
        **auth(admin),
    )
    assert patched.status_code == 200, patched.content
    item.refresh_from_db()
    assert (item.category_id, str(item.price), item.available, item.name_en) == (drinks.pk, "39.90", False, "Kabsa")

    by_category = api.get(url(restaurant.pk, "menu/items/"), {"category": drinks.pk}, **auth(admin))
    assert [i["id"] for i in by_category.json()["results"]] == [item.pk]
    assert api.get(url(restaurant.pk, f"menu/items/{item.pk}/"), **auth(admin)).json()["price"] == "39.90"

    deleted = api.delete(url(restaurant.pk, f"menu/items/{item.pk}/"), **auth(admin))
    assert deleted.status_code == 204 and not MenuItem.objects.filter(pk=item.pk).exists()


def test_deleting_a_menu_item_leaves_placed_orders_as_they_were(api, restaurant, admin):
    order = placed_order(conversation=customer_conversation(restaurant=restaurant), price="30.00")
    line = order.items.get()

    response = api.delete(url(restaurant.pk, f"menu/items/{line.menu_item_id}/"), **auth(admin))

    assert response.status_code == 204
    line = OrderItem.objects.get(pk=line.pk)
    assert line.menu_item_id is None and str(line.unit_price) == "30.00" and line.name_en


def test_writes_are_validated_field_by_field(api, restaurant, admin):
    foreign = MenuCategoryFactory(restaurant=RestaurantFactory())

    item = api.post(
        url(restaurant.pk, "menu/items/"),
        {"category": foreign.pk, "name_en": "", "price": "-1", "image_url": "not a url"},
        format="json",
        **auth(admin),
    )
    category = api.post(url(restaurant.pk, "menu/categories/"), {"name_en": "x" * 101}, format="json", **auth(admin))

    assert item.status_code == 400
    assert set(error_of(item)["details"]) == {"category", "name_ar", "name_en", "price", "image_url"}
    assert category.status_code == 400 and set(error_of(category)["details"]) == {"name_ar", "name_en"}
    assert not MenuItem.objects.exists() and not MenuCategory.objects.filter(restaurant=restaurant).exists()


def test_an_agent_reads_the_menu_but_every_write_is_403_and_changes_nothing(api, restaurant, agent):
    category = MenuCategoryFactory(restaurant=restaurant, name_en="Mains")
    item = MenuItemFactory(category=category, price="10.00")
    headers = auth(agent)

    assert api.get(url(restaurant.pk, "menu/"), **headers).status_code == 200
    assert api.get(url(restaurant.pk, f"menu/items/{item.pk}/"), **headers).status_code == 200
    writes = [
        api.post(url(restaurant.pk, "menu/categories/"), {"name_ar": "a", "name_en": "b"}, format="json", **headers),
        api.patch(url(restaurant.pk, f"menu/categories/{category.pk}/"), {"name_en": "X"}, format="json", **headers),
        api.delete(url(restaurant.pk, f"menu/categories/{category.pk}/"), **headers),
        api.post(
            url(restaurant.pk, "menu/items/"),
            {"category": category.pk, "name_ar": "a", "name_en": "b", "price": "1"},
            format="json",
            **headers,
        ),
        api.patch(url(restaurant.pk, f"menu/items/{item.pk}/"), {"price": "0.01"}, format="json", **headers),
        api.delete(url(restaurant.pk, f"menu/items/{item.pk}/"), **headers),
    ]

    for response in writes:
        assert response.status_code == 403, response.content
        assert error_of(response)["code"] == "permission_denied"
    category.refresh_from_db()
    item.refresh_from_db()
    assert category.name_en == "Mains" and str(item.price) == "10.00"
    assert MenuCategory.objects.filter(restaurant=restaurant).count() == 1 and MenuItem.objects.count() == 1
