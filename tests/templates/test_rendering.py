"""The one renderer: variables by name, WhatsApp's limits, the exact Twilio and Meta payloads."""

from __future__ import annotations

import json

import pytest

from templates.defaults import default_templates
from templates.rendering import (
    TemplateInvalid,
    TemplateRenderError,
    TemplateSpec,
    meta_create_payload,
    render,
    twilio_create_payload,
)


def rating_spec(language: str = "en", **extra) -> TemplateSpec:
    fields = next(f for f in default_templates() if f["purpose"] == "rating" and f["language"] == language)
    fields = {k: v for k, v in fields.items() if k != "purpose"}
    return TemplateSpec(**{**fields, "buttons": tuple(fields["buttons"]), **extra})


def test_a_named_body_renders_with_both_payloads():
    rendered = render(TemplateSpec(name="hello", body="Hello {{name}}, welcome back!"), {"name": "Sara"})

    assert rendered.text == "Hello Sara, welcome back!"
    assert rendered.twilio == {"ContentSid": None, "ContentVariables": '{"1": "Sara"}'}
    assert rendered.meta == {
        "messaging_product": "whatsapp",
        "type": "template",
        "template": {
            "name": "hello",
            "language": {"code": "en"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Sara"}]}
            ],
        },
    }


def test_missing_and_extra_variables_are_each_named():
    spec = TemplateSpec(body="Hi {{name}}, order {{order_number}} is ready.")

    with pytest.raises(TemplateRenderError) as caught:
        render(spec, {"name": "Sara", "nmae": "typo"})

    error = caught.value
    assert error.missing == ["order_number"] and error.extra == ["nmae"]
    assert error.details == {
        "variables.order_number": ["Missing variable 'order_number'."],
        "variables.nmae": ["Variable 'nmae' is not in the template."],
    }
    assert "'order_number'" in error.message and "'nmae'" in error.message


@pytest.mark.parametrize("value", ["", "   ", "two\nlines", "tab\there", "wide     gap", None, True])
def test_a_blank_or_unusable_value_is_refused_never_sent_blank(value):
    with pytest.raises(TemplateRenderError) as caught:
        render(TemplateSpec(body="Hi {{name}}!"), {"name": value})
    assert list(caught.value.invalid) == ["name"]


def test_numbered_variables_keep_their_numbers_on_both_providers():
    spec = TemplateSpec(name="ready", body="Hi {{1}}, your order {{2}} is ready.")

    rendered = render(spec, {"2": "#7", "1": "Sara"})

    assert json.loads(rendered.twilio["ContentVariables"]) == {"1": "Sara", "2": "#7"}
    body = rendered.meta["template"]["components"][0]
    assert body["parameters"] == [{"type": "text", "text": "Sara"}, {"type": "text", "text": "#7"}]


def test_the_rating_template_fills_its_quick_reply_payloads_for_meta_and_numbers_them_for_twilio():
    rendered = render(rating_spec("ar"), {"order_number": "1001", "restaurant_name": "سفرة", "order_id": "55"})

    assert rendered.text.startswith("كيف كان طلبك رقم 1001 من سفرة")
    buttons = [c for c in rendered.meta["template"]["components"] if c["type"] == "button"]
    assert [(b["index"], b["parameters"][0]["payload"]) for b in buttons] == [
        ("0", "rate:now:55"),
        ("1", "rate:later:55"),
        ("2", "rate:help:55"),
    ]
    assert json.loads(rendered.twilio["ContentVariables"]) == {"1": "1001", "2": "سفرة", "3": "55"}
    registered = twilio_create_payload(rating_spec("ar"))["types"]["twilio/quick-reply"]
    assert [a["id"] for a in registered["actions"]] == ["rate:now:{{3}}", "rate:later:{{3}}", "rate:help:{{3}}"]
    assert "{{1}}" in registered["body"] and "{{order_number}}" not in registered["body"]


