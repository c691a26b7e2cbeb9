"""A local https web server holding files at /<name>: what a template's header image URL points at.

Template headers are https-only (a rule of the template, not of the fetcher), so the fake speaks TLS with a
self-signed certificate for 127.0.0.1 made once per run; `trust_file()` is the CA file to hand httpx
(SSL_CERT_FILE), so the real verification path runs against it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .server import FakeFile, JsonHandler, LocalServer


@cache
def _certificate() -> tuple[str, str]:
    """(certificate file, key file) of a self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sufrah-test-file-host")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as cert_file:
        cert_file.write(certificate.public_bytes(serialization.Encoding.PEM))
    with tempfile.NamedTemporaryFile("wb", suffix=".key", delete=False) as key_file:
        key_file.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_file.name, key_file.name


def trust_file() -> str:
    return _certificate()[0]


class HttpsFileHost(LocalServer):
    """Serves `files` (name → FakeFile) over https on 127.0.0.1; every request is kept in `requests`."""

    def __init__(self) -> None:
        self.files: dict[str, FakeFile] = {}
        self.requests: list[str] = []
        host = self

        class Handler(JsonHandler):
            def do_GET(self):
                host.requests.append(self.path)
                file = host.files.get(self.path.lstrip("/"))
                if file is None:
                    return self.reply(404, {"error": "no such file"})
                return file.serve(self)

        self._serve(Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_certificate())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"https://{host}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"
