"""The events websocket against the real ASGI app and the real Redis channel layer.

pytest-asyncio is not used: each test builds its data in sync code and runs its websocket part with
async_to_sync. Database work inside that part goes through sync_to_async (it runs on the test's thread).
"""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from conversations.models import Message
from conversations.services.delivery import message_status_update
from integrations.catalogue import BY_TYPE
from restaurants.models import StaffMembership as StaffMembershipModel
from sufrahbot.events import publish
from tests.conftest import signed_post, twilio_inbound_params
from tests.factories import MessageFactory, RestaurantFactory, SenderFactory, StaffMembershipFactory, UserFactory

from .wsclient import DASHBOARD_ORIGIN, access_token, close_code_of, events_socket, frames_until_quiet, subscribed

# Real commits: events are sent on commit, exactly as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _dashboard_origin(settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = [DASHBOARD_ORIGIN]


def _member(*restaurants):
    user = UserFactory()
    for restaurant in restaurants:
        StaffMembershipFactory(user=user, restaurant=restaurant)
    return user


def _announce(restaurant_id: int, marker: str) -> None:
    # A whole conversation object (the catalogue's example): the test settings check every event's shape.
    conversation = {**BY_TYPE["conversation.updated"].example, "id": 0, "customer_name": marker}
    publish(restaurant_id, {"type": "conversation.updated", "conversation": conversation})


announce = sync_to_async(_announce)


def _names(frames: list[dict]) -> list[tuple[int, str]]:
    return [(f["restaurant_id"], f["conversation"]["customer_name"]) for f in frames]


# --- authentication and origin ------------------------------------------------------------------------


def test_without_a_token_the_socket_is_closed_with_4401():
    assert async_to_sync(close_code_of)(events_socket()) == 4401


def test_forged_expired_refresh_and_inactive_user_tokens_are_closed_with_4401():
    user = _member(RestaurantFactory())
    forged = jwt.encode(dict(AccessToken.for_user(user).payload), "not-our-signing-key", algorithm="HS256")
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    refresh = str(RefreshToken.for_user(user))  # right signature, wrong token type
    inactive = _member(RestaurantFactory())
    inactive_token = access_token(inactive)
    inactive.is_active = False
    inactive.save()

    for token in (forged, str(expired), refresh, inactive_token, "garbage"):
        assert async_to_sync(close_code_of)(events_socket(token=token)) == 4401, token
    # The same user's genuine token is accepted: the refusals above are about the tokens.
    assert async_to_sync(close_code_of)(events_socket(token=access_token(user))) is None


def test_token_in_the_subprotocol_is_accepted_and_the_protocol_echoed():
    user = _member(RestaurantFactory())

    async def scenario():
        socket = events_socket(token=access_token(user))
        accepted, subprotocol = await socket.connect()
        await socket.disconnect()
        return accepted, subprotocol

    assert async_to_sync(scenario)() == (True, "sufrah.jwt")


def test_token_in_the_query_string_is_accepted():
    restaurant = RestaurantFactory()
    user = _member(restaurant)

    async def scenario():
        async with subscribed(events_socket(token=access_token(user), via="query")) as (_, restaurants):
            return restaurants

    assert async_to_sync(scenario)() == [restaurant.pk]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://dash.sufrah.test", None])
def test_a_foreign_or_missing_origin_is_refused_before_the_handshake(origin):
    user = _member(RestaurantFactory())

    async def scenario():
        socket = events_socket(token=access_token(user), origin=origin)
        accepted, _ = await socket.connect()
        await socket.disconnect()
        return accepted

    assert async_to_sync(scenario)() is False


def test_the_socket_is_closed_with_4401_when_the_token_expires():
    restaurant = RestaurantFactory()
    user = _member(restaurant)
    token = AccessToken.for_user(user)
    token["exp"] = int(time.time()) + 2

    async def scenario():
        async with subscribed(events_socket(token=str(token))) as (socket, _):
            output = await socket.receive_output(timeout=4)
            # Once closed for expiry, the socket is out of the restaurant's group.
            await announce(restaurant.pk, "after expiry")
            return output, await socket.receive_nothing(timeout=0.3)

    output, silent = async_to_sync(scenario)()
    assert output == {"type": "websocket.close", "code": 4401}
    assert silent


# --- delivery and tenant isolation --------------------------------------------------------------------


