"""One error body for every API failure, 400 to 500; CORS for the dashboard's origin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sufrahbot import errors
from tests.factories import RestaurantFactory

from .conftest import auth, error_of, staff, url

pytestmark = pytest.mark.django_db

DASHBOARD = "https://dashboard.sufrah.test"


@pytest.fixture
def member():
    return staff(RestaurantFactory(), role="ADMIN")


def _rid(user) -> int:
    return user.memberships.get().restaurant_id


def test_unknown_api_route_is_404_with_the_error_body(api, member):
    response = api.get("/api/v1/restaurants/1/nothing-here/", **auth(member))

    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_wrong_method_is_405_with_the_error_body(api, member):
    response = api.delete(url(_rid(member), "conversations/"), **auth(member))

    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_unsupported_media_type_is_415_and_broken_json_is_400(api, member):
    path = url(_rid(member), "menu/categories/")

    xml = api.generic("POST", path, "<category/>", content_type="application/xml", **auth(member))
    broken = api.generic("POST", path, '{"name_en": ', content_type="application/json", **auth(member))

    assert xml.status_code == 415 and error_of(xml)["code"] == "unsupported_media_type"
    assert broken.status_code == 400 and error_of(broken)["code"] == "parse_error"


def test_an_unexpected_error_is_500_with_the_error_body_and_no_internals(api, member, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("conversations.api.conversation_stats", explode)

    response = api.get(url(_rid(member), "conversations/stats/"), **auth(member))

    assert response.status_code == 500
    assert error_of(response) == {"code": "server_error", "message": "Internal server error.", "details": {}}
    assert b"hunter2" not in response.content


def test_the_dashboard_origin_gets_cors_headers_and_others_do_not(api, member, settings):
    settings.CORS_ALLOWED_ORIGINS = [DASHBOARD]
    path = url(_rid(member), "conversations/")

    preflight = api.options(
        path,
        HTTP_ORIGIN=DASHBOARD,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,idempotency-key",
    )
    actual = api.get(path, HTTP_ORIGIN=DASHBOARD, **auth(member))
    foreign = api.get(path, HTTP_ORIGIN="https://evil.example", **auth(member))

    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == DASHBOARD
    assert "authorization" in preflight["Access-Control-Allow-Headers"].lower()
    assert "idempotency-key" in preflight["Access-Control-Allow-Headers"].lower()  # staff replies send it
    assert actual["Access-Control-Expose-Headers"] == "Idempotent-Replayed"
    assert actual.status_code == 200 and actual["Access-Control-Allow-Origin"] == DASHBOARD
    assert foreign.status_code == 200 and not foreign.has_header("Access-Control-Allow-Origin")


def test_a_domain_error_is_answered_by_the_handler_with_its_status_code_and_details():
    refused = errors.IllegalTransition("Cannot move order #1001.", from_status="RATED", to_status="CANCELLED")

    response = errors.api_exception_handler(refused, {})

    assert response.status_code == 409
    details = {"from_status": "RATED", "allowed": []}
    assert response.data == errors.error_body("illegal_transition", "Cannot move order #1001.", details)
    in_use = errors.api_exception_handler(errors.InUse("Still used.", code="sender_in_use"), {})
    assert (in_use.status_code, in_use.data["error"]["code"]) == (409, "sender_in_use")


def test_no_view_translates_a_domain_error_by_hand():
    # The exception handler maps every DomainError; a view catching one would answer it its own way.
    domain = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
    domain = {name for name in domain if issubclass(getattr(errors, name), errors.DomainError)}
    root = Path(__file__).resolve().parents[2]
    caught = []
    for path in [*root.glob("*/api.py"), *root.glob("*/views.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "") for n in ast.walk(node.type)}
                caught += [f"{path.relative_to(root)}:{node.lineno}" for _ in names & domain]
    assert caught == []
