"""Webhook SSRF (#12.3) against real local servers: vetted addresses only, one lookup, no bodies kept."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptopay.adapters.webhooks import HttpxWebhookSender
from cryptopay.core.errors import Unavailable
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.webhooks import deliveries_of, webhook_storage
from cryptopay.core.webhooks import create_endpoint, deliver_webhook, fan_out

MERCHANT = "hooks.shop-merchant.co.ke"


@attrs.define
class Server:
    port: int
    hits: list[dict[str, str]] = attrs.Factory(list)
    server_names: list[str | None] = attrs.Factory(list)


class _Handler(BaseHTTPRequestHandler):
    state: Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.state.hits.append({k.lower(): v for k, v in self.headers.items()})
        secret = b"internal secret: db password hunter2"
        self.send_response(500)
        self.send_header("content-length", str(len(secret)))
        self.end_headers()
        self.wfile.write(secret)

    def log_message(self, *args: object) -> None:
        pass


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {}))
    state = Server(httpd.server_address[1])
    httpd.RequestHandlerClass.state = state  # type: ignore[attr-defined]
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: state.server_names.append(name)  # type: ignore[assignment,misc]
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[Server, ssl.SSLContext]]:
    cert, key = _certificate(MERCHANT)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trust = ssl.create_default_context(cadata=cert.decode())
    for state in _serve(context):
        yield state, trust


class Dns:
    """A resolver standing in for DNS: answers from a table, counts lookups, fails for unknown names."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table, self.lookups = table, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return self.table[host]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]"],
)
def test_loopback_in_any_spelling_is_refused_before_a_byte_is_sent(server: Server, host: str) -> None:
    """Integer, hex, octal, short and IPv6 forms of loopback are all refused when loopback is not allowed."""
    with HttpxWebhookSender(resolver=Dns({})) as sender, pytest.raises(Unavailable, match="refused"):
        sender.send(f"http://{host}:{server.port}/hook", {}, b"{}")
    assert server.hits == []


@pytest.mark.parametrize("answers", [["127.0.0.1"], ["100.64.0.7"], ["169.254.169.254"], ["8.8.8.8", "10.0.0.2"]])
def test_a_name_resolving_to_any_non_global_address_is_refused(server: Server, answers: list[str]) -> None:
    """Every resolved address must be global: loopback, CGNAT, link-local (metadata) or one private among many."""
    with (
        HttpxWebhookSender(resolver=Dns({MERCHANT: answers})) as sender,
        pytest.raises(Unavailable, match="non-public"),
    ):
        sender.send(f"http://{MERCHANT}:{server.port}/hook", {}, b"{}")
    assert server.hits == []


@pytest.mark.parametrize("host", ["metadata", "metadata.google.internal", "redis", "db.internal", "x.localhost"])
def test_internal_names_are_refused_without_a_lookup(host: str) -> None:
    """Single-label, metadata and internal-suffix names never reach the resolver."""
    dns = Dns({})
    with HttpxWebhookSender(resolver=dns) as sender, pytest.raises(Unavailable, match="refused"):
        sender.send(f"http://{host}/hook", {}, b"{}")
    assert dns.lookups == 0


def test_a_failed_lookup_refuses_the_send() -> None:
    """A name that does not resolve fails closed: Unavailable, nothing sent."""
    with HttpxWebhookSender(resolver=Dns({})) as sender, pytest.raises(Unavailable, match="could not resolve"):
        sender.send(f"https://{MERCHANT}/hook", {}, b"{}")


def test_the_request_goes_to_the_vetted_address_with_the_original_host(server: Server) -> None:
    """One lookup; the connection goes to the address vetted, the Host header keeps the merchant's name."""
    dns = Dns({MERCHANT: ["127.0.0.1"]})
    with HttpxWebhookSender(resolver=dns, allow_loopback=True) as sender:
        answer = sender.send(f"http://{MERCHANT}:{server.port}/hook", {"x-test": "1"}, b"{}")
    assert answer.status_code == 500 and dns.lookups == 1
    assert server.hits[0]["host"] == f"{MERCHANT}:{server.port}" and server.hits[0]["x-test"] == "1"


