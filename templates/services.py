"""Writes of the templates room: templates and their versions, submission and status sync, sending one."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.services.outbound import message_queue
from providers.content import Button, OutboundContent
from restaurants.audit import audit_changes, audit_record
from restaurants.models import Restaurant
from sufrahbot.errors import TemplateNotSendable
from sufrahbot.events import publish

from . import provider_api
from .defaults import default_templates
from .models import CONTENT_FIELDS, MessageTemplate, TemplateStatus, TemplateVersion
from .provider_api import TemplateHeaderError, TemplateProviderError
from .rendering import Rendered, TemplateInvalid, TemplateRenderError, TemplateSpec, render
from .selectors import template_sender

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (*CONTENT_FIELDS, "purpose")


def template_event_data(template: MessageTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "name": template.name,
        "language": template.language,
        "status": template.status,
        "rejection_reason": template.rejection_reason,
        "version": template.version,
    }


def _announce(template: MessageTemplate) -> None:
    publish(template.restaurant_id, {"type": "template.updated", "template": template_event_data(template)})


def _validate(template: MessageTemplate) -> None:
    problems = template.spec().problems()
    if problems:
        raise ValidationError(problems)
    clash = MessageTemplate.objects.filter(
        restaurant_id=template.restaurant_id, name=template.name, language=template.language
    ).exclude(pk=template.pk)
    if clash.exists():
        raise ValidationError(
            {"name": [f"This restaurant already has a template {template.name!r} in {template.language}."]}
        )


def _audited_fields(template: MessageTemplate) -> dict[str, Any]:
    return {**template.content(), "purpose": template.purpose, "status": template.status}


def template_create(*, restaurant: Restaurant, by=None, data: dict[str, Any], source: str = "") -> MessageTemplate:
    """A new draft template. ValidationError (by field) when it breaks WhatsApp's rules."""
    template = MessageTemplate(restaurant=restaurant, **{k: v for k, v in data.items() if k in EDITABLE_FIELDS})
    _validate(template)
    with transaction.atomic():
        try:
            template.save()
        except IntegrityError:
            raise ValidationError({"name": ["A template with this name and language exists."]}) from None
        TemplateVersion.objects.create(
            template=template,
            version=1,
            content=template.content(),
            status=template.status,
            changed_by=by,
            note="created",
        )
        audit_record(
            restaurant_id=restaurant.pk,
            actor=by,
            action="template.created",
            target=template,
            changes=audit_changes({}, _audited_fields(template)),
            source=source,
        )
        transaction.on_commit(lambda: _announce(template))
    return template


def template_update(*, template: MessageTemplate, by=None, data: dict[str, Any], source: str = "") -> MessageTemplate:
    """Change a template; the content as it was is kept as a TemplateVersion. A content change to a template
    that a provider has seen sends it back to draft: it needs a new review before it can be sent."""
    with transaction.atomic():
        locked = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        before, before_status, before_purpose = locked.content(), locked.status, locked.purpose
        audited_before = _audited_fields(locked)
        for key, value in data.items():
            if key in EDITABLE_FIELDS:
                setattr(locked, key, value)
        content_changed = locked.content() != before
        if not content_changed and locked.purpose == before_purpose:
            return locked
        _validate(locked)
        if content_changed:
            TemplateVersion.objects.create(
                template=locked,
                version=locked.version,
                content=before,
                status=before_status,
                changed_by=by,
                note="edited",
            )
            locked.version += 1
            if locked.status != TemplateStatus.DRAFT:
                locked.status, locked.rejection_reason = TemplateStatus.DRAFT, ""
                # The registered Twilio content is immutable: a changed template registers anew.
                locked.twilio_content_sid = ""
        locked.save()
        audit_record(
            restaurant_id=locked.restaurant_id,
            actor=by,
            action="template.changed",
            target=locked,
            changes=audit_changes(audited_before, _audited_fields(locked)),
            source=source,
        )
        transaction.on_commit(lambda: _announce(locked))
    return locked


def template_delete(*, template: MessageTemplate, by=None, source: str = "") -> None:
    """Delete a template; one a campaign uses stays (ValidationError), so the campaign's record keeps it."""
    try:
        with transaction.atomic():
            audit_record(
                restaurant_id=template.restaurant_id,
                actor=by,
                action="template.deleted",
                target=template,
                changes=audit_changes(_audited_fields(template), {}),
                source=source,
            )
            template.delete()
    except ProtectedError:
        raise ValidationError({"template": ["A campaign uses this template: it cannot be deleted."]}) from None
    logger.info("template deleted", extra={"template_id": template.pk, "by_user_id": getattr(by, "pk", None)})


