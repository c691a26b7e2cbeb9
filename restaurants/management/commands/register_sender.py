from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restaurants.models import Provider
from restaurants.selectors import restaurant_get
from restaurants.services import sender_register


class Command(BaseCommand):
    help = "Register a WhatsApp number (sender) for a restaurant."

    def add_arguments(self, parser):
        parser.add_argument("--restaurant", required=True, help="restaurant slug")
        parser.add_argument("--provider", required=True, choices=[p.value for p in Provider])
        parser.add_argument("--number", required=True, help="the WhatsApp number, E.164 (+9665...)")
        parser.add_argument("--account-sid", default="", help="Twilio account SID (AC...)")
        parser.add_argument("--auth-token", default="", help="Twilio auth token (stored encrypted)")
        parser.add_argument("--phone-number-id", default="", help="Meta phone number id")
        parser.add_argument("--access-token", default="", help="Meta access token (stored encrypted)")
        parser.add_argument("--app-secret", default="", help="Meta app secret (stored encrypted)")
        parser.add_argument("--messages-per-minute", type=int, default=600)

    def handle(self, *args, **opts):
        restaurant = restaurant_get(slug=opts["restaurant"])
        if restaurant is None:
            raise CommandError(f"No restaurant with slug '{opts['restaurant']}'.", returncode=2)
        try:
            sender = sender_register(
                restaurant=restaurant,
                provider=opts["provider"],
                phone_number=opts["number"],
                twilio_account_sid=opts["account_sid"],
                twilio_auth_token=opts["auth_token"],
                meta_phone_number_id=opts["phone_number_id"],
                meta_access_token=opts["access_token"],
                meta_app_secret=opts["app_secret"],
                messages_per_minute=opts["messages_per_minute"],
            )
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()]
            raise CommandError("Sender not registered.\n  " + "\n  ".join(lines), returncode=2) from None
        self.stdout.write(
            self.style.SUCCESS(f"Registered {sender.phone_number} ({sender.provider}) for {restaurant.slug}.")
        )