def test_tls_keeps_the_server_name_and_checks_the_certificate_for_it(tls_server) -> None:
    """Over https the TLS server name (SNI) is the merchant's host and its certificate is verified for it."""
    server, trust = tls_server
    dns = Dns({MERCHANT: ["127.0.0.1"]})
    with HttpxWebhookSender(resolver=dns, allow_loopback=True, verify=trust) as sender:
        answer = sender.send(f"https://{MERCHANT}:{server.port}/hook", {}, b"{}")
    assert answer.status_code == 500 and server.server_names == [MERCHANT]
    assert server.hits[0]["host"] == f"{MERCHANT}:{server.port}"


def test_tls_to_a_name_the_certificate_does_not_cover_fails(tls_server) -> None:
    """Connecting by address does not weaken verification: a certificate for another name is refused."""
    server, trust = tls_server
    dns = Dns({"other.shop-merchant.co.ke": ["127.0.0.1"]})
    sender = HttpxWebhookSender(resolver=dns, allow_loopback=True, verify=trust)
    with sender, pytest.raises(Unavailable, match="could not reach"):
        sender.send(f"https://other.shop-merchant.co.ke:{server.port}/hook", {}, b"{}")


def test_the_answer_body_is_never_kept_or_shown(server: Server) -> None:
    """The delivery log keeps the status and our reason, never what the endpoint answered."""
    storage, ids, clock = webhook_storage(), RandomIds(), SystemClock()
    endpoint = create_endpoint(
        "m1",
        f"http://127.0.0.1:{server.port}/hook",
        uow_factory=storage.unit_of_work,
        ids=ids,
        clock=clock,
        allow_insecure=True,
    )
    message = OutboxMessage.new("out_1", "invoice.created", {"merchant_id": "m1"}, at=clock.now())
    with storage.unit_of_work() as uow:
        (delivery,) = fan_out(uow, message, ids=ids, now=clock.now())

    class Queue:
        def enqueue(self, *args: object, **kwargs: object) -> None:
            pass

    with HttpxWebhookSender(allow_loopback=True) as sender:
        after = deliver_webhook(
            delivery.id, uow_factory=storage.unit_of_work, sender=sender, queue=Queue(), clock=clock
        )
    (attempt,) = deliveries_of(storage).attempts(delivery.id)
    assert after is not None and after.last_error == "HTTP 500" and endpoint.id == after.endpoint_id
    assert attempt.status_code == 500 and attempt.response_snippet == ""


def test_a_failure_names_no_error_class_so_the_log_is_no_port_or_banner_scanner(tls_server) -> None:
    """review R17: a closed port and a TLS or protocol failure read alike ("could not reach ... (no HTTP answer)"):
    the merchant learns the outcome, not which transport error it was (the server's own log keeps that)."""
    server, trust = tls_server
    dns = Dns({"other.shop-merchant.co.ke": ["127.0.0.1"]})
    with HttpxWebhookSender(resolver=dns, allow_loopback=True, verify=trust) as sender:
        with pytest.raises(Unavailable) as closed:
            sender.send("http://127.0.0.1:9/closed", {}, b"{}")
        with pytest.raises(Unavailable) as tls:
            sender.send(f"https://other.shop-merchant.co.ke:{server.port}/hook", {}, b"{}")
    assert closed.value.message == "could not reach http://127.0.0.1:9/closed (no HTTP answer)"
    assert tls.value.message == f"could not reach https://other.shop-merchant.co.ke:{server.port}/hook (no HTTP answer)"


def test_a_send_logs_neither_the_query_string_nor_the_resolved_address(server: Server, capsys) -> None:
    """review8 R4: with logging configured as the worker configures it (``logs.configure``, INFO), httpx's own request
    line printed every webhook URL whole, query string included (``?auth=`` credentials a receiver that cannot check
    signatures relies on) and the vetted address the request was pinned to. Only the sender's own line is left: the
    merchant's host and path, the status and the time."""
    import logging

    from cryptopay.core import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    secret = "auth=SECRETQ7x9zz&t=Zx9Qw8Er7Ty6Ui5Op4"
    try:
        logs.configure(structured=True)
        dns = Dns({MERCHANT: ["127.0.0.1"]})
        with HttpxWebhookSender(resolver=dns, allow_loopback=True) as sender:
            assert sender.send(f"http://{MERCHANT}:{server.port}/hook?{secret}", {}, b"{}").status_code == 500
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    printed = capsys.readouterr().err
    assert f"webhook POST http://{MERCHANT}:{server.port}/hook answered 500" in printed
    assert "SECRETQ7x9zz" not in printed and "Zx9Qw8Er7Ty6Ui5Op4" not in printed
    assert "127.0.0.1" not in printed
