"""Dashboard API of the restaurants room: the menu (reads for staff, writes for ADMIN), the plan's usage,
staff invitations (ADMIN) and, for platform admins, senders across restaurants (secrets are write-only:
responses show masked forms)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from providers.registry import credential_fields, provider_choices, providers
from sufrahbot.crypto import mask
from sufrahbot.errors import error_responses
from sufrahbot.pagination import CursorPage, OldestFirstPage, paginated_response

from .models import PLAN_LIMITS, MenuCategory, MenuItem, Restaurant, Sender, StaffMembership, StaffRole
from .permissions import ApiKeyScope, IsPlatformAdmin, RestaurantScopedView
from .selectors import usage_of
from .services import (
    menu_category_create,
    menu_category_delete,
    menu_category_update,
    menu_item_create,
    menu_item_delete,
    menu_item_photo_clear,
    menu_item_photo_set,
    menu_item_update,
    sender_delete,
    sender_register,
    sender_update,
)
from .staff import staff_invite

# --- menu reads (staff see inactive categories and unavailable items too) -----------------------------------


def _menu_categories(*, restaurant: Restaurant) -> QuerySet[MenuCategory]:
    return MenuCategory.objects.filter(restaurant=restaurant)


def _menu_items(*, restaurant: Restaurant, category_id: int | None = None) -> QuerySet[MenuItem]:
    items = MenuItem.objects.filter(restaurant=restaurant)
    if category_id is not None:
        items = items.filter(category_id=category_id)
    return items


def _menu_category_or_404(*, restaurant: Restaurant, category_id: int) -> MenuCategory:
    category = _menu_categories(restaurant=restaurant).filter(pk=category_id).first()
    if category is None:
        raise exceptions.NotFound("No such menu category.")
    return category


def _menu_item_or_404(*, restaurant: Restaurant, item_id: int) -> MenuItem:
    item = _menu_items(restaurant=restaurant).select_related("category").filter(pk=item_id).first()
    if item is None:
        raise exceptions.NotFound("No such menu item.")
    return item


# --- menu shapes ---------------------------------------------------------------------------------------------


class MenuItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category_id = serializers.IntegerField()
    name_ar = serializers.CharField()
    name_en = serializers.CharField()
    description_ar = serializers.CharField()
    description_en = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    available = serializers.BooleanField()
    image_url = serializers.CharField()
    photo_url = serializers.SerializerMethodField(
        help_text="The uploaded photo as WhatsApp gets it (JPEG, ≤ 1600 px), for staff (same Authorization)."
    )
    thumbnail_url = serializers.SerializerMethodField(help_text="Its 320 px thumbnail for lists.")
    sort_order = serializers.IntegerField()

    def _photo(self, item: MenuItem, size: str) -> str | None:
        if not item.image:
            return None
        path = reverse("api:menu-item-photo", kwargs={"rid": item.restaurant_id, "item_id": item.pk})
        return f"{path}?size={size}"

    def get_photo_url(self, item: MenuItem) -> str | None:
        return self._photo(item, "whatsapp")

    def get_thumbnail_url(self, item: MenuItem) -> str | None:
        return self._photo(item, "thumbnail")


class MenuCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name_ar = serializers.CharField()
    name_en = serializers.CharField()
    sort_order = serializers.IntegerField()
    active = serializers.BooleanField()


class MenuCategoryWithItemsSerializer(MenuCategorySerializer):
    items = MenuItemSerializer(many=True)


class MenuSerializer(serializers.Serializer):
    restaurant_id = serializers.IntegerField()
    currency = serializers.CharField()
    categories = MenuCategoryWithItemsSerializer(many=True)


class MenuCategoryInputSerializer(serializers.Serializer):
    name_ar = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=100)
    sort_order = serializers.IntegerField(required=False, default=0, min_value=-1_000_000, max_value=1_000_000)
    active = serializers.BooleanField(required=False, default=True)


class MenuCategoryPatchSerializer(MenuCategoryInputSerializer):
    name_ar = serializers.CharField(max_length=100, required=False)
    name_en = serializers.CharField(max_length=100, required=False)
    sort_order = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    active = serializers.BooleanField(required=False)


class MenuItemInputSerializer(serializers.Serializer):
    category = serializers.PrimaryKeyRelatedField(
        queryset=MenuCategory.objects.none(), help_text="Id of a category of this restaurant."
    )
    name_ar = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=100)
    description_ar = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    description_en = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    available = serializers.BooleanField(required=False, default=True)
    image_url = serializers.URLField(max_length=200, required=False, allow_blank=True, default="")
    sort_order = serializers.IntegerField(required=False, default=0, min_value=-1_000_000, max_value=1_000_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        restaurant = self.context.get("restaurant")  # None while the schema is generated
        if restaurant is not None:
            self.fields["category"].queryset = _menu_categories(restaurant=restaurant)


class MenuItemPatchSerializer(MenuItemInputSerializer):
    category = serializers.PrimaryKeyRelatedField(
        queryset=MenuCategory.objects.none(), required=False, help_text="Id of a category of this restaurant."
    )
    name_ar = serializers.CharField(max_length=100, required=False)
    name_en = serializers.CharField(max_length=100, required=False)
    description_ar = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description_en = serializers.CharField(max_length=300, required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    available = serializers.BooleanField(required=False)
    image_url = serializers.URLField(max_length=200, required=False, allow_blank=True)
    sort_order = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)


# --- menu views ----------------------------------------------------------------------------------------------

MENU_WRITE_ERRORS = (400, 401, 403, 404, 415)


class MenuOrderPage(CursorPage):
    ordering = ("sort_order", "id")


class MenuApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MENU_MANAGE})
    @extend_schema(
        operation_id="menu_retrieve",
        summary="The whole menu: categories with their items, inactive and unavailable ones included",
        responses={200: MenuSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        items = _menu_items(restaurant=self.restaurant).order_by("sort_order", "id")
        categories = (
            _menu_categories(restaurant=self.restaurant)
            .prefetch_related(Prefetch("items", queryset=items))
            .order_by("sort_order", "id")
        )
        data = {"restaurant_id": self.restaurant.pk, "currency": self.restaurant.currency, "categories": categories}
        return Response(MenuSerializer(data).data)


class MenuCategoryListApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MENU_MANAGE})
    write_role = StaffRole.ADMIN
    pagination_class = MenuOrderPage

    @extend_schema(
        operation_id="menu_categories_list",
        summary="Menu categories, in menu order",
        responses={200: MenuCategorySerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        return paginated_response(
            queryset=_menu_categories(restaurant=self.restaurant),
            serializer_class=MenuCategorySerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="menu_categories_create",
        summary="Add a category (ADMIN)",
        request=MenuCategoryInputSerializer,
        responses={201: MenuCategorySerializer, **error_responses(*MENU_WRITE_ERRORS)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = MenuCategoryInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = menu_category_create(restaurant=self.restaurant, by=request.user, **serializer.validated_data)
        return Response(MenuCategorySerializer(category).data, status=status.HTTP_201_CREATED)


class MenuCategoryDetailApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MENU_MANAGE})
    write_role = StaffRole.ADMIN

    @extend_schema(
        operation_id="menu_categories_retrieve",
        summary="One category with its items",
        responses={200: MenuCategoryWithItemsSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, category_id: int) -> Response:
        category = _menu_category_or_404(restaurant=self.restaurant, category_id=category_id)
        return Response(MenuCategoryWithItemsSerializer(category).data)

    @extend_schema(
        operation_id="menu_categories_update",
        summary="Change a category (ADMIN)",
        request=MenuCategoryPatchSerializer,
        responses={200: MenuCategorySerializer, **error_responses(*MENU_WRITE_ERRORS)},
    )
    def patch(self, request: Request, rid: int, category_id: int) -> Response:
        category = _menu_category_or_404(restaurant=self.restaurant, category_id=category_id)
        serializer = MenuCategoryPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = menu_category_update(category=category, data=serializer.validated_data, by=request.user)
        return Response(MenuCategorySerializer(category).data)

    @extend_schema(
        operation_id="menu_categories_destroy",
        summary="Delete a category and its items (ADMIN); placed orders keep their copies",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, rid: int, category_id: int) -> Response:
        category = _menu_category_or_404(restaurant=self.restaurant, category_id=category_id)
        menu_category_delete(category=category, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MenuItemListApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MENU_MANAGE})
    write_role = StaffRole.ADMIN
    pagination_class = MenuOrderPage

    class FilterSerializer(serializers.Serializer):
        category = serializers.IntegerField(required=False, min_value=1, help_text="Only this category's items.")

    @extend_schema(
        operation_id="menu_items_list",
        summary="Menu items, in menu order",
        parameters=[FilterSerializer],
        responses={200: MenuItemSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return paginated_response(
            queryset=_menu_items(restaurant=self.restaurant, category_id=params.validated_data.get("category")),
            serializer_class=MenuItemSerializer,
            request=request,
            view=self,
        )

    @extend_schema(
        operation_id="menu_items_create",
        summary="Add an item (ADMIN)",
        request=MenuItemInputSerializer,
        responses={201: MenuItemSerializer, **error_responses(*MENU_WRITE_ERRORS)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = MenuItemInputSerializer(data=request.data, context={"restaurant": self.restaurant})
        serializer.is_valid(raise_exception=True)
        item = menu_item_create(restaurant=self.restaurant, by=request.user, **serializer.validated_data)
        return Response(MenuItemSerializer(item).data, status=status.HTTP_201_CREATED)


class MenuItemDetailApi(RestaurantScopedView):
    key_read_scopes = key_write_scopes = frozenset({ApiKeyScope.MENU_MANAGE})
    write_role = StaffRole.ADMIN

    @extend_schema(
        operation_id="menu_items_retrieve",
        summary="One menu item",
        responses={200: MenuItemSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int, item_id: int) -> Response:
        return Response(MenuItemSerializer(_menu_item_or_404(restaurant=self.restaurant, item_id=item_id)).data)

    @extend_schema(
        operation_id="menu_items_update",
        summary="Change an item (ADMIN)",
        request=MenuItemPatchSerializer,
        responses={200: MenuItemSerializer, **error_responses(*MENU_WRITE_ERRORS)},
    )
    def patch(self, request: Request, rid: int, item_id: int) -> Response:
        item = _menu_item_or_404(restaurant=self.restaurant, item_id=item_id)
        serializer = MenuItemPatchSerializer(data=request.data, context={"restaurant": self.restaurant})
        serializer.is_valid(raise_exception=True)
        item = menu_item_update(item=item, data=serializer.validated_data, by=request.user)
        return Response(MenuItemSerializer(item).data)

    @extend_schema(
        operation_id="menu_items_destroy",
        summary="Delete an item (ADMIN); placed orders keep their copies",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, rid: int, item_id: int) -> Response:
        menu_item_delete(item=_menu_item_or_404(restaurant=self.restaurant, item_id=item_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MenuItemPhotoInputSerializer(serializers.Serializer):
    image = serializers.FileField(
        help_text="JPEG, PNG or WebP, at most MENU_PHOTO_MAX_UPLOAD_BYTES (10 MB); resized to 1600 px and 320 px."
    )


class MenuItemPhotoApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN
    parser_classes = [MultiPartParser]

    class SizeSerializer(serializers.Serializer):
        size = serializers.ChoiceField(choices=["whatsapp", "thumbnail"], required=False, default="whatsapp")

    @extend_schema(
        operation_id="menu_item_photo_retrieve",
        summary="The item's photo (JPEG)",
        parameters=[SizeSerializer],
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The photo."),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request, rid: int, item_id: int) -> FileResponse:
        item = _menu_item_or_404(restaurant=self.restaurant, item_id=item_id)
        params = self.SizeSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        photo = item.image_thumbnail if params.validated_data["size"] == "thumbnail" else item.image
        if not photo:
            raise exceptions.NotFound("This item has no photo.")
        response = FileResponse(photo.open("rb"), content_type="image/jpeg")
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(
        operation_id="menu_item_photo_update",
        summary="Upload the item's photo (ADMIN): checked, resized for WhatsApp and a thumbnail",
        description="multipart/form-data with `image`. Oversized or non-image files get a 400 naming the problem.",
        request={"multipart/form-data": MenuItemPhotoInputSerializer},
        responses={200: MenuItemSerializer, **error_responses(400, 401, 403, 404, 415)},
    )
    def put(self, request: Request, rid: int, item_id: int) -> Response:
        item = _menu_item_or_404(restaurant=self.restaurant, item_id=item_id)
        serializer = MenuItemPhotoInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = menu_item_photo_set(item=item, upload=serializer.validated_data["image"], by=request.user)
        return Response(MenuItemSerializer(item).data)

    @extend_schema(
        operation_id="menu_item_photo_destroy",
        summary="Remove the item's photo (ADMIN)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, rid: int, item_id: int) -> Response:
        item = _menu_item_or_404(restaurant=self.restaurant, item_id=item_id)
        menu_item_photo_clear(item=item, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- senders (platform admins only) --------------------------------------------------------------------------


def _credentials_serializer(*, output: bool) -> type[serializers.Serializer]:
    """A serializer generated from every provider's credential schema: secrets are write-only on the way in
    and only masked on the way out (`<name>_masked`)."""
    attrs: dict = {}
    for field in credential_fields().values():
        users = ", ".join(p.name for p in providers() if field.name in {f.name for f in p.credentials})
        help_text = f"{field.label} ({users}). {field.help_text}".strip()
        if output:
            name = f"{field.name}_masked" if field.secret else field.name
            attrs[name] = serializers.CharField(help_text=("Masked; " if field.secret else "") + help_text)
        else:
            attrs[field.name] = serializers.CharField(
                max_length=field.max_length,
                required=False,
                allow_blank=True,
                write_only=field.secret,
                help_text=help_text,
            )
    name = "SenderCredentials" if output else "SenderCredentialsInput"
    return type(name, (serializers.Serializer,), attrs)


SenderCredentialsSerializer = _credentials_serializer(output=True)
SenderCredentialsInputSerializer = _credentials_serializer(output=False)


def sender_credentials_shown(sender: Sender) -> dict[str, str]:
    shown = {}
    for field in credential_fields().values():
        value = sender.credentials.get(field.name, "")
        if field.secret:
            shown[f"{field.name}_masked"] = mask(value)
        else:
            shown[field.name] = value
    return shown


class SenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    restaurant_id = serializers.IntegerField()
    provider = serializers.CharField(help_text="A provider name (settings.SUFRAH_PROVIDERS).")
    phone_number = serializers.CharField(help_text="E.164")
    credentials = serializers.SerializerMethodField(help_text="The provider's credentials; secrets masked.")
    messages_per_minute = serializers.IntegerField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(SenderCredentialsSerializer)
    def get_credentials(self, sender: Sender) -> dict[str, str]:
        return sender_credentials_shown(sender)


class SenderCreateInputSerializer(serializers.Serializer):
    restaurant = serializers.PrimaryKeyRelatedField(queryset=Restaurant.objects.all())
    provider = serializers.ChoiceField(choices=provider_choices())
    phone_number = serializers.CharField(max_length=40, help_text="Any common format; stored as E.164.")
    credentials = SenderCredentialsInputSerializer(help_text="The chosen provider's credentials.")
    messages_per_minute = serializers.IntegerField(required=False, default=600, min_value=1, max_value=1_000_000)


class SenderUpdateInputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=provider_choices(), required=False)
    phone_number = serializers.CharField(max_length=40, required=False)
    credentials = SenderCredentialsInputSerializer(
        required=False, help_text="Only the credentials that change; the others keep their stored values."
    )
    messages_per_minute = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    active = serializers.BooleanField(required=False)


class SenderFilterSerializer(serializers.Serializer):
    restaurant = serializers.IntegerField(required=False, min_value=1, help_text="Only this restaurant's senders.")


SENDER_ADMIN_ERRORS = (400, 401, 403, 409, 415)  # 409: the plan's senders are taken


class PlatformAdminView(APIView):
    permission_classes = [IsAuthenticated, IsPlatformAdmin]


def _sender_or_404(sender_id: int) -> Sender:
    sender = Sender.objects.filter(pk=sender_id).first()
    if sender is None:
        raise exceptions.NotFound("No such sender.")
    return sender


class SenderListApi(PlatformAdminView):
    pagination_class = OldestFirstPage

    @extend_schema(
        operation_id="admin_senders_list",
        summary="Senders of every restaurant (platform admins)",
        parameters=[SenderFilterSerializer],
        responses={200: SenderSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        params = SenderFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        senders = Sender.objects.all()
        if params.validated_data.get("restaurant"):
            senders = senders.filter(restaurant_id=params.validated_data["restaurant"])
        return paginated_response(queryset=senders, serializer_class=SenderSerializer, request=request, view=self)

    @extend_schema(
        operation_id="admin_senders_create",
        summary="Register a sender (platform admins); secrets are write-only",
        request=SenderCreateInputSerializer,
        responses={201: SenderSerializer, **error_responses(*SENDER_ADMIN_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        serializer = SenderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sender = sender_register(**serializer.validated_data, by=request.user, source="api")
        return Response(SenderSerializer(sender).data, status=status.HTTP_201_CREATED)


class SenderDetailApi(PlatformAdminView):
    @extend_schema(
        operation_id="admin_senders_retrieve",
        summary="One sender (platform admins)",
        responses={200: SenderSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, sender_id: int) -> Response:
        return Response(SenderSerializer(_sender_or_404(sender_id)).data)

    @extend_schema(
        operation_id="admin_senders_update",
        summary="Change a sender (platform admins); credentials left out keep their stored values",
        request=SenderUpdateInputSerializer,
        responses={200: SenderSerializer, **error_responses(*SENDER_ADMIN_ERRORS, 404)},
    )
    def patch(self, request: Request, sender_id: int) -> Response:
        sender = _sender_or_404(sender_id)
        serializer = SenderUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sender = sender_update(sender=sender, data=serializer.validated_data, by=request.user, source="api")
        return Response(SenderSerializer(sender).data)

    @extend_schema(
        operation_id="admin_senders_destroy",
        summary="Delete a sender without conversations (platform admins); otherwise 409: deactivate it",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, sender_id: int) -> Response:
        sender_delete(sender=_sender_or_404(sender_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- plan usage and staff (restaurants/{rid}/usage/, staff/) -------------------------------------------------


class UsageLimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True, help_text="The plan's limit (override applied); null: none.")
    used = serializers.IntegerField(help_text="This month's count (senders and seats: what there is now).")
    description = serializers.CharField()


class UsageSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The first day of this month in the restaurant's timezone.")
    plan = serializers.CharField(allow_null=True, help_text="The plan's name; null: no plan (no limits).")
    limits = serializers.DictField(child=UsageLimitSerializer(), help_text=f"By limit: {', '.join(PLAN_LIMITS)}.")
    over_plan_messages = serializers.IntegerField(
        help_text="Customer messages received this month over the plan (stored and answered, flagged)."
    )


class UsageApi(RestaurantScopedView):
    @extend_schema(
        operation_id="restaurant_usage_retrieve",
        summary="This month's usage next to the plan's limits",
        responses={200: UsageSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        usage = usage_of(restaurant=self.restaurant)
        data = {
            "month": usage.month,
            "plan": self.restaurant.plan.name if self.restaurant.plan_id else None,
            "limits": {
                name: {"limit": usage.limits[name], "used": usage.used[name], "description": label}
                for name, label in PLAN_LIMITS.items()
            },
            "over_plan_messages": usage.over_plan_messages,
        }
        return Response(UsageSerializer(data).data)


class StaffMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=StaffRole.choices)
    created_at = serializers.DateTimeField()


class StaffInviteInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, default="")
    role = serializers.ChoiceField(choices=StaffRole.choices, default=StaffRole.AGENT)


class StaffInvitationSerializer(serializers.Serializer):
    member = StaffMemberSerializer(source="membership")
    created_user = serializers.BooleanField()
    password_link = serializers.CharField(help_text="One use: where the person sets their password.")


class StaffPage(CursorPage):
    ordering = ("id",)


class StaffListApi(RestaurantScopedView):
    write_role = StaffRole.ADMIN
    pagination_class = StaffPage

    @extend_schema(
        operation_id="staff_list",
        summary="The restaurant's staff and their roles",
        responses={200: StaffMemberSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        members = StaffMembership.objects.filter(restaurant=self.restaurant).select_related("user")
        return paginated_response(queryset=members, serializer_class=StaffMemberSerializer, request=request, view=self)

    @extend_schema(
        operation_id="staff_invite",
        summary="Invite staff (ADMIN): a new member takes a seat of the plan (409 plan_limit_reached when none "
        "is left); answers the one-use password-set link",
        request=StaffInviteInputSerializer,
        responses={201: StaffInvitationSerializer, **error_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, rid: int) -> Response:
        serializer = StaffInviteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = staff_invite(
            restaurant=self.restaurant, invited_by=request.user, source="api", **serializer.validated_data
        )
        return Response(StaffInvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)
