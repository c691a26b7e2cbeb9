from django.urls import path

from . import views

app_name = "webhooks"
# One route per provider name in settings.SUFRAH_PROVIDERS (/webhooks/twilio/, /webhooks/meta/, …).
urlpatterns = [
    path("<str:provider>/", views.provider_webhook, name="inbound"),
    path("<str:provider>/status/", views.provider_status, name="status"),
]