# --- the providers' review ----------------------------------------------------------------------------------


def template_submit(*, template: MessageTemplate, by=None, source: str = "") -> MessageTemplate:
    """Send a draft (or rejected) template for review to the restaurant's provider. A provider's refusal is
    stored as a rejection with its reason; ValidationError when the template cannot be submitted at all."""
    if template.status not in (TemplateStatus.DRAFT, TemplateStatus.REJECTED):
        raise ValidationError(
            {"status": [f"Only a draft or rejected template can be submitted (this one is {template.status})."]}
        )
    spec = template.spec()
    problems = spec.submission_problems()
    if problems:
        raise ValidationError(problems)
    sender = template_sender(restaurant_id=template.restaurant_id)
    if sender is None:
        raise ValidationError({"sender": ["The restaurant has no active WhatsApp sender to submit through."]})
    reference: dict[str, str] = {}
    try:
        if sender.provider == "meta":
            template_id, status, reason = provider_api.meta_submit(sender=sender, spec=spec)
            reference["meta_template_id"] = template_id
        elif sender.provider == "twilio":
            sid, status, reason = provider_api.twilio_submit(
                sender=sender, spec=spec, content_sid=template.twilio_content_sid
            )
            reference["twilio_content_sid"] = sid
        else:  # console: the local demo has nobody to review, so a valid template is approved at once
            status, reason = TemplateStatus.APPROVED, ""
    except TemplateHeaderError as exc:
        # The image never reached Meta, or Meta never took it: the template stays as it was, to fix and resubmit.
        raise ValidationError({exc.field: [exc.message]}) from None
    except TemplateProviderError as exc:
        if exc.retryable:
            raise ValidationError(
                {"provider": [f"The provider could not take it now ({exc.code}: {exc.message}); try again."]}
            ) from None
        status, reason = TemplateStatus.REJECTED, f"{exc.code}: {exc.message}"
    with transaction.atomic():
        locked = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        before_status = locked.status
        TemplateVersion.objects.create(
            template=locked,
            version=locked.version,
            content=locked.content(),
            status=locked.status,
            changed_by=by,
            note=f"submitted to {sender.provider}",
        )
        for key, value in reference.items():
            setattr(locked, key, value)
        locked.status, locked.rejection_reason = status, reason
        locked.submitted_provider, locked.submitted_at, locked.synced_at = (
            sender.provider,
            timezone.now(),
            timezone.now(),
        )
        locked.save()
        audit_record(
            restaurant_id=locked.restaurant_id,
            actor=by,
            action="template.submitted",
            target=locked,
            changes={
                "status": {"before": before_status, "after": status},
                "provider": {"before": None, "after": sender.provider},
            },
            source=source,
        )
        transaction.on_commit(lambda: _announce(locked))
    return locked


def template_status_apply(*, template: MessageTemplate, status: str, reason: str = "", source: str) -> bool:
    """Record what the provider says of a template; returns whether anything changed."""
    if status not in TemplateStatus.values:
        raise ValueError(f"unknown template status {status!r}")
    with transaction.atomic():
        locked = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        reason = reason if status == TemplateStatus.REJECTED else ""
        locked.synced_at = timezone.now()
        if locked.status == status and locked.rejection_reason == reason:
            locked.save(update_fields=["synced_at"])
            return False
        logger.info(
            "template status", extra={"template_id": locked.pk, "from": locked.status, "to": status, "source": source}
        )
        locked.status, locked.rejection_reason = status, reason
        locked.save(update_fields=["status", "rejection_reason", "synced_at", "updated_at"])
        transaction.on_commit(lambda: _announce(locked))
    template.status, template.rejection_reason = status, reason
    return True


def template_sync(*, template_id: int) -> str:
    """Ask the provider where a submitted template stands. Returns its status (unchanged on an error)."""
    template = MessageTemplate.objects.filter(pk=template_id).first()
    if template is None:
        return "missing"
    sender = template_sender(restaurant_id=template.restaurant_id)
    try:
        if template.meta_template_id and sender is not None and sender.provider == "meta":
            status, reason = provider_api.meta_fetch(sender=sender, template_id=template.meta_template_id)
        elif template.twilio_content_sid and sender is not None and sender.provider == "twilio":
            status, reason = provider_api.twilio_fetch(sender=sender, content_sid=template.twilio_content_sid)
        else:
            return template.status
    except TemplateProviderError as exc:
        logger.warning("template sync failed", extra={"template_id": template.pk, "code": exc.code})
        return template.status
    template_status_apply(template=template, status=status, reason=reason, source="sync")
    return status


