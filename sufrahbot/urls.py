from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from restaurants.admin_login import admin_login
from sufrahbot.health import health
from sufrahbot.metrics import metrics_view

urlpatterns = [
    path("admin/login/", admin_login, name="admin-login"),  # the throttled login, ahead of admin's own
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    # Dashboard API, its OpenAPI 3 schema and Swagger UI (the UI's assets load from drf-spectacular's CDN).
    path("api/v1/", include("sufrahbot.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", health, name="health"),
    path("healthz", health, name="healthz"),  # the older name, kept for probes configured with it
    path("metrics", metrics_view, name="metrics"),
]

handler404 = "sufrahbot.errors.json_404"
handler500 = "sufrahbot.errors.json_500"
