"""Benchmark: the analytics page of a restaurant with 100,000 orders, against a baseline measured in the same
run (the admin index page, through the same login, middleware and templates).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sufrah_bench REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/analytics.py [--orders 100000] [--repeat 7]

It creates (and drops) its own database `<name>_bench_tmp`, seeds one restaurant with --orders orders over
the last 90 days (1–3 lines each, a rating on a third, 20,000 customers with a bot and a staff reply each)
plus a second restaurant with the same volume (so tenant filters matter), then times the page and the JSON
for the default 30 days and for all 90 days. Prints the median, the worst, SQL queries per request and the
ratio to the baseline. The target: under 1 s for the page at 100,000 orders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sufrahbot.settings_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards, and reuse it if already seeded"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_tmp"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=not args.keep, keepdb=args.keep)
    try:
        run(args.orders, args.repeat)
    finally:
        if args.keep:
            print(f"(database {test_db} kept: run again with --keep to reuse it)")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)
            print(f"(database {test_db} dropped)")


def seed(*, orders: int, customers: int, slug: str, rng: random.Random):
    from django.utils import timezone

    from conversations.models import Conversation, Message
    from orders.models import Order, OrderItem, Rating
    from restaurants.models import MenuCategory, MenuItem, Restaurant, Sender

    restaurant = Restaurant.objects.create(slug=slug, name_en=f"Bench {slug}", name_ar="مطعم", timezone="Asia/Riyadh")
    sender = Sender.objects.create(
        restaurant=restaurant, provider="console", phone_number=f"+1555{rng.randrange(10**7):07d}"
    )
    category = MenuCategory.objects.create(restaurant=restaurant, name_en="Mains", name_ar="رئيسي")
    dishes = [
        MenuItem.objects.create(
            restaurant=restaurant, category=category, name_en=f"Dish {i}", name_ar=f"طبق {i}", price=Decimal(10 + i)
        )
        for i in range(20)
    ]
    now = timezone.now()
    span = 90 * 24 * 3600

    def when() -> dt.datetime:
        return now - dt.timedelta(seconds=rng.randrange(span))

    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                restaurant=restaurant,
                sender=sender,
                customer_phone=f"+9665{i:08d}",
                customer_id=f"+9665{i:08d}",
                language="ar",
                created_at=when(),
            )
            for i in range(customers)
        ],
        batch_size=5000,
    )
    started = {c.pk: c.created_at for c in conversations}
    staff_user = _staff_user(restaurant)
    messages = []
    for c in conversations:
        t0 = started[c.pk]
        for offset, direction, sent_by in (
            (0, "in", None),
            (2, "out", None),
            (300, "in", None),
            (420, "out", staff_user),
        ):
            messages.append(
                Message(
                    restaurant=restaurant,
                    conversation=c,
                    direction=direction,
                    provider="console",
                    body="hi",
                    status="delivered" if direction == "out" else "received",
                    sent_by=sent_by,
                    created_at=t0 + dt.timedelta(seconds=offset + rng.random()),
                )
            )
    Message.objects.bulk_create(messages, batch_size=5000)
    order_rows, numbers = [], iter(range(1001, 1001 + orders))
    for _ in range(orders):
        status = rng.choices(["DELIVERED", "RATED", "CANCELLED", "PREPARING"], weights=[50, 35, 10, 5])[0]
        order_rows.append(
            Order(
                restaurant=restaurant,
                conversation=rng.choice(conversations),
                number=next(numbers),
                status=status,
                fulfilment=rng.choice(["delivery", "pickup"]),
                subtotal=Decimal("0"),
                total=Decimal("0"),
                currency="SAR",
                language="ar",
                created_at=when(),
            )
        )
    Order.objects.bulk_create(order_rows, batch_size=5000)
    items, ratings = [], []
    for order in order_rows:
        total = Decimal("0")
        for dish in rng.sample(dishes, rng.randint(1, 3)):
            quantity = rng.randint(1, 3)
            items.append(
                OrderItem(
                    order=order,
                    menu_item=dish,
                    name_en=dish.name_en,
                    name_ar=dish.name_ar,
                    unit_price=dish.price,
                    quantity=quantity,
                    line_total=dish.price * quantity,
                )
            )
            total += dish.price * quantity
        order.subtotal = order.total = total
        if order.status == "RATED":
            stars = rng.choices([1, 2, 3, 4, 5], weights=[5, 5, 10, 30, 50])[0]
            ratings.append(Rating(order=order, stars=stars, created_at=order.created_at + dt.timedelta(hours=2)))
    OrderItem.objects.bulk_create(items, batch_size=5000)
    Order.objects.bulk_update(order_rows, ["subtotal", "total"], batch_size=5000)
    Rating.objects.bulk_create(ratings, batch_size=5000)
    return restaurant, staff_user, len(items), len(messages)


def _staff_user(restaurant):
    from django.contrib.auth import get_user_model

    from restaurants.models import StaffMembership

    user = get_user_model().objects.create_user(f"bench-{restaurant.slug}", password="bench-pass-1")
    StaffMembership.objects.create(user=user, restaurant=restaurant, role="ADMIN")
    return user


def _without_auto_now(models):
    """Seeding writes historical timestamps: switch auto_now_add off on created_at while it runs."""
    fields = [m._meta.get_field("created_at") for m in models]
    for field in fields:
        field.auto_now_add = False
    return fields


def _time(label: str, client, url: str, repeat: int, baseline: float | None = None) -> float:
    from django.db import connection

    client.get(url)  # warm: templates, connection, plans
    durations, queries = [], []
    # Django clears its query log when a request starts: count through an execute wrapper instead.
    with connection.execute_wrapper(lambda execute, sql, *a: queries.append(sql) or execute(sql, *a)):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200
    median = statistics.median(durations)
    ratio = f"  {median / baseline:5.1f}x baseline" if baseline else ""
    print(
        f"{label:<44} median {median * 1000:7.1f} ms   worst {max(durations) * 1000:7.1f} ms   "
        f"{len(queries):3d} queries{ratio}"
    )
    return median


def run(orders: int, repeat: int) -> None:
    from django.db import connection
    from django.test import Client

    from backoffice import analytics
    from conversations.models import Conversation, Message
    from orders.models import Order, Rating
    from restaurants.auth import token_pair_for
    from restaurants.models import Restaurant

    rng = random.Random(42)
    customers = min(20_000, max(10, orders // 5))
    started = time.perf_counter()
    _without_auto_now([Order, Message, Conversation, Rating])
    restaurant = Restaurant.objects.filter(slug="bench").first()
    if restaurant is not None and Order.objects.filter(restaurant=restaurant).count() == orders:
        user = restaurant.memberships.get().user
        print(f"reusing the seeded database: {orders:,} orders")
    else:
        restaurant, user, n_items, n_messages = seed(orders=orders, customers=customers, slug="bench", rng=rng)
        seed(orders=orders, customers=customers, slug="neighbour", rng=rng)
        print(
            f"seeded 2 restaurants x {orders:,} orders ({n_items:,} lines, {customers:,} customers, "
            f"{n_messages:,} messages each) in {time.perf_counter() - started:.1f} s ({connection.vendor})"
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a real day
    # Where the time goes: each selector once over the whole 90 days.
    period = analytics.AnalyticsRange(start=dt.date.today() - dt.timedelta(days=90), end=dt.date.today())
    selectors = ["orders_per_day", "rating_summary", "first_response_times", "busiest_hours"]
    selectors += ["top_dishes", "conversion"]
    for name in selectors:
        begun = time.perf_counter()
        getattr(analytics, name)(restaurant=restaurant, period=period)
        print(f"  selector {name:<28} {(time.perf_counter() - begun) * 1000:7.1f} ms")
    client = Client()
    client.force_login(user)
    today = dt.date.today()
    all_days = f"start={(today - dt.timedelta(days=90)).isoformat()}&end={today.isoformat()}"
    base = _time("baseline: GET /admin/ (index)", client, "/admin/", repeat)
    _time("analytics page, last 30 days", client, f"/admin/analytics/{restaurant.pk}/", repeat, base)
    _time("analytics page, all 90 days", client, f"/admin/analytics/{restaurant.pk}/?{all_days}", repeat, base)
    api = f"/api/v1/restaurants/{restaurant.pk}/analytics/"
    token = token_pair_for(user=user)["access"]
    api_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    _time("analytics JSON, all 90 days", api_client, f"{api}?{all_days}", repeat, base)


if __name__ == "__main__":
    main()
