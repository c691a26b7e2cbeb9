from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restaurants.models import Restaurant, StaffRole
from restaurants.staff import staff_invite


class Command(BaseCommand):
    help = "Give a user (created when new) a role in a restaurant and print a link to set their password."

    def add_arguments(self, parser):
        parser.add_argument("--restaurant", required=True, help="Restaurant slug")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=StaffRole.values, default=StaffRole.AGENT)

    def handle(self, *args, **options):
        restaurant = Restaurant.objects.filter(slug=options["restaurant"]).first()
        if restaurant is None:
            raise CommandError(f"No restaurant with slug {options['restaurant']!r}.")
        try:
            invitation = staff_invite(
                restaurant=restaurant, username=options["username"], email=options["email"], role=options["role"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        verb = "Created" if invitation.created_user else "Updated"
        self.stdout.write(f"{verb} {invitation.user.username}: {invitation.membership.role} of {restaurant.slug}.")
        self.stdout.write(f"Password-set link (one use): {invitation.password_link}")
