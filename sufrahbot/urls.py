from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path


def health(request):  # noqa: ARG001
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("healthz", health, name="health"),
    path("", include("django_prometheus.urls")),
]

handler404 = "sufrahbot.errors.json_404"
handler500 = "sufrahbot.errors.json_500"
