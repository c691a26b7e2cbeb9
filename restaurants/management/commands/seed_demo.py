from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from restaurants.models import Restaurant, Sender, StaffMembership, StaffRole
from restaurants.services import menu_category_create, menu_item_create

DEMO_SLUG = "sufrah-demo"
DEMO_NUMBER = "+15550100001"

MENU = [
    (
        ("مشويات", "Grills"),
        [
            (("شيش طاووق", "Shish Tawook"), ("دجاج متبل على الفحم", "Marinated chicken on charcoal"), "32.00"),
            (("كباب لحم", "Lamb Kebab"), ("لحم غنم مفروم مع البهارات", "Minced lamb with spices"), "38.00"),
            (("مشاوي مشكلة", "Mixed Grill"), ("تشكيلة لشخصين", "A platter for two"), "75.00"),
        ],
    ),
    (
        ("أطباق رئيسية", "Mains"),
        [
            (("كبسة دجاج", "Chicken Kabsa"), ("أرز بالبهارات مع دجاج", "Spiced rice with chicken"), "35.00"),
            (("مندي لحم", "Lamb Mandi"), ("لحم مطهو ببطء مع أرز", "Slow-cooked lamb with rice"), "55.00"),
        ],
    ),
    (
        ("مشروبات", "Drinks"),
        [
            (("شاي بالنعناع", "Mint Tea"), ("", ""), "6.00"),
            (("عصير ليمون", "Lemonade"), ("ليمون طازج بالنعناع", "Fresh lemon with mint"), "12.00"),
        ],
    ),
]


class Command(BaseCommand):
    help = "Create the demo restaurant (Arabic and English), its console sender, menu and a staff login."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=os.environ.get("DEMO_STAFF_PASSWORD", ""))

    @transaction.atomic
    def handle(self, *args, **opts):
        restaurant, created = Restaurant.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={
                "name_ar": "مطبخ سفرة",
                "name_en": "Sufrah Kitchen",
                "default_language": "ar",
                "currency": "SAR",
                "timezone": "Asia/Riyadh",
                "support_contact": "+966500000000",
                "delivery_fee": "10.00",
                "welcome_text_ar": "أهلاً بك في مطبخ سفرة! 🍽️",
                "welcome_text_en": "Welcome to Sufrah Kitchen! 🍽️",
                "promo_links": "https://example.com/sufrah/offers",
            },
        )
        # The console sender's "auth token" signs the simulator's Twilio-format webhooks.
        Sender.objects.get_or_create(
            phone_number=DEMO_NUMBER,
            defaults={
                "restaurant": restaurant,
                "provider": "console",
                "credentials": {"auth_token": secrets.token_hex(16)},
            },
        )
        if not restaurant.categories.exists():
            for position, ((cat_ar, cat_en), items) in enumerate(MENU):
                category = menu_category_create(
                    restaurant=restaurant, name_ar=cat_ar, name_en=cat_en, sort_order=position
                )
                for item_pos, ((name_ar, name_en), (desc_ar, desc_en), price) in enumerate(items):
                    menu_item_create(
                        restaurant=restaurant,
                        category=category,
                        name_ar=name_ar,
                        name_en=name_en,
                        description_ar=desc_ar,
                        description_en=desc_en,
                        price=price,
                        sort_order=item_pos,
                    )
        user_model = get_user_model()
        user = user_model.objects.filter(username="demo").first()
        password = opts["password"]
        if user is None:
            password = password or secrets.token_urlsafe(9)
            user = user_model.objects.create_user("demo", password=password, is_staff=True)
            StaffMembership.objects.get_or_create(user=user, restaurant=restaurant, defaults={"role": StaffRole.ADMIN})
            self.stdout.write(self.style.SUCCESS(f"Staff login: demo / {password}  (Django admin and the API)"))
        else:
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(self.style.SUCCESS(f"Staff login: demo / {password}  (password reset)"))
            else:
                self.stdout.write(
                    "Staff login: demo (created on the first start; password unchanged). To reset it: "
                    "DEMO_STAFF_PASSWORD=new-password ./dev run   or   ./dev manage seed_demo --password new-password"
                )
        verb = "Created" if created else "Found"
        self.stdout.write(
            f"{verb} demo restaurant '{restaurant.slug}' ({restaurant.name_en} / {restaurant.name_ar}), "
            f"console sender {DEMO_NUMBER}."
        )