def test_member_sees_message_received_within_a_second_of_the_webhook_and_another_restaurant_sees_nothing(
    client, fake_twilio
):
    sender, other_sender = SenderFactory(), SenderFactory()
    member, stranger = _member(sender.restaurant), _member(other_sender.restaurant)
    params = twilio_inbound_params(sender=sender, from_number="+966508034010", body="أبغى شاورما")

    async def scenario():
        async with (
            subscribed(events_socket(token=access_token(member))) as (ours, our_restaurants),
            subscribed(events_socket(token=access_token(stranger))) as (theirs, their_restaurants),
        ):
            started = time.monotonic()
            response = await sync_to_async(signed_post)(client, sender=sender, params=params)
            first = await ours.receive_json_from(timeout=1)
            elapsed = time.monotonic() - started
            rest = await frames_until_quiet(ours)
            return (
                response.status_code,
                our_restaurants,
                their_restaurants,
                first,
                elapsed,
                rest,
                (await theirs.receive_nothing(timeout=0.5)),
            )

    status, our_restaurants, their_restaurants, first, elapsed, rest, stranger_saw_nothing = async_to_sync(scenario)()

    assert status == 200
    assert (our_restaurants, their_restaurants) == ([sender.restaurant_id], [other_sender.restaurant_id])
    inbound = Message.objects.get(direction="in")
    reply = Message.objects.get(direction="out")
    assert first["type"] == "message.received" and elapsed < 1.0
    assert first["restaurant_id"] == sender.restaurant_id
    assert first["message"]["id"] == inbound.pk and first["message"]["body"] == "أبغى شاورما"
    assert first["message"]["conversation_id"] == inbound.conversation_id and first["message"]["direction"] == "in"
    by_type = {frame["type"]: frame for frame in rest}
    assert by_type["conversation.updated"]["conversation"]["unread_count"] == 1
    assert by_type["message.sent"]["message"]["id"] == reply.pk
    assert by_type["message.sent"]["message"]["provider_message_id"] == reply.provider_message_id
    assert {frame["restaurant_id"] for frame in rest} == {sender.restaurant_id}
    assert stranger_saw_nothing


def test_a_member_of_two_restaurants_gets_both_or_only_the_one_it_narrows_to():
    first, second = RestaurantFactory(), RestaurantFactory()
    user = _member(first, second)

    async def scenario():
        async with (
            subscribed(events_socket(token=access_token(user))) as (everything, all_ids),
            subscribed(events_socket(token=access_token(user), restaurant=second.pk)) as (narrowed, narrowed_ids),
        ):
            await announce(first.pk, "one")
            await announce(second.pk, "two")
            return all_ids, narrowed_ids, await frames_until_quiet(everything), await frames_until_quiet(narrowed)

    all_ids, narrowed_ids, everything, narrowed = async_to_sync(scenario)()
    assert all_ids == sorted([first.pk, second.pk]) and narrowed_ids == [second.pk]
    assert _names(everything) == [(first.pk, "one"), (second.pk, "two")]
    assert _names(narrowed) == [(second.pk, "two")]


def test_narrowing_to_a_restaurant_the_user_does_not_belong_to_is_closed_with_4403():
    own, foreign = RestaurantFactory(), RestaurantFactory()
    user = _member(own)

    assert async_to_sync(close_code_of)(events_socket(token=access_token(user), restaurant=foreign.pk)) == 4403
    assert async_to_sync(close_code_of)(events_socket(token=access_token(user), restaurant=999_999_999)) == 4403
    assert async_to_sync(close_code_of)(events_socket(token=access_token(user), restaurant="abc")) == 4400


def test_subscribe_frames_narrow_refuse_foreign_restaurants_and_widen_back():
    first, second, foreign = RestaurantFactory(), RestaurantFactory(), RestaurantFactory()
    user = _member(first, second)

    async def scenario():
        async with subscribed(events_socket(token=access_token(user))) as (socket, _):
            await socket.send_json_to({"action": "subscribe", "restaurant": second.pk})
            narrowed = await socket.receive_json_from()
            await socket.send_json_to({"action": "subscribe", "restaurant": foreign.pk})
            refused = await socket.receive_json_from()
            for restaurant in (first, second, foreign):
                await announce(restaurant.pk, f"to {restaurant.pk}")
            while_narrowed = await frames_until_quiet(socket)
            await socket.send_json_to({"action": "subscribe", "restaurant": None})
            widened = await socket.receive_json_from()
            await announce(first.pk, "again")
            after = await frames_until_quiet(socket)
            await socket.send_to(text_data="not json")
            return narrowed, refused, while_narrowed, widened, after, await socket.receive_json_from()

    narrowed, refused, while_narrowed, widened, after, not_json = async_to_sync(scenario)()
    assert narrowed == {"type": "subscribed", "restaurants": [second.pk]}
    assert refused["type"] == "error" and refused["error"]["code"] == "forbidden"
    assert refused["error"]["details"] == {"restaurant": foreign.pk}
    # The refused request left the subscription as it was: only the second restaurant's event came.
    assert _names(while_narrowed) == [(second.pk, f"to {second.pk}")]
    assert widened == {"type": "subscribed", "restaurants": sorted([first.pk, second.pk])}
    assert _names(after) == [(first.pk, "again")]
    assert not_json["type"] == "error" and not_json["error"]["code"] == "bad_request"


