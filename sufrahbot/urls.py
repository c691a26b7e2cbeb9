from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from conversations.views import media_public
from restaurants.admin_login import admin_login
from sufrahbot.health import health
from sufrahbot.metrics import metrics_view

urlpatterns = [
    path("admin/login/", admin_login, name="admin-login"),  # the throttled login, ahead of admin's own
    # The one-use link printed by `manage.py staff_add` and the admin's "Invite staff" form.
    path(
        "admin/password-set/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("admin:login"),
            extra_context={"site_header": "Sufrah back office", "site_title": "Sufrah"},
        ),
        name="password-set",
    ),
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    # Signed, expiring links to outbound files (what Twilio and Meta fetch); nothing else is public.
    path("media/<str:token>/<str:filename>", media_public, name="media-public"),
    # Dashboard API, its OpenAPI 3 schema and Swagger UI (its assets are served locally by drf-spectacular-sidecar).
    path("api/v1/", include("sufrahbot.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", health, name="health"),
    path("healthz", health, name="healthz"),  # the older name, kept for probes configured with it
    path("metrics", metrics_view, name="metrics"),
]

handler404 = "sufrahbot.errors.json_404"
handler500 = "sufrahbot.errors.json_500"
