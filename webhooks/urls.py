from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("twilio/", views.twilio_inbound, name="twilio-inbound"),
    path("twilio/status/", views.twilio_status, name="twilio-status"),
    path("meta/", views.meta_webhook, name="meta"),
]
