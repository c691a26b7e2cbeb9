"""Brute force on the two password logins: locked per account and per IP, 429 + Retry-After, logged."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.factories import UserFactory

from .conftest import PASSWORD, error_of, staff

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def _login(api, username, password, ip="203.0.113.7"):
    return api.post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def test_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_429(api, settings, caplog):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    user = staff()
    statuses = []
    with caplog.at_level(logging.WARNING, logger="sufrahbot.security"):
        for attempt in range(100):
            statuses.append(_login(api, user.username, f"wrong-{attempt}").status_code)
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}

    response = _login(api, user.username, PASSWORD)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    error = error_of(response)
    assert error["code"] == "too_many_login_attempts"
    assert error["details"]["scope"] == "account" and int(error["details"]["retry_after"]) == int(
        response["Retry-After"]
    )
    assert "access" not in response.json()
    # Locked by account: another address does not get through either, and the username's case does not matter.
    assert _login(api, user.username.upper(), PASSWORD, ip="198.51.100.1").status_code == 429
    # One log line when the lock starts (not one per refused attempt), naming the account and the address.
    lockouts = [record for record in caplog.records if record.getMessage() == "login locked out"]
    assert len(lockouts) == 1
    assert (lockouts[0].scope, lockouts[0].username, lockouts[0].ip) == ("account", user.username, "203.0.113.7")
    # Other accounts are not affected.
    other = staff()
    assert _login(api, other.username, PASSWORD, ip="198.51.100.1").status_code == 200


def test_the_lock_ends_after_the_lockout(api, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    user = staff()
    for attempt in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT):
        _login(api, user.username, f"wrong-{attempt}")
    assert _login(api, user.username, PASSWORD).status_code == 429
    import time

    time.sleep(1.2)
    assert _login(api, user.username, PASSWORD).status_code == 200


def test_one_address_spraying_many_accounts_is_locked_by_ip(api, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 10
    users = [staff() for _ in range(12)]
    statuses = [_login(api, user.username, "wrong", ip="192.0.2.50").status_code for user in users[:10]]
    assert statuses[:9] == [401] * 9 and statuses[9] == 429

    response = _login(api, users[11].username, PASSWORD, ip="192.0.2.50")
    assert response.status_code == 429 and error_of(response)["details"]["scope"] == "ip"
    # The same account from another address still logs in: the lock is on the address.
    assert _login(api, users[11].username, PASSWORD, ip="192.0.2.51").status_code == 200


def test_a_success_clears_the_accounts_count(api, settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    user = staff()
    for _ in range(5):
        assert _login(api, user.username, "wrong").status_code == 401
        assert _login(api, user.username, "wrong").status_code == 401
        assert _login(api, user.username, PASSWORD).status_code == 200


def test_admin_login_is_locked_the_same_way(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    statuses = [
        browser.post("/admin/login/", {"username": admin_user.username, "password": f"wrong-{n}"}).status_code
        for n in range(100)
    ]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}  # 200: the form again, with its error

    response = browser.post("/admin/login/?next=/admin/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in browser.session
    # The API's token endpoint shares the account's lock.
    api = Client()
    assert (
        api.post(
            TOKEN, {"username": admin_user.username, "password": PASSWORD}, content_type="application/json"
        ).status_code
        == 429
    )


def test_admin_login_still_works_for_the_right_password(settings):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    response = browser.post("/admin/login/?next=/admin/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 302 and browser.session["_auth_user_id"] == str(admin_user.pk)
