from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from providers.registry import credential_fields, provider_for, provider_names
from restaurants.selectors import restaurant_get
from restaurants.services import sender_register


class Command(BaseCommand):
    help = "Register a WhatsApp number (sender) for a restaurant. Credential options come from the providers."

    def add_arguments(self, parser):
        parser.add_argument("--restaurant", required=True, help="restaurant slug")
        parser.add_argument("--provider", required=True, choices=provider_names())
        parser.add_argument("--number", required=True, help="the WhatsApp number, E.164 (+9665...)")
        # One option per credential of any provider (--account-sid, --phone-number-id, --api-key, …).
        for field in credential_fields().values():
            users = ", ".join(
                p for p in provider_names() if field.name in {f.name for f in provider_for(p).credentials}
            )
            stored = " (stored encrypted)" if field.secret else ""
            parser.add_argument(
                field.option, dest=f"cred_{field.name}", default="", help=f"{field.label}{stored}; {users}"
            )
        parser.add_argument("--messages-per-minute", type=int, default=600)

    def handle(self, *args, **opts):
        restaurant = restaurant_get(slug=opts["restaurant"])
        if restaurant is None:
            raise CommandError(f"No restaurant with slug '{opts['restaurant']}'.", returncode=2)
        provider = provider_for(opts["provider"])
        given = {name: opts[f"cred_{name}"] for name in credential_fields() if opts[f"cred_{name}"]}
        ignored = sorted(set(given) - {f.name for f in provider.credentials})
        if ignored:
            options = ", ".join(credential_fields()[n].option for n in ignored)
            raise CommandError(f"{options}: not a {provider.label} credential.", returncode=2)
        try:
            sender = sender_register(
                restaurant=restaurant,
                provider=provider.name,
                phone_number=opts["number"],
                credentials=given,
                messages_per_minute=opts["messages_per_minute"],
            )
        except ValidationError as exc:
            lines = [f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()]
            raise CommandError("Sender not registered.\n  " + "\n  ".join(lines), returncode=2) from None
        self.stdout.write(
            self.style.SUCCESS(f"Registered {sender.phone_number} ({sender.provider}) for {restaurant.slug}.")
        )
