"""Chat with a restaurant's bot in the terminal, as a WhatsApp customer.

Every line goes through the real path: a Twilio-format webhook signed with the sender's secret is POSTed to
/webhooks/twilio/ (URL router, view, stored WebhookEvent, task, bot engine, console provider), then the bot's
new outbound messages are read back from the database and printed with their options numbered.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Case, IntegerField, Value, When
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation, Message
from conversations.services.handoff import conversation_language_set
from conversations.services.inbound import conversation_open
from providers import twilio
from providers.content import OutboundContent
from providers.phone import InvalidPhoneNumber, normalize_e164
from restaurants.models import Sender
from restaurants.selectors import restaurant_get

HELP = """Type a message and press Enter; type a number to pick one of the bot's numbered options.
  /location LAT,LON [address]   share a location (e.g. /location 24.7136,46.6753 Olaya St)
  /wait [SECONDS]               wait and show anything new (order updates, rating prompts)
  /help                         this help
  /quit                         leave (so does Ctrl-D)"""


class Command(BaseCommand):
    help = "Chat with a restaurant's bot as a customer; each line goes through the real signed webhook."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()  # the follower thread and the typed lines print one at a time

    def add_arguments(self, parser):
        parser.add_argument("--restaurant", required=True, help="the restaurant's slug (e.g. sufrah-demo)")
        parser.add_argument("--phone", default="+966500000100", help="the customer's number (E.164)")
        parser.add_argument("--name", default="Simulator", help="the customer's WhatsApp profile name")
        parser.add_argument("--lang", choices=["ar", "en"], help="the customer's language before they write")
        parser.add_argument("--script", help="a file with one customer message per line ('-' for stdin)")
        parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for each answer")
        parser.add_argument("--verbose", action="store_true", help="keep the server's INFO logs on stderr")
        parser.add_argument(
            "--server",
            help="post to a running server (e.g. http://127.0.0.1:8000) instead of in-process, so its dashboard "
            "clients see the chat live",
        )

    def handle(self, *args, **opts):
        if not opts["verbose"]:
            logging.disable(logging.INFO)  # the chat is the output; warnings and errors still show
        try:
            self._run(opts)
        finally:
            logging.disable(logging.NOTSET)

    def _run(self, opts) -> None:
        restaurant = restaurant_get(slug=opts["restaurant"])
        if restaurant is None:
            raise CommandError(f"No restaurant with slug {opts['restaurant']!r}.")
        try:
            phone = normalize_e164(opts["phone"])
        except InvalidPhoneNumber as exc:
            raise CommandError(f"--phone: {exc}") from None
        sender = _sender_pick(restaurant)
        self.chat = _Chat(sender=sender, phone=phone, name=opts["name"], wait=opts["wait"], server=opts["server"])
        if opts["lang"]:
            conversation = conversation_open(sender=sender, customer_phone=phone, customer_name=opts["name"])
            conversation_language_set(conversation=conversation, language=opts["lang"])
        self.chat.seen_id = self.chat.last_outbound_id()

        scripted = bool(opts["script"]) or not sys.stdin.isatty()
        self.stdout.write(
            f"Chatting with {restaurant.name_en} / {restaurant.name_ar} on {sender.phone_number} "
            f"({sender.provider}) as {phone}. Type /help for commands."
        )
        if sender.provider != "console":
            self.stderr.write("Note: this is a real Twilio sender: the bot's replies are really sent to " + phone)
        # Typed by a person: order news and rating prompts show up as they arrive, not at the next line.
        stop = threading.Event()
        follower = None if scripted else self.follow_start(stop)
        try:
            for line in self._lines(opts["script"], echo=scripted):
                if not self._say(line):
                    break
        finally:
            stop.set()
            if follower is not None:
                follower.join(5)

    def follow_start(self, stop: threading.Event, interval: float = 1.0) -> threading.Thread:
        """Print messages sent to the customer between their lines (status updates, rating prompts)."""

        def follow() -> None:
            try:
                while not stop.wait(interval):
                    with self.lock:
                        messages = self.chat.new_outbound()
                        if messages:
                            self.stdout.write("")
                            self._show(messages)
                            self.stdout.write("you> ", ending="")
                            self.stdout.flush()
            finally:
                connection.close()  # this thread's own database connection

        thread = threading.Thread(target=follow, name="simulate-follow", daemon=True)
        thread.start()
        return thread

    def _lines(self, script: str | None, *, echo: bool) -> Iterator[str]:
        if script and script != "-":
            try:
                with open(script, encoding="utf-8") as handle:
                    source = handle.read().splitlines()
            except OSError as exc:
                raise CommandError(f"--script: {exc}") from None
        elif echo:
            source = (line.rstrip("\n") for line in sys.stdin)
        else:
            source = _prompted()
        for line in source:
            if echo and (not line.strip() or line.lstrip().startswith("#")):
                continue  # blank lines and comments in a script
            if echo:
                self.stdout.write(f"you> {line}")
            yield line

    def _say(self, line: str) -> bool:
        """Send one line; False when the customer leaves."""
        command, _, rest = line.strip().partition(" ")
        if command in ("/quit", "/exit"):
            return False
        if command == "/help":
            self.stdout.write(HELP)
            return True
        if command == "/wait":
            time.sleep(_float(rest, default=2.0))
            with self.lock:
                self._show(self.chat.new_outbound())
            return True
        if command in ("/location", "/loc"):
            location = _location_params(rest)
            if location is None:
                self.stdout.write("Usage: /location LAT,LON [address]")
                return True
            params = self.chat.params("", **location)
        else:
            params = self.chat.params_for_text(line)
        with self.lock:
            answered = self.chat.post(params)
            replies = self.chat.new_outbound()
            self._show(replies)
        if not replies:
            if self.chat.bot_paused():
                self.stdout.write("(the bot is paused for this conversation: staff will answer)")
            elif not answered:
                self.stdout.write("(no answer yet: is the Celery worker running? /wait shows late replies)")
            else:
                self.stdout.write("(no reply)")
        return True

    def _show(self, messages: list[Message]) -> None:
        for message in messages:
            content = OutboundContent.from_dict(message.content) if message.content else None
            text = content.as_plain_text() if content is not None else message.body
            who = "staff" if message.sent_by_id else "bot"
            lines = text.splitlines() or [""]
            self.stdout.write(f"{who}> {lines[0]}")
            for rest in lines[1:]:
                self.stdout.write(f"     {rest}" if rest else "")
            if content is not None and content.options():
                self.chat.options = content.options()
                self.chat.option_kind = content.kind
            elif message.sent_by_id is None:
                self.chat.options, self.chat.option_kind = [], ""


class _Chat:
    """One customer's side of the conversation: signs and posts webhooks, reads the bot's answers."""

    def __init__(self, *, sender: Sender, phone: str, name: str, wait: float, server: str | None = None):
        self.sender = sender
        self.phone = phone
        self.name = name
        self.wait = wait
        self.seen_id = 0
        self.options: list[tuple[str, str]] = []
        self.option_kind = ""
        self.path = reverse("webhooks:inbound", kwargs={"provider": "twilio"})
        self.server = server.rstrip("/") if server else None
        self.base = self.server or settings.PUBLIC_BASE_URL or "http://testserver"
        self.url = self.base + self.path
        parsed = urlparse(self.base)
        self.client = Client(HTTP_HOST=parsed.netloc or "testserver", secure=parsed.scheme == "https")

    def params_for_text(self, line: str) -> dict[str, str]:
        """A typed number that matches one of the last options is a tap on it, as WhatsApp reports taps."""
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.options):
            option_id, title = self.options[int(text) - 1]
            if self.option_kind == "list":
                return self.params(title, ListId=option_id, ListTitle=title)
            return self.params(title, ButtonPayload=option_id, ButtonText=title)
        return self.params(line)

    def params(self, body: str, **extra: str) -> dict[str, str]:
        return twilio.inbound_text_params(
            account_sid=self.sender.credentials.get("account_sid") or "AC" + "0" * 32,
            to_number=self.sender.phone_number,
            from_number=self.phone,
            body=body,
            profile_name=self.name,
            **extra,
        )

    def post(self, params: dict[str, str]) -> bool:
        """POST one signed webhook; True once the message was stored and answered (the bot's step clears its
        awaiting_bot flag in the transaction that stores the replies), False if it was still waiting for a
        worker after --wait seconds."""
        webhook = twilio.webhook_forge(
            auth_token=self.sender.credentials["auth_token"], public_base_url=self.base, params=params, path=self.path
        )
        if self.server:
            try:
                response = httpx.post(self.url, content=webhook.body, headers=webhook.headers, timeout=self.wait)
            except httpx.HTTPError as exc:
                raise CommandError(f"Could not reach {self.server}: {exc}") from None
        else:
            response = self.client.post(webhook.path, **webhook.test_client_kwargs())
        if response.status_code != 200:
            raise CommandError(f"The webhook answered {response.status_code}: {response.content[:500]!r}")
        deadline = time.monotonic() + self.wait
        while True:
            if Message.objects.filter(
                provider=twilio.NAME, provider_message_id=params["MessageSid"], awaiting_bot=False
            ).exists():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def last_outbound_id(self) -> int:
        last = self._outbound().order_by("-id").values_list("pk", flat=True).first()
        return last or 0

    def new_outbound(self) -> list[Message]:
        messages = list(self._outbound().filter(pk__gt=self.seen_id).order_by("id"))
        if messages:
            self.seen_id = messages[-1].pk
        return messages

    def bot_paused(self) -> bool:
        return Conversation.objects.filter(
            restaurant_id=self.sender.restaurant_id, customer_phone=self.phone, bot_paused=True
        ).exists()

    def _outbound(self):
        return Message.objects.filter(
            restaurant_id=self.sender.restaurant_id,
            conversation__customer_phone=self.phone,
            direction=Message.Direction.OUTBOUND,
        )


def _sender_pick(restaurant) -> Sender:
    """The restaurant's first active sender that speaks Twilio's webhook format, console ones first."""
    sender = (
        Sender.objects.filter(restaurant=restaurant, active=True, provider__in=["console", "twilio"])
        .annotate(rank=Case(When(provider="console", then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("rank", "id")
        .first()
    )
    if sender is None:
        raise CommandError(f"{restaurant.slug} has no active console or Twilio sender.")
    if not sender.credentials.get("auth_token"):
        raise CommandError(f"Sender {sender.phone_number} has no secret to sign webhooks with (auth_token).")
    return sender


def _prompted() -> Iterator[str]:
    while True:
        try:
            yield input("you> ")
        except EOFError:
            return


def _float(text: str, *, default: float) -> float:
    try:
        return max(float(text), 0.0)
    except ValueError:
        return default


def _location_params(rest: str) -> dict[str, str] | None:
    where, _, address = rest.strip().partition(" ")
    lat, _, lon = where.partition(",")
    try:
        latitude, longitude = float(lat), float(lon)
    except ValueError:
        return None
    return {"Latitude": str(latitude), "Longitude": str(longitude), "MessageType": "location", "Address": address}
