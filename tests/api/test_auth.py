"""Login, refresh, revoke, and what makes a token stop working."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from rest_framework_simplejwt.tokens import AccessToken

from restaurants.models import StaffMembership
from tests.factories import RestaurantFactory, StaffMembershipFactory, UserFactory

from .conftest import PASSWORD, auth, error_of, staff, url

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
REVOKE = "/api/v1/auth/token/revoke/"


def _login(api, user, password=PASSWORD):
    return api.post(TOKEN, {"username": user.username, "password": password}, format="json")


def test_login_returns_a_pair_whose_access_token_names_the_users_restaurants_and_roles(api):
    first, second = RestaurantFactory(), RestaurantFactory()
    user = UserFactory()
    StaffMembershipFactory(user=user, restaurant=first, role="ADMIN")
    StaffMembershipFactory(user=user, restaurant=second, role="AGENT")

    response = _login(api, user)

    assert response.status_code == 200
    claims = jwt.decode(response.json()["access"], options={"verify_signature": False})
    assert claims["user_id"] == str(user.pk)
    assert claims["username"] == user.username and claims["platform_admin"] is False
    assert claims["restaurants"] == [{"id": first.pk, "role": "ADMIN"}, {"id": second.pk, "role": "AGENT"}]
    listed = api.get(url(first.pk, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert listed.status_code == 200


def test_wrong_password_and_inactive_users_get_401_with_the_error_body(api):
    user = staff()
    inactive = staff(is_active=False)

    for response in (_login(api, user, password="wrong"), _login(api, inactive)):
        assert response.status_code == 401
        assert error_of(response)["code"] == "no_active_account"
        assert "access" not in response.json()


def test_login_without_fields_names_each_missing_field(api):
    response = api.post(TOKEN, {}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"username", "password"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "],
    ids=["missing", "garbage", "wrong-scheme", "empty"],
)
def test_no_or_malformed_token_is_401(api, authorization):
    restaurant = RestaurantFactory()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = api.get(url(restaurant.pk, "conversations/"), **headers)

    assert response.status_code == 401
    assert error_of(response)["code"] in {"not_authenticated", "token_not_valid", "authentication_failed"}
    assert response.has_header("WWW-Authenticate")


def test_forged_and_expired_tokens_are_401(api, settings):
    user = staff()
    rid = user.memberships.get().restaurant_id
    genuine = AccessToken.for_user(user)
    forged = jwt.encode(dict(genuine.payload), "another-key-entirely-0123456789-abcdefghij", algorithm="HS256")
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))

    for token in (forged, str(expired)):
        response = api.get(url(rid, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert error_of(response)["code"] == "token_not_valid"
    assert api.get(url(rid, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {genuine}").status_code == 200


def test_a_refresh_token_is_not_an_access_token(api):
    user = staff()
    rid = user.memberships.get().restaurant_id
    refresh = _login(api, user).json()["refresh"]

    response = api.get(url(rid, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {refresh}")

    assert response.status_code == 401


def test_refresh_rotates_and_the_used_refresh_token_is_refused_afterwards(api):
    user = staff()
    pair = _login(api, user).json()

    refreshed = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    replayed = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")

    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access", "refresh"} and refreshed.json()["refresh"] != pair["refresh"]
    assert replayed.status_code == 401 and error_of(replayed)["code"] == "token_not_valid"
    assert api.post(REFRESH, {"refresh": refreshed.json()["refresh"]}, format="json").status_code == 200


def test_refresh_reads_the_claims_again(api):
    user = staff(role="AGENT")
    membership = user.memberships.get()
    pair = _login(api, user).json()
    membership.role = "ADMIN"
    membership.save()

    access = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()["access"]

    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["restaurants"] == [{"id": membership.restaurant_id, "role": "ADMIN"}]


def test_revoked_refresh_token_is_refused(api):
    user = staff()
    pair = _login(api, user).json()

    revoked = api.post(REVOKE, {"refresh": pair["refresh"]}, format="json")
    refreshed = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    revoked_again = api.post(REVOKE, {"refresh": pair["refresh"]}, format="json")

    assert revoked.status_code == 204
    assert refreshed.status_code == 401 and error_of(refreshed)["code"] == "token_not_valid"
    assert revoked_again.status_code == 401


def test_refresh_and_revoke_validate_their_input(api):
    for path in (REFRESH, REVOKE):
        missing = api.post(path, {}, format="json")
        garbage = api.post(path, {"refresh": "nope"}, format="json")
        assert missing.status_code == 400 and "refresh" in error_of(missing)["details"]
        assert garbage.status_code == 401


def test_a_deactivated_user_loses_access_and_refresh_at_once(api):
    user = staff()
    rid = user.memberships.get().restaurant_id
    pair = _login(api, user).json()
    user.is_active = False
    user.save()

    listed = api.get(url(rid, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    refreshed = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")

    assert listed.status_code == 401
    assert refreshed.status_code == 401 and error_of(refreshed)["code"] == "no_active_account"


def test_a_deleted_user_cannot_refresh(api):
    user = staff()
    pair = _login(api, user).json()
    user.delete()

    response = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 401


def test_removal_from_a_restaurant_takes_effect_at_once_whatever_the_token_claims(api):
    user = staff(role="ADMIN")
    rid = user.memberships.get().restaurant_id
    headers = auth(user)  # its claims list the restaurant as ADMIN
    assert api.get(url(rid, "conversations/"), **headers).status_code == 200

    StaffMembership.objects.filter(user=user).delete()
    response = api.get(url(rid, "conversations/"), **headers)

    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_claims_are_not_trusted_for_authorisation(api):
    outsider = staff()
    other = RestaurantFactory()
    token = AccessToken.for_user(outsider)
    token["restaurants"] = [{"id": other.pk, "role": "ADMIN"}]  # validly signed, but not what the DB says

    response = api.get(url(other.pk, "conversations/"), HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 404


def test_refresh_tokens_are_stored_only_as_jti_and_digest_and_a_dumped_row_refreshes_nothing(api):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from restaurants.auth import token_digest

    user = staff()
    first = _login(api, user).json()["refresh"]
    second = api.post(REFRESH, {"refresh": first}, format="json").json()["refresh"]
    api.post(REVOKE, {"refresh": second}, format="json")

    rows = list(OutstandingToken.objects.filter(user=user).order_by("id"))
    assert [row.token for row in rows] == [token_digest(first), token_digest(second)]
    stored = " ".join(value for row in rows for value in (row.token, row.jti))
    assert first not in stored and second not in stored
    assert all(row.token.startswith("sha256:") and len(row.token) == 71 for row in rows)
    # Both are blacklisted (rotation and logout), and a digest taken from a dump is not a token.
    for presented in (first, second, rows[0].token):
        assert api.post(REFRESH, {"refresh": presented}, format="json").status_code == 401
