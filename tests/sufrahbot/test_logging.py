import io
import json
import logging

import pytest

from sufrahbot.celery import REQUEST_ID_HEADER, _carry_request_id, _enter_task_context, _leave_task_context
from sufrahbot.logging import JsonFormatter, RedactSecretsFilter, bind, current, log_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("sufrahbot.test_logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_request_id_is_taken_from_the_header_echoed_and_on_the_access_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="sufrahbot.access"):
        response = client.get("/api/schema/nothing-here", HTTP_X_REQUEST_ID="lb-1234-abcd")
    assert response["X-Request-ID"] == "lb-1234-abcd"
    access = [r for r in caplog.records if r.name == "sufrahbot.access"]
    assert access and access[-1].path == "/api/schema/nothing-here" and access[-1].request_id == "lb-1234-abcd"
    assert access[-1].status == 404 and access[-1].method == "GET"


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(client):
    made = client.get("/nothing")["X-Request-ID"]
    assert len(made) == 36
    assert client.get("/nothing", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"] != "bad id\nwith newline"
    assert client.get("/nothing")["X-Request-ID"] != made


def test_json_line_carries_context_ids_and_keeps_message_ids(json_lines):
    logger, lines = json_lines
    twilio_sid, wamid = "SM" + "a1" * 16, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
    with log_context(request_id="req-1"):
        bind(restaurant_id=7, conversation_id=11, message_id=5)
        # An extra naming a context field wins (and is not refused as a clash).
        logger.info("message stored %s", twilio_sid, extra={"message_id": 99, "provider_message_id": wamid})
    logger.info("after, no context")
    first, second = lines()
    assert first["request_id"] == "req-1" and first["restaurant_id"] == 7 and first["conversation_id"] == 11
    assert first["message_id"] == 99
    assert first["message"] == f"message stored {twilio_sid}" and first["provider_message_id"] == wamid
    assert first["level"] == "INFO" and first["logger"] == "sufrahbot.test_logging" and "time" in first
    assert "request_id" not in second


def test_secrets_are_still_masked(json_lines):
    logger, lines = json_lines
    logger.info("token %s", "0123456789abcdef0123456789abcdef")
    assert lines()[0]["message"] == "token [REDACTED]"


def test_the_request_id_rides_along_into_tasks_it_queues():
    headers: dict = {}
    with log_context(request_id="req-42"):
        _carry_request_id(headers=headers)
    assert headers == {REQUEST_ID_HEADER: "req-42"}

    class Task:
        name = "webhooks.tasks.process_event"

        class request:  # the shape Celery gives a running task
            sufrah_request_id = "req-42"

    _enter_task_context(task_id="t-1", task=Task)
    try:
        assert current("request_id") == "req-42" and current("task_id") == "t-1"
    finally:
        _leave_task_context(task_id="t-1")
    assert current("request_id") is None