def test_a_superuser_watches_only_the_restaurant_it_asks_for():
    watched, other = RestaurantFactory(), RestaurantFactory()
    admin = UserFactory(is_superuser=True, is_staff=True)

    async def scenario():
        async with (
            subscribed(events_socket(token=access_token(admin))) as (unnarrowed, unnarrowed_ids),
            subscribed(events_socket(token=access_token(admin), restaurant=watched.pk)) as (narrowed, narrowed_ids),
        ):
            await announce(other.pk, "other")
            await announce(watched.pk, "watched")
            return (
                unnarrowed_ids,
                narrowed_ids,
                await frames_until_quiet(unnarrowed),
                await frames_until_quiet(narrowed),
            )

    unnarrowed_ids, narrowed_ids, unnarrowed, narrowed = async_to_sync(scenario)()
    assert unnarrowed_ids == [] and unnarrowed == []
    assert narrowed_ids == [watched.pk]
    assert _names(narrowed) == [(watched.pk, "watched")]


# --- after commit only --------------------------------------------------------------------------------


def test_an_event_published_in_a_rolled_back_transaction_is_never_delivered():
    message = MessageFactory(direction="out", status="sent", provider_message_id="SM" + "b" * 32)
    user = _member(message.restaurant)

    def update_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            message_status_update(
                restaurant_id=message.restaurant_id,
                provider="twilio",
                provider_message_id=message.provider_message_id,
                status="delivered",
            )
            raise RuntimeError("roll back")

    def update_and_commit():
        message_status_update(
            restaurant_id=message.restaurant_id,
            provider="twilio",
            provider_message_id=message.provider_message_id,
            status="read",
        )

    async def scenario():
        async with subscribed(events_socket(token=access_token(user))) as (socket, _):
            await sync_to_async(update_then_roll_back)()
            await sync_to_async(update_and_commit)()
            return await frames_until_quiet(socket)

    frames = async_to_sync(scenario)()
    # Only the committed change arrives; the rolled-back "delivered" never does.
    assert [(f["type"], f["message"]["status"]) for f in frames] == [("message.status", "read")]
    assert frames[0]["message"]["id"] == message.pk and frames[0]["restaurant_id"] == message.restaurant_id


# --- access that ends while connected -----------------------------------------------------------------


async def _closed_with(socket) -> int | None:
    output = await socket.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await socket.receive_output(timeout=5)
    return output.get("code")


def test_removing_the_membership_closes_live_sockets_with_4403_and_stops_events():
    restaurant = RestaurantFactory()
    user = _member(restaurant)
    membership_id = user.memberships.get().pk

    async def scenario():
        async with subscribed(events_socket(token=access_token(user))) as (socket, restaurants):
            assert restaurants == [restaurant.pk]
            await announce(restaurant.pk, "before")
            assert _names(await frames_until_quiet(socket)) == [(restaurant.pk, "before")]
            await sync_to_async(lambda: StaffMembershipModel.objects.filter(pk=membership_id).delete())()
            code = await _closed_with(socket)
            await announce(restaurant.pk, "after")
            return code, await socket.receive_nothing(timeout=0.5)

    assert async_to_sync(scenario)() == (4403, True)


def test_deactivating_the_user_closes_live_sockets_with_4403():
    restaurant = RestaurantFactory()
    user = _member(restaurant)

    def deactivate():
        user.is_active = False
        user.save()

    async def scenario():
        async with subscribed(events_socket(token=access_token(user))) as (socket, _):
            await sync_to_async(deactivate)()
            return await _closed_with(socket)

    assert async_to_sync(scenario)() == 4403


def test_a_bulk_update_without_signals_is_caught_by_the_periodic_recheck(settings):
    settings.WEBSOCKET_ACCESS_RECHECK_SECONDS = 0.5
    restaurant = RestaurantFactory()
    user = _member(restaurant)

    async def scenario():
        async with subscribed(events_socket(token=access_token(user))) as (socket, _):
            # .update() sends no post_save: only the backstop sees it.
            await sync_to_async(lambda: type(user).objects.filter(pk=user.pk).update(is_active=False))()
            return await _closed_with(socket)

    assert async_to_sync(scenario)() == 4403


def test_an_unrelated_change_keeps_the_socket_open():
    restaurant, other = RestaurantFactory(), RestaurantFactory()
    user = _member(restaurant)
    bystander = _member(other)

    async def scenario():
        async with subscribed(events_socket(token=access_token(user), restaurant=restaurant.pk)) as (socket, _):
            await sync_to_async(lambda: StaffMembershipModel.objects.filter(user=bystander).delete())()
            await sync_to_async(lambda: StaffMembershipFactory(user=user, restaurant=other))()
            user.first_name = "Renamed"
            await sync_to_async(user.save)()
            await announce(restaurant.pk, "still here")
            return _names(await frames_until_quiet(socket, quiet=0.5))

    assert async_to_sync(scenario)() == [(restaurant.pk, "still here")]
