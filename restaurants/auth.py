"""Dashboard login: JWT access + refresh tokens (simplejwt).

The access token carries the user's restaurants and roles as claims so the dashboard can draw its menus
without a round trip; the API never trusts them (restaurants.permissions reads memberships from the database).
Refresh rotates: the presented refresh token is blacklisted and a new pair, with freshly read claims, is
issued. Revoking (logout) blacklists a refresh token; access tokens are short-lived (JWT_ACCESS_MINUTES) and a
deactivated user or a removed membership loses access at once regardless.

Refresh tokens are never stored: simplejwt's outstanding-token row (what the blacklist points at) keeps the
jti and a SHA-256 of the token (`sha256:<hex>`), so a database dump holds nothing that refreshes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin
from rest_framework_simplejwt.tokens import RefreshToken as SimpleJwtRefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from sufrahbot.errors import error_responses

from .login_throttle import client_ip, login_failed, login_lockout, login_succeeded
from .models import StaffMembership


def token_digest(raw_token: str) -> str:
    """What the outstanding-token table keeps instead of the token itself."""
    return "sha256:" + hashlib.sha256(raw_token.encode()).hexdigest()


class RefreshToken(SimpleJwtRefreshToken):
    """simplejwt's refresh token, recorded as outstanding/blacklisted by jti and digest (never in clear)."""

    def _outstanding(self, user=None) -> OutstandingToken:
        if user is None:
            user = (
                get_user_model()
                .objects.filter(**{api_settings.USER_ID_FIELD: self.payload.get(api_settings.USER_ID_CLAIM)})
                .first()
            )
        token, _ = OutstandingToken.objects.get_or_create(
            jti=self.payload[api_settings.JTI_CLAIM],
            defaults={
                "user": user,
                "created_at": self.current_time,
                "token": token_digest(str(self)),
                "expires_at": datetime_from_epoch(self.payload["exp"]),
            },
        )
        return token

    def outstand(self) -> OutstandingToken:
        return self._outstanding()

    def blacklist(self) -> tuple[BlacklistedToken, bool]:
        return BlacklistedToken.objects.get_or_create(token=self._outstanding())

    @classmethod
    def issue(cls, *, user, claims: dict[str, Any]) -> RefreshToken:
        """A new refresh token for `user` carrying `claims`, recorded as outstanding once it is final (the
        digest is of the token as handed out)."""
        # Token.for_user only builds the claims; simplejwt's BlacklistMixin.for_user would store it in clear.
        token = super(BlacklistMixin, cls).for_user(user)
        for claim, value in claims.items():
            token[claim] = value  # copied into the access token minted from it
        token._outstanding(user)
        return token

    @classmethod
    def for_user(cls, user) -> RefreshToken:
        return cls.issue(user=user, claims={})


def token_claims_for(*, user) -> dict[str, Any]:
    memberships = StaffMembership.objects.filter(user=user).order_by("restaurant_id")
    return {
        "username": user.get_username(),
        "platform_admin": bool(user.is_superuser),
        "restaurants": [{"id": m.restaurant_id, "role": m.role} for m in memberships],
    }


def token_pair_for(*, user) -> dict[str, str]:
    refresh = RefreshToken.issue(user=user, claims=token_claims_for(user=user))  # recorded, so it can be blacklisted
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def token_pair_refresh(*, raw_refresh: str) -> dict[str, str]:
    """Exchange a valid, unrevoked refresh token of an active user for a new pair (the old one is revoked)."""
    try:
        refresh = RefreshToken(raw_refresh)  # checks signature, expiry, type and the blacklist
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None
    user = (
        get_user_model()
        .objects.filter(**{api_settings.USER_ID_FIELD: refresh.payload.get(api_settings.USER_ID_CLAIM)})
        .first()
    )
    if user is None or not user.is_active:
        raise exceptions.AuthenticationFailed("No active account found for the given token.", "no_active_account")
    refresh.blacklist()
    return token_pair_for(user=user)


def token_revoke(*, raw_refresh: str) -> None:
    try:
        RefreshToken(raw_refresh).blacklist()
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None


# --- views -------------------------------------------------------------------------------------------------

TokenPair = inline_serializer(
    name="TokenPair",
    fields={
        "access": serializers.CharField(help_text="Bearer token for the API (short-lived)."),
        "refresh": serializers.CharField(help_text="Exchange at /api/v1/auth/token/refresh/ for a new pair."),
    },
)


class LoginLockedOut(exceptions.Throttled):
    """429 with Retry-After (DRF sets the header from `wait`) and the error body."""

    default_code = "too_many_login_attempts"

    def __init__(self, *, scope: str, retry_after: int):
        who = "this account" if scope == "account" else "this address"
        # Throttled's own __init__ appends to a string detail; ours is the error body's message + details.
        exceptions.APIException.__init__(
            self,
            detail={
                "detail": f"Too many failed logins for {who}; try again in {retry_after} seconds.",
                "retry_after": retry_after,
                "scope": scope,
            },
        )
        self.wait = retry_after


class TokenObtainInputSerializer(TokenObtainPairSerializer):
    """username + password; reuses simplejwt's credential check (inactive users are refused)."""

    def validate(self, attrs):
        super(TokenObtainPairSerializer, self).validate(attrs)  # authenticate only; the tokens are ours
        return token_pair_for(user=self.user)


class TokenApi(APIView):
    """Base of the token endpoints: open to anyone, and bad credentials are 401 (DRF would say 403 for a view
    without authenticators, for want of a WWW-Authenticate challenge)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TokenObtainApi(TokenApi):
    @extend_schema(
        operation_id="auth_token_obtain",
        summary="Log in: username and password for an access + refresh token pair",
        description=(
            "The access token's claims: `user_id`, `username`, `platform_admin`, and `restaurants` "
            "(a list of `{id, role}`). Send it as `Authorization: Bearer <access>`."
        ),
        request=TokenObtainInputSerializer,
        responses={200: TokenPair, **error_responses(400, 401, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        username = username if isinstance(username, str) else ""
        ip = client_ip(request)
        lock = login_lockout(username=username, ip=ip)
        if lock is not None:
            raise LoginLockedOut(scope=lock.scope, retry_after=lock.retry_after)
        serializer = TokenObtainInputSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.AuthenticationFailed:
            lock = login_failed(username=username, ip=ip)
            if lock is not None:  # this attempt started the lock: say so now rather than on the next one
                raise LoginLockedOut(scope=lock.scope, retry_after=lock.retry_after) from None
            raise
        login_succeeded(username=username)
        return Response(serializer.validated_data)


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class TokenRefreshApi(TokenApi):
    @extend_schema(
        operation_id="auth_token_refresh",
        summary="Exchange a refresh token for a new pair (the presented one is revoked)",
        request=RefreshInputSerializer,
        responses={200: TokenPair, **error_responses(400, 401)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(token_pair_refresh(raw_refresh=serializer.validated_data["refresh"]))


class TokenRevokeApi(TokenApi):
    @extend_schema(
        operation_id="auth_token_revoke",
        summary="Log out: revoke a refresh token",
        description="The refresh token is blacklisted; refreshing with it afterwards answers 401.",
        request=RefreshInputSerializer,
        responses={204: None, **error_responses(400, 401)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token_revoke(raw_refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)
