"""The admin site restaurant staff work in: entered through a membership, branded per restaurant.

Membership is enough to sign in (restaurants.admin_permissions grants the model permissions of the role);
the header shows the restaurant's name, logo and colours; the inbox, analytics and staff invitation pages
hang off this site so they share its login, CSRF and look.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.urls import path

from restaurants.admin_permissions import user_is_restaurant_staff

from . import views
from .branding import branding_for

PLATFORM_HEADER = "Sufrah back office"


class MembershipLoginForm(AdminAuthenticationForm):
    """Django's admin login asks for is_staff; here a restaurant membership is enough."""

    def confirm_login_allowed(self, user) -> None:
        if not user_is_restaurant_staff(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class SufrahAdminSite(admin.AdminSite):
    site_header = PLATFORM_HEADER
    site_title = "Sufrah"
    index_title = "Back office"
    login_form = MembershipLoginForm
    enable_nav_sidebar = False  # the sidebar costs a 1,366-pixel screen a quarter of its width

    def has_permission(self, request) -> bool:
        return user_is_restaurant_staff(request.user)

    def each_context(self, request):
        context = super().each_context(request)
        brand = branding_for(request.user) if request.user.is_authenticated else None
        context["brand"] = brand
        if brand is not None and brand.restaurant is not None:
            context["site_header"] = brand.header
            context["site_title"] = brand.title
        return context

    def get_urls(self):
        extra = [
            path("inbox/", self.admin_view(views.inbox), name="inbox"),
            path("analytics/", self.admin_view(views.analytics_index), name="analytics-index"),
            path("analytics/<int:rid>/", self.admin_view(views.analytics_page), name="analytics"),
            path("staff/invite/", self.admin_view(views.staff_invite), name="staff-invite"),
        ]
        return extra + super().get_urls()
