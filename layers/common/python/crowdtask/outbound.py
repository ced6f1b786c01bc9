"""Requests to the endpoints requesters name: Standard Webhooks signatures, and a POST that only ever
reaches a public address.

The destination is resolved at send time and every address it resolves to is checked; the connection
then goes to the address that passed the check (a second lookup could answer another one), while the
TLS server name and the Host header stay the URL's host. Loopback is allowed only where the stack says
so (`make run`); private, link-local, multicast, reserved and unspecified addresses never are.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of the format, not a secret
TIMEOUT_SECONDS = 15.0
_MAX_RESPONSE_BYTES = 64 * 1024
_MAX_URL = 2000
USER_AGENT = "crowdtask-webhooks/1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to; tests replace it
Resolver = Callable[[str, int], list[str]]


class UnsafeUrl(ValueError):
    """The URL may not be called: `reason` says why, for the requester."""


def new_secret() -> str:
    """A signing secret as the Standard Webhooks libraries read it: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The Standard Webhooks headers; one signature per secret, space-separated (during a rotation)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
    }


# ---------------------------------------------------------------- where a request may go


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


resolver: Resolver = _system_resolver


def refusal(address: Address, *, allow_loopback: bool) -> str | None:
    """Why a request may not go to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return refusal(embedded, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    for flag, why in (
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_site_local", "a site-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, flag, False):  # is_site_local: IPv6 only
            return why
    if not address.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str, *, allow_loopback: bool) -> Target:
    """The URL's parts, if its form may be called (https; http too where loopback is allowed)."""
    if len(url) > _MAX_URL:
        raise UnsafeUrl(f"at most {_MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("not a valid URL") from exc
    allowed = ("https", "http") if allow_loopback else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("must be an https URL" if not allow_loopback else "must be an http(s) URL")
    if not parts.hostname:
        raise UnsafeUrl("must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not carry credentials")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, *, allow_loopback: bool) -> Target:
    """At subscription: the URL's form, and its host's addresses when it resolves (a name that does not
    resolve yet is accepted; every delivery checks again). UnsafeUrl names the reason."""
    target = parse_url(url, allow_loopback=allow_loopback)
    if target.scheme == "http":
        address = literal_address(target.host)
        if address is None or not address.is_loopback:
            raise UnsafeUrl("http is allowed to loopback addresses only; use https")
    with contextlib.suppress(_Unresolved):
        safe_addresses(target, allow_loopback=allow_loopback)
    return target


class _Unresolved(UnsafeUrl):
    pass


def safe_addresses(target: Target, *, allow_loopback: bool) -> list[str]:
    """The addresses of the target's host, every one of them allowed; UnsafeUrl if any is not."""
    literal = literal_address(target.host)
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise _Unresolved("the host does not resolve") from exc
        if not found:
            raise _Unresolved("the host does not resolve")
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = refusal(address, allow_loopback=allow_loopback)
        if why is not None:
            raise UnsafeUrl(f"resolves to {why}")  # not which: the requester learns no internal address
        if target.scheme == "http" and not address.is_loopback:
            raise UnsafeUrl("http is allowed to loopback addresses only; use https")
    return found


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class Outcome:
    """One attempt: the status (None when no answer came), what went wrong, and how long it took."""

    status_code: int | None
    error_type: str | None
    error: str | None
    duration_ms: int
    retry_after: str | None = None

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to `address` that speaks to `target.host` (SNI, certificate check, Host header)."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def pinned(
        _address: tuple[str, int], timeout: float | None = None, source: object = None
    ) -> socket.socket:
        return socket.create_connection((address, target.port), timeout)

    conn._create_connection = pinned  # type: ignore[attr-defined]  # the one seam http.client offers
    return conn


def post(
    url: str,
    body: str,
    headers: Mapping[str, str],
    *,
    allow_loopback: bool,
    timeout: float = TIMEOUT_SECONDS,
) -> Outcome:
    """POST `body` to `url` if it resolves only to allowed addresses; never raises for the endpoint's
    faults (they are the outcome). Redirects are not followed: a 3xx is a failure."""
    started = time.monotonic()
    status: int | None = None
    retry_after: str | None = None
    kind: str | None = None
    error: str | None = None
    try:
        target = parse_url(url, allow_loopback=allow_loopback)
        addresses = safe_addresses(target, allow_loopback=allow_loopback)
        conn = _connection(target, addresses[0], timeout)
        try:
            status, retry_after, complete = _exchange(conn, target, body, headers, started + timeout)
        finally:
            conn.close()
        if not complete:
            kind, error = "timeout", f"no complete answer within {timeout:g} s"
        elif not 200 <= status < 300:
            kind, error = "http_status", f"answered {status}"
    except _Unresolved as exc:
        kind, error = "dns", str(exc)
    except UnsafeUrl as exc:
        kind, error = "refused_address", str(exc)
    except TimeoutError:
        kind, error = "timeout", f"no answer within {timeout:g} s"
    except ssl.SSLError as exc:
        kind, error = "tls", f"TLS failed: {exc.reason or exc}"
    except (OSError, http.client.HTTPException) as exc:
        kind, error = "connection", f"connection failed: {type(exc).__name__}"
    return Outcome(status, kind, error, int((time.monotonic() - started) * 1000), retry_after)


def _exchange(
    conn: http.client.HTTPConnection, target: Target, body: str, headers: Mapping[str, str], deadline: float
) -> tuple[int, str | None, bool]:
    """Send the request and read the answer until the deadline: (status, Retry-After, read in time)."""
    conn.connect()
    # The socket's timeout bounds each wait, not the whole answer: a peer sending a byte at a time
    # would hold the worker (and the batch beside it) for ever. At the deadline the socket is shut,
    # which ends whatever read is under way.
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body.encode(), headers={**headers, "user-agent": USER_AGENT})
        response = conn.getresponse()
        read = 0
        while read < _MAX_RESPONSE_BYTES and time.monotonic() < deadline:
            chunk = response.read(8192)
            if not chunk:
                break
            read += len(chunk)
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise TimeoutError from exc
        raise
    finally:
        watchdog.cancel()
    return response.status, response.getheader("retry-after"), time.monotonic() < deadline


def _shut(conn: http.client.HTTPConnection) -> None:
    if conn.sock is not None:
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)


def retry_after_seconds(value: str | None, now_epoch: float) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now_epoch)
