"""Routes of the dashboard API, mounted at /api/v1/. Every restaurants/<rid>/ route checks membership."""

from django.urls import include, path

from backoffice import api as backoffice_api
from campaigns import api as campaigns_api
from conversations import api as conversations_api
from integrations import api as integrations_api
from orders import api as orders_api
from restaurants import api as restaurants_api
from restaurants import auth
from templates import api as templates_api

app_name = "api"

restaurant_urlpatterns = [
    path("conversations/", conversations_api.ConversationListApi.as_view(), name="conversations"),
    path("conversations/stats/", conversations_api.ConversationStatsApi.as_view(), name="conversation-stats"),
    path("conversations/<int:cid>/", conversations_api.ConversationDetailApi.as_view(), name="conversation"),
    path(
        "conversations/<int:cid>/messages/",
        templates_api.ConversationMessagesWithTemplatesApi.as_view(),  # free text, or an approved template
        name="conversation-messages",
    ),
    path("media/<int:media_id>/", conversations_api.MessageMediaDownloadApi.as_view(), name="message-media"),
    path("conversations/<int:cid>/consent/", campaigns_api.ConsentApi.as_view(), name="conversation-consent"),
    path("campaigns/", campaigns_api.CampaignListApi.as_view(), name="campaigns"),
    path("campaigns/<int:campaign_id>/", campaigns_api.CampaignDetailApi.as_view(), name="campaign"),
    path(
        "campaigns/<int:campaign_id>/schedule/", campaigns_api.CampaignScheduleApi.as_view(), name="campaign-schedule"
    ),
    path("campaigns/<int:campaign_id>/pause/", campaigns_api.CampaignPauseApi.as_view(), name="campaign-pause"),
    path("campaigns/<int:campaign_id>/resume/", campaigns_api.CampaignResumeApi.as_view(), name="campaign-resume"),
    path("campaigns/<int:campaign_id>/cancel/", campaigns_api.CampaignCancelApi.as_view(), name="campaign-cancel"),
    path(
        "campaigns/<int:campaign_id>/recipients/",
        campaigns_api.CampaignRecipientsApi.as_view(),
        name="campaign-recipients",
    ),
    path("templates/", templates_api.TemplateListApi.as_view(), name="templates"),
    path("templates/preview/", templates_api.TemplatePreviewApi.as_view(), name="template-preview"),
    path("templates/<int:template_id>/", templates_api.TemplateDetailApi.as_view(), name="template"),
    path("templates/<int:template_id>/submit/", templates_api.TemplateSubmitApi.as_view(), name="template-submit"),
    path("orders/", orders_api.OrderListApi.as_view(), name="orders"),
    path("orders/<int:oid>/", orders_api.OrderDetailApi.as_view(), name="order"),
    path("orders/<int:oid>/transition/", orders_api.OrderTransitionApi.as_view(), name="order-transition"),
    path("analytics/", backoffice_api.AnalyticsApi.as_view(), name="analytics"),
    path("usage/", restaurants_api.UsageApi.as_view(), name="usage"),
    path("staff/", restaurants_api.StaffListApi.as_view(), name="staff"),
    path("menu/", restaurants_api.MenuApi.as_view(), name="menu"),
    path("menu/categories/", restaurants_api.MenuCategoryListApi.as_view(), name="menu-categories"),
    path(
        "menu/categories/<int:category_id>/",
        restaurants_api.MenuCategoryDetailApi.as_view(),
        name="menu-category",
    ),
    path("menu/items/", restaurants_api.MenuItemListApi.as_view(), name="menu-items"),
    path("menu/items/<int:item_id>/", restaurants_api.MenuItemDetailApi.as_view(), name="menu-item"),
    path("webhook-subscriptions/", integrations_api.SubscriptionListApi.as_view(), name="webhook-subscriptions"),
    path(
        "webhook-subscriptions/<int:subscription_id>/",
        integrations_api.SubscriptionDetailApi.as_view(),
        name="webhook-subscription",
    ),
    path(
        "webhook-subscriptions/<int:subscription_id>/rotate-secret/",
        integrations_api.SubscriptionRotateSecretApi.as_view(),
        name="webhook-subscription-rotate-secret",
    ),
    path(
        "webhook-subscriptions/<int:subscription_id>/redeliver/",
        integrations_api.SubscriptionRedeliverApi.as_view(),
        name="webhook-subscription-redeliver",
    ),
    path(
        "webhook-subscriptions/<int:subscription_id>/deliveries/",
        integrations_api.DeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/",
        integrations_api.DeliveryDetailApi.as_view(),
        name="webhook-delivery",
    ),
    path(
        "webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver/",
        integrations_api.DeliveryRedeliverApi.as_view(),
        name="webhook-delivery-redeliver",
    ),
    path("api-keys/", integrations_api.ApiKeyListApi.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>/", integrations_api.ApiKeyDetailApi.as_view(), name="api-key"),
    path("menu/items/<int:item_id>/photo/", restaurants_api.MenuItemPhotoApi.as_view(), name="menu-item-photo"),
]

urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", auth.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/token/revoke/", auth.TokenRevokeApi.as_view(), name="token-revoke"),
    path("restaurants/<int:rid>/", include(restaurant_urlpatterns)),
    path("admin/senders/", restaurants_api.SenderListApi.as_view(), name="admin-senders"),
    path("admin/senders/<int:sender_id>/", restaurants_api.SenderDetailApi.as_view(), name="admin-sender"),
]
