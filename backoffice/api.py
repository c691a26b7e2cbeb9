"""GET restaurants/{rid}/analytics/?start=YYYY-MM-DD&end=YYYY-MM-DD: the analytics page's figures as JSON."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from restaurants.permissions import RestaurantScopedView
from sufrahbot.errors import error_responses

from .analytics import MAX_RANGE_DAYS, AnalyticsRange, analytics_summary, default_range


def _plausible(value: dt.date) -> dt.date:
    if not 2000 <= value.year <= 2100:  # also keeps end + 1 day and timezone offsets inside datetime's range
        raise serializers.ValidationError("Give a date between 2000 and 2100.")
    return value


class AnalyticsRangeSerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text="First day (restaurant's timezone); 30 days ago by default."
    )
    end = serializers.DateField(required=False, help_text="Last day, inclusive; today by default.")

    def validate_start(self, value: dt.date) -> dt.date:
        return _plausible(value)

    def validate_end(self, value: dt.date) -> dt.date:
        return _plausible(value)

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        return attrs


class AnalyticsApi(RestaurantScopedView):
    @extend_schema(
        operation_id="analytics_retrieve",
        summary="Orders, revenue, ratings, first-response times, busiest hours, top dishes, conversion",
        parameters=[AnalyticsRangeSerializer],
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, rid: int) -> Response:
        params = AnalyticsRangeSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        period = default_range(restaurant=self.restaurant)
        start = params.validated_data.get("start") or period.start
        end = params.validated_data.get("end") or max(period.end, start)
        if start > end:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        if (end - start) > dt.timedelta(days=MAX_RANGE_DAYS - 1):
            raise serializers.ValidationError({"end": [f"A range covers at most {MAX_RANGE_DAYS} days."]})
        return Response(analytics_summary(restaurant=self.restaurant, period=AnalyticsRange(start=start, end=end)))
