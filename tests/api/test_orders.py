"""Orders in the dashboard: list with filters, detail with items and events, status transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent
from tests.factories import RestaurantFactory
from tests.orders.factories import customer_conversation, placed_order

from .conftest import auth, error_of, staff, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def restaurant():
    return RestaurantFactory()


@pytest.fixture
def agent(restaurant):
    return staff(restaurant, role="AGENT")


def _order(restaurant, **kwargs):
    return placed_order(conversation=customer_conversation(restaurant=restaurant), **kwargs)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_is_newest_first_and_filters_by_status_and_date_range(api, restaurant, agent):
    old, middle, new = (_order(restaurant) for _ in range(3))
    now = timezone.now()
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    Order.objects.filter(pk=middle.pk).update(created_at=now - timedelta(days=1), status="PREPARING")
    _order(RestaurantFactory())  # another tenant's
    get = lambda **params: _ids(api.get(url(restaurant.pk, "orders/"), params, **auth(agent)))  # noqa: E731

    assert get() == [new.pk, middle.pk, old.pk]
    assert get(status="PREPARING") == [middle.pk]
    assert get(created_from=(now - timedelta(days=2)).isoformat()) == [new.pk, middle.pk]
    assert get(created_to=(now - timedelta(hours=12)).isoformat()) == [middle.pk, old.pk]
    assert get(
        created_from=(now - timedelta(days=2)).isoformat(), created_to=(now - timedelta(hours=12)).isoformat()
    ) == [middle.pk]


def test_list_rows_carry_totals_items_and_the_customer(api, restaurant, agent):
    order = _order(restaurant, price="12.50", quantity=2)

    row = api.get(url(restaurant.pk, "orders/"), **auth(agent)).json()["results"][0]

    assert row["number"] == order.number and row["status"] == "CONFIRMED"
    assert row["subtotal"] == "25.00" and row["total"] == str(order.total) and row["currency"] == "SAR"
    assert row["customer_phone"] == order.conversation.customer_phone
    assert [(i["quantity"], i["unit_price"], i["line_total"]) for i in row["items"]] == [(2, "12.50", "25.00")]


def test_list_rejects_bad_filters(api, restaurant, agent):
    now = timezone.now()
    response = api.get(
        url(restaurant.pk, "orders/"),
        {"status": "LOST", "created_from": now.isoformat(), "created_to": (now - timedelta(days=1)).isoformat()},
        **auth(agent),
    )
    bad_date = api.get(url(restaurant.pk, "orders/"), {"created_from": "yesterday"}, **auth(agent))

    assert response.status_code == 400 and "status" in error_of(response)["details"]
    assert bad_date.status_code == 400 and "created_from" in error_of(bad_date)["details"]


def test_detail_has_items_events_and_where_it_may_go_next(api, restaurant, agent):
    order = _order(restaurant)

    response = api.get(url(restaurant.pk, f"orders/{order.pk}/"), **auth(agent))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == order.pk and body["address"] == order.address and len(body["items"]) == 1
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [("", "DRAFT"), ("DRAFT", "CONFIRMED")]
    assert body["next_statuses"] == ["PREPARING", "CANCELLED"] and body["rating"] is None


def test_transition_moves_the_order_and_records_who_did_it(api, restaurant, agent):
    order = _order(restaurant)

    response = api.post(
        url(restaurant.pk, f"orders/{order.pk}/transition/"),
        {"to": "PREPARING", "note": "kitchen has it"},
        format="json",
        **auth(agent),
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "PREPARING"
    assert response.json()["next_statuses"] == ["OUT_FOR_DELIVERY", "CANCELLED"]
    order.refresh_from_db()
    assert order.status == "PREPARING"
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.from_status, event.to_status, event.actor_id, event.note) == (
        "CONFIRMED",
        "PREPARING",
        agent.pk,
        "kitchen has it",
    )


def test_an_illegal_transition_is_409_and_changes_nothing(api, restaurant, agent):
    order = _order(restaurant)
    events_before = OrderEvent.objects.filter(order=order).count()

    response = api.post(
        url(restaurant.pk, f"orders/{order.pk}/transition/"), {"to": "DELIVERED"}, format="json", **auth(agent)
    )

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "illegal_transition"
    assert error["details"] == {"from_status": "CONFIRMED", "allowed": ["PREPARING", "CANCELLED"]}
    order.refresh_from_db()
    assert order.status == "CONFIRMED" and OrderEvent.objects.filter(order=order).count() == events_before


def test_transition_validates_the_target(api, restaurant, agent):
    order = _order(restaurant)

    for payload in ({}, {"to": "TELEPORTED"}, {"to": "RATED"}):
        response = api.post(url(restaurant.pk, f"orders/{order.pk}/transition/"), payload, format="json", **auth(agent))
        assert response.status_code == 400 and "to" in error_of(response)["details"]


def test_transition_needs_json(api, restaurant, agent):
    order = _order(restaurant)

    response = api.post(
        url(restaurant.pk, f"orders/{order.pk}/transition/"),
        "to=PREPARING",
        content_type="text/plain",
        **auth(agent),
    )

    assert response.status_code == 415 and error_of(response)["code"] == "unsupported_media_type"
