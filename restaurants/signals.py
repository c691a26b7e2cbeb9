"""Access changes reach live websockets at once.

Signals rather than a service call, on purpose: a membership also disappears through cascades (a user or
restaurant deleted) and admin bulk deletes, which call no service of ours; the receivers only announce.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sufrahbot.events import access_changed

from .models import StaffMembership


@receiver(post_delete, sender=StaffMembership, dispatch_uid="membership-removed-recheck")
def membership_removed(sender, instance: StaffMembership, **kwargs) -> None:
    access_changed(instance.user_id)


@receiver(post_save, sender=get_user_model(), dispatch_uid="user-deactivated-recheck")
def user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # A login only touches last_login; anything else (is_active, is_superuser, ...) may change access.
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    access_changed(instance.pk)
