"""Inviting restaurant staff: a user (new or existing) gets a membership and a link to set their password."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .audit import audit_record
from .models import Restaurant, StaffMembership, StaffRole
from .plans import plan_seat_check


@dataclass(frozen=True)
class Invitation:
    user: object
    membership: StaffMembership
    created_user: bool
    password_link: str


def password_set_link(*, user) -> str:
    """A one-time link (Django's password-reset token: it stops working once the password changes)."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("password-set", kwargs={"uidb64": uidb64, "token": default_token_generator.make_token(user)})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


@transaction.atomic
def staff_invite(
    *,
    restaurant: Restaurant,
    username: str,
    email: str = "",
    role: str = StaffRole.AGENT,
    invited_by=None,
    source: str = "",
) -> Invitation:
    """`invited_by` None or a platform admin: anyone. A restaurant ADMIN may add new users, or users already
    on one of their own restaurants, never someone else's staff (that would hand them a password link).
    A new member takes a seat of the plan (PlanLimitReached when none is left); a role change does not."""
    username = username.strip()
    if not username:
        raise ValidationError({"username": ["A username is needed."]})
    if role not in StaffRole.values:
        raise ValidationError({"role": [f"One of {', '.join(StaffRole.values)}."]})
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    created = user is None
    if not created and invited_by is not None and not invited_by.is_superuser:
        own = StaffMembership.objects.filter(user=invited_by, role=StaffRole.ADMIN).values("restaurant_id")
        if not StaffMembership.objects.filter(user=user, restaurant_id__in=own).exists():
            raise ValidationError({"username": ["This username is taken; choose another."]})
    if created or not StaffMembership.objects.filter(user=user, restaurant=restaurant).exists():
        plan_seat_check(restaurant=restaurant)
    if created:
        user = users(username=username, email=email.strip())
        user.set_unusable_password()  # they choose one through the link
        user.save()
    membership, new = StaffMembership.objects.update_or_create(
        user=user, restaurant=restaurant, defaults={"role": role}
    )
    audit_record(
        restaurant_id=restaurant.pk,
        actor=invited_by,
        action="staffmembership.invited" if new else "staffmembership.changed",
        target=membership,
        changes={"role": {"before": None, "after": role}} if new else {},
        source=source,
    )
    link = password_set_link(user=user)
    return Invitation(user=user, membership=membership, created_user=created, password_link=link)


@transaction.atomic
def staff_membership_add(*, restaurant: Restaurant, user, role: str, by=None, source: str = "") -> StaffMembership:
    """A membership for an existing user (the platform admin's add form), within the plan's seats."""
    plan_seat_check(restaurant=restaurant)
    membership = StaffMembership.objects.create(user=user, restaurant=restaurant, role=role)
    audit_record(
        restaurant_id=restaurant.pk,
        actor=by,
        action="staffmembership.created",
        target=membership,
        changes={"role": {"before": None, "after": role}},
        source=source,
    )
    return membership
