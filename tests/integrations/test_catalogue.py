"""The event catalogue is the one description of every event: the types publish() accepts, the OpenAPI
document's webhooks and the examples all agree with it; real events are checked against it by the test
settings' sink (integrations.catalogue.check_event) in every test that publishes one."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from jsonschema import Draft202012Validator

from integrations.catalogue import (
    BY_TYPE,
    CATALOGUE,
    envelope_schema,
    event_problems,
    example_envelope,
    websocket_schema,
)
from integrations.catalogue_doc import DOC_PATH, catalogue_markdown, doc_section
from integrations.openapi import setting_name
from sufrahbot.events import EVENT_TYPES, publish
from tests.factories import RestaurantFactory


def test_every_event_type_is_in_the_catalogue_once():
    assert [kind.type for kind in CATALOGUE] == list(dict.fromkeys(kind.type for kind in CATALOGUE))
    assert set(BY_TYPE) == EVENT_TYPES


@pytest.mark.parametrize("kind", CATALOGUE, ids=[k.type for k in CATALOGUE])
def test_each_example_matches_its_schemas(kind):
    Draft202012Validator.check_schema(envelope_schema(kind))
    Draft202012Validator(envelope_schema(kind)).validate(example_envelope(kind))
    frame = {"type": kind.type, "restaurant_id": 42, **kind.example_data()}
    Draft202012Validator(websocket_schema(kind)).validate(frame)
    assert event_problems(frame) == []


def test_a_drifted_event_is_caught():
    kind = BY_TYPE["order.updated"]
    frame = {"type": kind.type, "restaurant_id": 42, "order": {**kind.example, "total": 60}}
    assert any("total" in problem for problem in event_problems(frame))
    extra = {"type": kind.type, "restaurant_id": 42, "order": {**kind.example, "surprise": 1}}
    assert event_problems(extra)


@pytest.mark.django_db
def test_publish_refuses_an_event_that_does_not_match(settings):
    assert "integrations.catalogue.check_event" in settings.SUFRAH_EVENT_SINKS
    with pytest.raises(AssertionError, match="menu.updated"):
        publish(RestaurantFactory().pk, {"type": "menu.updated", "menu": {"object": "item"}})


def test_the_openapi_webhooks_setting_names_every_type():
    assert settings.SPECTACULAR_SETTINGS["WEBHOOKS"] == [
        f"integrations.openapi.{setting_name(kind.type)}" for kind in CATALOGUE
    ]


@pytest.mark.django_db
def test_the_openapi_document_shows_every_webhook_with_schema_and_example(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == EVENT_TYPES
    for kind in CATALOGUE:
        body = schema["webhooks"][kind.type]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == json.loads(json.dumps(envelope_schema(kind)))
        assert body["example"]["type"] == kind.type
    assert "apiKeyAuth" in schema["components"]["securitySchemes"]


def test_docs_events_md_holds_the_catalogue_as_generated():
    text = DOC_PATH.read_text()
    assert doc_section(text) == catalogue_markdown(), "docs/events.md is stale: run ./dev manage events_doc"
    for kind in CATALOGUE:
        assert text.count(f"\n### {kind.type}\n") == 1


@pytest.mark.parametrize("kind", CATALOGUE, ids=[k.type for k in CATALOGUE])
def test_the_subject_names_the_conversation_or_order_the_event_is_about(kind):
    subject = kind.subject_of(kind.example_data())
    expected = {
        "message": f"conversation:{kind.example.get('conversation_id')}",
        "conversation": f"conversation:{kind.example['id']}",
        "order": f"order:{kind.example['id']}",
        "rating": f"order:{kind.example.get('order_id')}",
        "menu": "menu",
    }.get(kind.key, f"{kind.subject}:{kind.example.get('id')}")
    assert subject == expected
