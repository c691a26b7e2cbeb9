"""Back office pages inside the admin site: the live inbox, analytics, and the staff invitation form.

Thin views: the inbox is a client of the dashboard API (the same service path as any dashboard: a reply
goes through conversation_reply and pauses the bot) and of the events websocket; analytics reads
backoffice.analytics selectors; the invitation calls restaurants.staff.staff_invite.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from restaurants.auth import token_pair_for
from restaurants.models import Restaurant, StaffMembership, StaffRole
from restaurants.staff import staff_invite as staff_invite_service

from .analytics import MAX_RANGE_DAYS, AnalyticsRange, analytics_summary, default_range
from .branding import staff_restaurants
from .charts import bar_chart, line_chart


def _restaurant_of(request: HttpRequest, rid: int | None, *, role: str | None = None) -> Restaurant:
    """One of the user's restaurants (404 for any other: another tenant's id reveals nothing)."""
    restaurants = staff_restaurants(request.user)
    if role is not None and not request.user.is_superuser:
        allowed = set(
            StaffMembership.objects.filter(user=request.user, role=role).values_list("restaurant_id", flat=True)
        )
        restaurants = [r for r in restaurants if r.pk in allowed]
    if not restaurants:
        raise Http404("No restaurant.")
    if rid is None:
        return restaurants[0]
    for restaurant in restaurants:
        if restaurant.pk == rid:
            return restaurant
    raise Http404("No such restaurant.")


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def inbox(request: HttpRequest) -> HttpResponse:
    restaurant = _restaurant_of(request, _int_or_none(request.GET.get("restaurant")))
    tokens = token_pair_for(user=request.user)
    config = {
        "restaurant_id": restaurant.pk,
        "user_id": request.user.pk,
        "api": "/api/v1/",
        "ws": "/ws/events/",
        "access": tokens["access"],
        "refresh": tokens["refresh"],
        "conversation_id": _int_or_none(request.GET.get("conversation")),
        "timezone": restaurant.timezone,
    }
    context = {
        **admin.site.each_context(request),
        "title": f"Inbox · {restaurant.name_en}",
        "restaurant": restaurant,
        "restaurants": staff_restaurants(request.user),
        "inbox_config": config,
    }
    return TemplateResponse(request, "backoffice/inbox.html", context)


class RangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if any(d and not 2000 <= d.year <= 2100 for d in (start, end)):
            raise ValidationError("Give dates between 2000 and 2100.")
        if start and end and start > end:
            raise ValidationError("The start date must not be after the end date.")
        if start and end and (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"A range covers at most {MAX_RANGE_DAYS} days.")
        return cleaned


def analytics_index(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("admin:analytics", kwargs={"rid": _restaurant_of(request, None).pk}))


def analytics_page(request: HttpRequest, rid: int) -> HttpResponse:
    restaurant = _restaurant_of(request, rid)
    form = RangeForm(request.GET or None)
    period = default_range(restaurant=restaurant)
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or period.start
        end = form.cleaned_data.get("end") or period.end
        period = AnalyticsRange(start=start, end=end)
    if not form.is_bound:
        form = RangeForm(initial={"start": period.start, "end": period.end})
    summary = analytics_summary(restaurant=restaurant, period=period)
    days = summary["orders_per_day"]
    charts = {
        "orders": bar_chart([(d["day"][5:], d["orders"]) for d in days], title="Orders per day"),
        "revenue": line_chart([(d["day"][5:], float(d["revenue"])) for d in days], title="Revenue per day"),
        "ratings": bar_chart(
            [(f"{r['stars']}★", r["count"]) for r in summary["ratings"]["distribution"]], title="Ratings"
        ),
        "rating_avg": line_chart(
            [(w["week"][5:], w["average"]) for w in summary["ratings"]["average_by_week"]],
            title="Average rating per week",
            y_max=5,
        ),
        "hours": bar_chart(
            [(f"{h['hour']:02d}", h["orders"]) for h in summary["busiest_hours"]], title="Orders by hour"
        ),
        "dishes": bar_chart(
            [(d["name_en"][:14], d["quantity"]) for d in summary["top_dishes"]], title="Top dishes (quantity)"
        ),
    }
    context = {
        **admin.site.each_context(request),
        "title": f"Analytics · {restaurant.name_en}",
        "restaurant": restaurant,
        "restaurants": staff_restaurants(request.user),
        "form": form,
        "period": period,
        "summary": summary,
        "charts": charts,
    }
    return TemplateResponse(request, "backoffice/analytics.html", context)


class InviteForm(forms.Form):
    restaurant = forms.ModelChoiceField(queryset=Restaurant.objects.none())
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=StaffRole.choices, initial=StaffRole.AGENT)

    def __init__(self, *args, restaurants: list[Restaurant], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["restaurant"].queryset = Restaurant.objects.filter(pk__in=[r.pk for r in restaurants])


def staff_invite(request: HttpRequest) -> HttpResponse:
    """Platform admins invite staff to any restaurant; a restaurant's ADMINs to their own."""
    if request.user.is_superuser:
        restaurants = staff_restaurants(request.user)
    else:
        restaurants = [
            m.restaurant
            for m in StaffMembership.objects.filter(user=request.user, role=StaffRole.ADMIN).select_related(
                "restaurant"
            )
        ]
    if not restaurants:
        raise PermissionDenied
    form = InviteForm(request.POST or None, restaurants=restaurants)
    invitation = None
    if request.method == "POST" and form.is_valid():
        try:
            invitation = staff_invite_service(
                restaurant=form.cleaned_data["restaurant"],
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                source="admin",
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"{invitation.user.username} is now {invitation.membership.get_role_display()} of "
                f"{invitation.membership.restaurant.name_en}. Send them the link below to set a password.",
            )
    context = {
        **admin.site.each_context(request),
        "title": "Invite staff",
        "form": form,
        "invitation": invitation,
    }
    return TemplateResponse(request, "backoffice/invite.html", context)
