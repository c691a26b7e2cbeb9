"""Analytics: figures computed in SQL over one restaurant and a date range, as a page and as JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.analytics import AnalyticsRange, analytics_summary
from conversations.models import Conversation, Message
from orders.models import Order, OrderStatus, Rating
from restaurants.models import StaffMembership
from tests.api.conftest import auth, error_of
from tests.factories import MessageFactory, RestaurantFactory, UserFactory
from tests.orders.factories import customer_conversation, placed_order

pytestmark = pytest.mark.django_db

RIYADH = dt.timezone(dt.timedelta(hours=3))


def _at(order: Order, when: dt.datetime, status: str | None = None) -> Order:
    fields = {"created_at": when}
    if status:
        fields["status"] = status
    Order.objects.filter(pk=order.pk).update(**fields)
    return order


@pytest.fixture
def shop(fake_twilio):
    restaurant = RestaurantFactory(timezone="Asia/Riyadh")
    other = RestaurantFactory()
    c1 = customer_conversation(restaurant=restaurant)
    c2 = customer_conversation(restaurant=restaurant)
    c3 = customer_conversation(restaurant=restaurant)  # talks, never orders
    # Day 1 (Riyadh): two orders at 23:30 local = 20:30 UTC; day 2: one cancelled order at 00:30 local.
    a = _at(placed_order(conversation=c1, price="10.00", quantity=2), dt.datetime(2026, 11, 1, 23, 30, tzinfo=RIYADH))
    b = _at(placed_order(conversation=c2, price="5.00", quantity=1), dt.datetime(2026, 11, 1, 23, 45, tzinfo=RIYADH))
    _at(
        placed_order(conversation=c2, price="7.00", quantity=3),
        dt.datetime(2026, 11, 2, 0, 30, tzinfo=RIYADH),
        status=OrderStatus.CANCELLED,
    )
    _at(placed_order(conversation=customer_conversation(restaurant=other)), dt.datetime(2026, 11, 1, 12, tzinfo=RIYADH))
    Rating.objects.create(order=a, stars=5)
    Rating.objects.create(order=b, stars=2)
    Rating.objects.filter(order__in=[a, b]).update(created_at=dt.datetime(2026, 11, 2, 9, tzinfo=RIYADH))
    # First replies: the bot answers c1 after 2 s, c2 after 4 s, c3 after 6 s; staff answer c1 60 s after
    # the customer's message just before the staff reply.
    start = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    staff = UserFactory()
    for conversation, bot_delay in ((c1, 2), (c2, 4), (c3, 6)):
        Message.objects.filter(conversation=conversation).delete()
        _message(conversation, "in", start)
        _message(conversation, "out", start + dt.timedelta(seconds=bot_delay))
    _message(c1, "in", start + dt.timedelta(minutes=5))
    _message(c1, "out", start + dt.timedelta(minutes=6), sent_by=staff)
    Conversation.objects.filter(pk__in=[c1.pk, c2.pk, c3.pk]).update(created_at=start)
    return restaurant


def _message(conversation, direction, when, sent_by=None):
    message = MessageFactory(conversation=conversation, direction=direction, sent_by=sent_by, status="sent")
    Message.objects.filter(pk=message.pk).update(created_at=when)


def test_the_summary_counts_in_the_restaurants_days(shop):
    summary = analytics_summary(restaurant=shop, period=AnalyticsRange(dt.date(2026, 11, 1), dt.date(2026, 11, 3)))

    days = {d["day"]: d for d in summary["orders_per_day"]}
    assert [d["day"] for d in summary["orders_per_day"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert (days["2026-11-01"]["orders"], days["2026-11-01"]["revenue"]) == (2, "45.00")  # (20 + 10 fee) + (5 + 10 fee)
    assert (days["2026-11-02"]["orders"], days["2026-11-02"]["cancelled"], days["2026-11-02"]["revenue"]) == (
        1,
        1,
        "0.00",
    )
    assert summary["totals"] == {"orders": 3, "cancelled": 1, "revenue": "45.00"}
    assert summary["ratings"]["average"] == 3.5
    assert [r["count"] for r in summary["ratings"]["distribution"]] == [0, 1, 0, 0, 1]
    assert summary["first_response"]["bot"] == {"median_seconds": 4.0, "conversations": 3}
    assert summary["first_response"]["staff"] == {"median_seconds": 60.0, "conversations": 1}
    hours = {h["hour"]: h["orders"] for h in summary["busiest_hours"]}
    assert (hours[23], hours[0], sum(hours.values())) == (2, 1, 3)
    assert [(d["quantity"], d["orders"]) for d in summary["top_dishes"]] == [(2, 1), (1, 1)]  # cancelled left out
    assert summary["conversion"] == {"conversations": 3, "with_order": 2, "rate": 0.6667}


def test_the_range_excludes_days_outside_it(shop):
    summary = analytics_summary(restaurant=shop, period=AnalyticsRange(dt.date(2026, 11, 2), dt.date(2026, 11, 2)))

    assert summary["totals"] == {"orders": 1, "cancelled": 1, "revenue": "0.00"}


def test_the_json_api_takes_a_date_range_and_checks_it(client, shop):
    user = UserFactory()
    StaffMembership.objects.create(user=user, restaurant=shop, role="AGENT")
    url = f"/api/v1/restaurants/{shop.pk}/analytics/"

    ok = client.get(url, {"start": "2026-11-01", "end": "2026-11-02"}, **auth(user))
    backwards = client.get(url, {"start": "2026-11-03", "end": "2026-11-01"}, **auth(user))
    too_long = client.get(url, {"start": "2020-01-01", "end": "2026-11-01"}, **auth(user))
    default = client.get(url, **auth(user))

    assert ok.status_code == 200 and ok.json()["totals"]["orders"] == 3
    assert backwards.status_code == 400 and "end" in error_of(backwards)["details"]
    assert too_long.status_code == 400
    assert default.status_code == 200 and len(default.json()["orders_per_day"]) == 30


def test_the_analytics_page_draws_svg_charts(client, shop):
    user = UserFactory()
    StaffMembership.objects.create(user=user, restaurant=shop, role="ADMIN")
    client.force_login(user)

    page = client.get(f"/admin/analytics/{shop.pk}/", {"start": "2026-11-01", "end": "2026-11-03"})
    other = client.get(f"/admin/analytics/{RestaurantFactory().pk}/")

    content = page.content.decode()
    assert page.status_code == 200 and content.count('<svg class="sufrah-chart"') == 6
    assert "Orders per day" in content and "<rect" in content and "<polyline" in content
    assert other.status_code == 404
