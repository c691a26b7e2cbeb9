"""The one HTTP POST of the outgoing webhooks, made safe for URLs that restaurants type in.

- The host is resolved here, at delivery time, and every address it resolves to must be public (not
  loopback, private, link-local, the cloud metadata address, CGNAT, multicast, reserved, …) unless it is in
  settings.WEBHOOK_ALLOWED_NETWORKS. The request then goes to the checked address itself (Host header and
  TLS SNI/certificate check keep the name), so a second DNS answer cannot swap in an internal one.
- Connect and read timeouts, an overall deadline, no redirects followed, the response read up to a cap.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.utils import timezone

RESPONSE_KEEP_BYTES = 1024  # what an attempt's log keeps of the response


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address deliveries may not reach."""


@dataclass
class PostOutcome:
    status_code: int | None
    error: str  # empty when a response came back
    duration_ms: int
    body_head: str  # the first KB of the response
    retry_after: float | None  # seconds, from a Retry-After header
    address_refused: bool = False


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs about 25 ms, more than a whole delivery."""
    return httpx.create_ssl_context()


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in _allowed_networks()):
        return True
    # is_global is False for loopback, RFC 1918, link-local (169.254.169.254, the metadata service), CGNAT
    # (100.64/10), unique-local IPv6, documentation and reserved ranges.
    return ip.is_global and not ip.is_multicast


def resolve_checked(host: str, port: int) -> str:
    """The address to connect to for `host`, or AddressRefused. Every address the name has must pass: a
    name that also resolves to an internal address is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    refused = [address for address in addresses if not address_allowed(address)]
    if refused or not addresses:
        raise AddressRefused(f"{host} resolves to an address webhooks may not reach ({', '.join(refused)})")
    return addresses[0]


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def webhook_post(url: str, *, body: bytes, headers: dict[str, str]) -> PostOutcome:
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve_checked(host, port)
    except AddressRefused as exc:
        return PostOutcome(None, str(exc), took(), "", None, address_refused=True)
    except OSError as exc:
        return PostOutcome(None, str(exc)[:500], took(), "", None)
    netloc_ip = f"[{address}]" if ":" in address else address
    target = urlunsplit((parts.scheme, f"{netloc_ip}:{port}", parts.path or "/", parts.query, ""))
    timeout = httpx.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
        write=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
        pool=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
    )
    host_header = parts.netloc.rsplit("@", 1)[-1]
    request_headers = {**headers, "host": host_header}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    deadline = started + settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls_context()) as client:
            request = client.build_request("POST", target, content=body, headers=request_headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                received = bytearray()
                for chunk in response.iter_raw():
                    received += chunk
                    if len(received) >= settings.WEBHOOK_RESPONSE_MAX_BYTES or time.perf_counter() > deadline:
                        break  # enough to log; the rest is not read
            finally:
                response.close()
    except httpx.TimeoutException as exc:
        return PostOutcome(None, f"timeout: {type(exc).__name__}", took(), "", None)
    except httpx.HTTPError as exc:
        return PostOutcome(None, f"{type(exc).__name__}: {exc}"[:500], took(), "", None)
    head = bytes(received[:RESPONSE_KEEP_BYTES]).decode("utf-8", errors="replace")
    return PostOutcome(
        response.status_code, "", took(), head, _retry_after_seconds(response.headers.get("retry-after"))
    )
