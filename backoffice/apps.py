from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    """The restaurant staff's back office: the admin site's look, the inbox, analytics, staff invitations."""

    default = True

    name = "backoffice"
    verbose_name = "Back office"


class SufrahAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with Sufrah's site (membership-based access, restaurant branding, extra pages)."""

    default = False  # named explicitly in INSTALLED_APPS; "backoffice" alone is BackofficeConfig
    default_site = "backoffice.site.SufrahAdminSite"
