"""One pagination shape for every API list: {"next": url | null, "previous": url | null, "results": [...]}.

Cursor pagination throughout: stable while new rows arrive (a chat keeps growing at its head), and no
COUNT(*) over a tenant's whole history. `?page_size=` (1–100, default 25) sets the page length; the
`next` / `previous` URLs carry an opaque `cursor`. Each list chooses its order with a subclass; the first
ordering field must be non-null (it becomes the cursor position) and the last one unique.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


class CursorPage(CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-id",)


class OldestFirstPage(CursorPage):
    ordering = ("id",)


def paginated_response(
    *,
    queryset: QuerySet,
    serializer_class: type[BaseSerializer],
    request: Request,
    view: APIView,
    pagination_class: type[CursorPage] | None = None,
) -> Response:
    """Serialise one page of `queryset` in the shared pagination shape."""
    paginator = (pagination_class or getattr(view, "pagination_class", None) or CursorPage)()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, "view": view}).data
    return paginator.get_paginated_response(data)
