"""A websocket from a page the server does not allow is refused with a reason, not a bare 403."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("origin", "says"),
    [("https://evil.example", "'https://evil.example' is not allowed"), (None, "No Origin header")],
)
def test_a_refused_origin_gets_403_with_the_error_body(server, settings, origin, says):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://dash.sufrah.test"]
    url = server.replace("http://", "ws://") + "/ws/events/"

    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=origin, open_timeout=10).close()

    response = refused.value.response
    assert response.status_code == 403
    error = json.loads(response.body)["error"]
    assert error["code"] == "origin_not_allowed" and says in error["message"]
    assert "WEBSOCKET_ALLOWED_ORIGINS" in error["message"]


def test_an_allowed_origin_still_reaches_the_token_check(server, settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://dash.sufrah.test"]
    url = server.replace("http://", "ws://") + "/ws/events/"

    with connect(url, origin="https://dash.sufrah.test", open_timeout=10) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)

    assert closed.value.rcvd.code == 4401  # accepted, then closed: no token