def template_status_webhook_apply(*, restaurant_id: int, value: dict[str, Any]) -> bool:
    """Meta's message_template_status_update change: {event, message_template_id, message_template_name,
    message_template_language, reason}, for one restaurant with a sender on the template's business account
    (the webhook calls this once per such restaurant). Only this restaurant's template of that Meta name and
    language, created at Meta as that id, follows; templates of other restaurants are never touched."""
    status = provider_api.META_STATUS.get(str(value.get("event", "")).upper())
    name = str(value.get("message_template_name") or "")
    language = str(value.get("message_template_language") or "")
    template_id = str(value.get("message_template_id") or "")
    template = (
        MessageTemplate.objects.filter(
            restaurant_id=restaurant_id, name=name, language=language, meta_template_id=template_id
        )
        # A draft that still holds the id was edited since: Meta's verdict is about the content it replaced.
        .exclude(status=TemplateStatus.DRAFT)
        .first()
        if name and language and template_id
        else None
    )
    if template is None or status is None:
        logger.info("template status update skipped", extra={"restaurant_id": restaurant_id, "value": value})
        return False
    reason = str(value.get("reason") or "")
    return template_status_apply(
        template=template, status=status, reason="" if reason == "NONE" else reason, source="webhook"
    )


# --- rendering and sending ---------------------------------------------------------------------------------


def template_preview(
    *, body: str | None = None, template: MessageTemplate | None = None, variables: dict[str, Any], spec_fields=None
) -> Rendered:
    """Render a stored template or an ad-hoc body. ValidationError naming each missing/extra variable."""
    spec = template.spec() if template is not None else TemplateSpec(body=body or "", **(spec_fields or {}))
    try:
        return render(spec, variables)
    except (TemplateRenderError, TemplateInvalid) as exc:
        raise ValidationError(exc.details) from None


def template_content(*, template: MessageTemplate, variables: dict[str, Any]) -> OutboundContent:
    """The outbound message of one send of `template` (both providers' request parts included)."""
    rendered = template_preview(template=template, variables=variables)
    return OutboundContent(
        kind="template",
        body=rendered.text,
        header=rendered.header,
        footer=rendered.footer,
        media_url=template.header_image_url if template.header_type == "image" else "",
        buttons=tuple(Button(id=b["payload"], title=b["text"]) for b in rendered.buttons if b["type"] == "quick_reply"),
        template_name=template.name,
        template_language=template.language,
        template_twilio=rendered.twilio,
        template_meta=rendered.meta,
    )


def template_sendable_check(*, template: MessageTemplate, conversation: Conversation) -> None:
    if template.restaurant_id != conversation.restaurant_id:
        raise TemplateNotSendable("The template belongs to another restaurant.")
    if template.status != TemplateStatus.APPROVED:
        raise TemplateNotSendable(f"Only an approved template can be sent (this one is {template.status}).")
    provider = conversation.sender.provider
    if provider == "twilio" and not template.twilio_content_sid:
        raise TemplateNotSendable("The template has no Twilio Content SID: submit it through the Twilio sender.")
    if provider == "meta" and not template.meta_template_id:
        raise TemplateNotSendable("The template was not approved through Meta: submit it through the Meta sender.")


def template_send(
    *,
    conversation: Conversation,
    template: MessageTemplate,
    variables: dict[str, Any],
    sent_by=None,
    idempotency_key: str | None = None,
) -> tuple[Message, bool]:
    """Queue one approved template to a conversation: allowed outside the 24-hour window. Returns (message,
    created) like message_queue. TemplateNotSendable / ValidationError (variables) otherwise."""
    template_sendable_check(template=template, conversation=conversation)
    content = template_content(template=template, variables=variables)
    return message_queue(conversation=conversation, content=content, sent_by=sent_by, idempotency_key=idempotency_key)


def template_defaults_ensure(*, restaurant: Restaurant) -> list[MessageTemplate]:
    """Give the restaurant the default templates it lacks (drafts, to review and submit)."""
    created = []
    for fields in default_templates():
        if not MessageTemplate.objects.filter(
            restaurant=restaurant, name=fields["name"], language=fields["language"]
        ).exists():
            created.append(template_create(restaurant=restaurant, data=fields))
    return created
