"""A restaurant without webhook subscriptions publishes its events with no SQL for the webhooks (a Redis set
says who has subscriptions); a missing set falls back to the database; rebuilds follow the database."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from integrations.models import WebhookDelivery
from integrations.registry import registry_key, registry_rebuild, restaurant_may_have_subscriptions
from integrations.services.subscriptions import subscription_delete, subscription_update
from sufrahbot.events import publish, publishing_unit
from tests.factories import RestaurantFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db

MENU_EVENT = {
    "type": "menu.updated",
    "menu": {
        "object": "category",
        "action": "created",
        "id": 1,
        "category_id": 1,
        "name_ar": "س",
        "name_en": "S",
        "price": None,
        "available": True,
    },
}


def test_an_event_of_a_restaurant_without_subscriptions_runs_no_sql(django_assert_num_queries):
    restaurant = RestaurantFactory()
    with django_assert_num_queries(0):
        publish(restaurant.pk, MENU_EVENT)


def test_a_subscription_puts_its_restaurant_in_and_a_rebuild_takes_it_out_again():
    restaurant = RestaurantFactory()
    assert not restaurant_may_have_subscriptions(restaurant.pk)
    subscription, _ = subscribe(restaurant, "https://pos.example.com/hooks")
    assert restaurant_may_have_subscriptions(restaurant.pk)

    publish(restaurant.pk, MENU_EVENT)
    assert WebhookDelivery.objects.count() == 1

    subscription_update(subscription=subscription, data={"active": False})
    assert registry_rebuild() == 0 and not restaurant_may_have_subscriptions(restaurant.pk)
    subscription_update(subscription=subscription, data={"active": True})
    assert restaurant_may_have_subscriptions(restaurant.pk)
    subscription_delete(subscription=subscription)
    registry_rebuild()
    assert not restaurant_may_have_subscriptions(restaurant.pk)


def test_a_lost_registry_falls_back_to_the_database_until_it_is_rebuilt():
    restaurant = RestaurantFactory()
    subscribe(restaurant, "https://pos.example.com/hooks")
    redis.Redis.from_url(settings.REDIS_URL).delete(registry_key())  # Redis flushed

    assert restaurant_may_have_subscriptions(restaurant.pk) and restaurant_may_have_subscriptions(restaurant.pk + 1)
    publish(restaurant.pk, MENU_EVENT)
    assert WebhookDelivery.objects.count() == 1  # nothing lost meanwhile
    registry_rebuild()
    assert restaurant_may_have_subscriptions(restaurant.pk) and not restaurant_may_have_subscriptions(restaurant.pk + 1)


def test_a_publishing_unit_asks_the_registry_once_for_all_its_events(monkeypatch):
    from integrations import registry

    asked = []
    says = registry._registry_says
    monkeypatch.setattr(
        registry, "_registry_says", lambda restaurant_id: asked.append(restaurant_id) or says(restaurant_id)
    )
    restaurant, other = RestaurantFactory(), RestaurantFactory()
    with publishing_unit():
        for _ in range(3):
            publish(restaurant.pk, MENU_EVENT)
        publish(other.pk, MENU_EVENT)
        with publishing_unit():  # nested: the outer unit's answers
            publish(restaurant.pk, MENU_EVENT)
    assert asked == [restaurant.pk, other.pk]
    publish(restaurant.pk, MENU_EVENT)  # outside a unit: asked each time
    publish(restaurant.pk, MENU_EVENT)
    assert asked == [restaurant.pk, other.pk, restaurant.pk, restaurant.pk]
    with pytest.raises(RuntimeError), publishing_unit():
        assert not restaurant_may_have_subscriptions(restaurant.pk)
        raise RuntimeError
    assert not restaurant_may_have_subscriptions(restaurant.pk) and len(asked) == 6  # the failed unit is gone


def test_a_subscription_made_after_a_unit_gets_the_next_units_events():
    restaurant = RestaurantFactory()
    with publishing_unit():
        publish(restaurant.pk, MENU_EVENT)
    subscribe(restaurant, "https://pos.example.com/hooks")
    with publishing_unit():
        publish(restaurant.pk, MENU_EVENT)
        publish(restaurant.pk, MENU_EVENT)
    assert WebhookDelivery.objects.count() == 2