def test_meta_creation_payload_has_named_examples_and_buttons():
    payload = meta_create_payload(rating_spec("en"))

    assert payload["parameter_format"] == "NAMED" and payload["category"] == "UTILITY"
    body = next(c for c in payload["components"] if c["type"] == "BODY")
    assert body["example"]["body_text_named_params"][0] == {"param_name": "order_number", "example": "42"}
    buttons = next(c for c in payload["components"] if c["type"] == "BUTTONS")["buttons"]
    assert [b["type"] for b in buttons] == ["QUICK_REPLY"] * 3


def test_an_image_header_is_created_with_its_upload_handle_never_a_url():
    spec = TemplateSpec(
        name="promo",
        category="MARKETING",
        body="Fresh today.",
        header_type="image",
        header_image_url="https://cdn.example.com/dish.jpg",
    )

    payload = meta_create_payload(spec, header_handle="4::aW1hZ2UvanBlZw==:ARb")

    assert payload["components"][0] == {
        "type": "HEADER",
        "format": "IMAGE",
        "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:ARb"]},
    }
    assert "header_url" not in json.dumps(payload)
    with pytest.raises(ValueError):
        meta_create_payload(spec)


def test_image_header_and_url_button_variable():
    spec = TemplateSpec(
        name="promo",
        category="MARKETING",
        body="New on the menu, {{1}}: try it today.",
        header_type="image",
        header_image_url="https://cdn.example.com/dish.jpg",
        buttons=({"type": "url", "text": "Order", "url": "https://sufrah.example/o/{{2}}"},),
    )

    meta = render(spec, {"1": "Sara", "2": "abc"}).meta["template"]["components"]

    assert meta[0] == {"type": "header", "parameters": [{"type": "image", "image": {"link": spec.header_image_url}}]}
    assert meta[-1] == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "abc"}],
    }


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"body": "x" * 1025}, "body"),
        ({"body": ""}, "body"),
        ({"body": "Hi {{1}} and {{name}}."}, "variables"),
        ({"body": "Hi {{1}} and {{3}}."}, "variables"),
        ({"body": "Hi {{Bad Name}}."}, "variables"),
        ({"footer": "f" * 61}, "footer"),
        ({"header_type": "text", "header_text": ""}, "header_text"),
        ({"header_type": "image", "header_image_url": "http://insecure/x.png"}, "header_image_url"),
        ({"buttons": tuple({"type": "quick_reply", "text": f"b{i}"} for i in range(11))}, "buttons"),
        ({"buttons": tuple({"type": "url", "text": f"u{i}", "url": "https://a.b/"} for i in range(3))}, "buttons"),
        ({"buttons": ({"type": "quick_reply", "text": "x" * 26},)}, "buttons[0]"),
        ({"buttons": ({"type": "phone_number", "text": "Call", "phone_number": "0500"},)}, "buttons[0]"),
        ({"language": "english"}, "language"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_whatsapp_limits_are_enforced_by_field(fields, where):
    spec = TemplateSpec(**{"name": "ok", "body": "Hello there.", **fields})

    with pytest.raises(TemplateInvalid) as caught:
        render(spec, {k: "v" for k in spec.variables()})

    assert where in caught.value.details


def test_a_body_at_exactly_1024_characters_renders_and_one_more_after_filling_does_not():
    body = "a" * 1014 + " {{n}} end"  # 1024 with the placeholder
    assert len(body) == 1024
    assert render(TemplateSpec(body=body), {"n": "12345"}).text.endswith("12345 end")

    with pytest.raises(TemplateRenderError) as caught:
        render(TemplateSpec(body=body), {"n": "123456"})
    assert caught.value.too_long == ["body"]


def test_submission_refuses_a_body_ending_with_a_variable_that_a_preview_allows():
    spec = TemplateSpec(name="hi", body="Hello {{name}}")

    assert render(spec, {"name": "Sara"}).text == "Hello Sara"
    with pytest.raises(TemplateInvalid) as caught:
        spec.check(for_submission=True)
    assert "body" in caught.value.details
