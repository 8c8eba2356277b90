"""Endpoint URLs and the requests we make to them: none into the private network.

A URL must be https and every address its host resolves to must be public, unless the
host (by name, IP or network) is in WEBHOOK_ALLOWED_HOSTS, which also permits http. The
check runs at registration and again before every delivery, and the connection goes to an
address that was just checked (pinned), so DNS rebinding between check and connect does
not reach an internal host. Redirects are never followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
_EXCERPT_BYTES = 2048


class UnsafeURL(ValueError):
    """The URL is malformed, not https, or reaches a non-public address."""


@dataclass(frozen=True)
class Allowlist:
    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> Allowlist:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (raw or "").split(","):
            item = item.strip().lower().strip("[]")
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (addresses just resolved and checked) and for what."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...] = field(default=())


# The only IPv6 space that is public unicast. Everything outside it is refused, whatever
# is_global says: NAT64 (64:ff9b::/96, which reaches IPv4 addresses such as the metadata
# service), IPv4-compatible ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, site-local fec0::/10.
_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: an allowlist (IPv4 global, IPv6 in 2000::/3 and global),
    with the IPv4 address inside 6to4, Teredo and IPv4-mapped forms judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = (
            address.ipv4_mapped
            or address.sixtofour
            or (address.teredo[1] if address.teredo else None)
        )
        if mapped is not None:
            return is_public(mapped)
        if address not in _IPV6_GLOBAL_UNICAST:
            return False
    return address.is_global and not address.is_multicast


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL without credentials."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the URL must be a string of 1 to {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeURL("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"the URL is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeURL("the URL must start with https://")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("the URL must not contain credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("the URL has no host")
    if parts.fragment:
        raise UnsafeURL("the URL must not have a #fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if scheme == "https" else 80
    return scheme, host, default if port is None else port, path


def check_url(url: str, allowlist: Allowlist, *, resolve: bool = True) -> Target:
    """Validate url for delivery; raise UnsafeURL saying why not.

    With resolve, the host is looked up now and every address must pass: a name that
    resolves to one public and one private address is refused.
    """
    scheme, host, port, path = parse_url(url)
    by_name = allowlist.allows_name(host)
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif not resolve:
        addresses = []
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURL(f"the host {host!r} does not resolve ({exc})") from exc
        addresses = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if addr not in addresses:
                addresses.append(addr)
        if not addresses:
            raise UnsafeURL(f"the host {host!r} does not resolve")
    for addr in addresses:
        if not (by_name or allowlist.allows_address(addr) or is_public(addr)):
            raise UnsafeURL(
                f"the host {host!r} resolves to {addr}, which is not a public address "
                "(add it to WEBHOOK_ALLOWED_HOSTS to allow it)"
            )
    allowed = by_name or (bool(addresses) and all(allowlist.allows_address(a) for a in addresses))
    if scheme != "https" and not allowed:
        raise UnsafeURL("the URL must start with https:// (http only for allowlisted hosts)")
    return Target(scheme, host, port, path, tuple(str(a) for a in addresses))


@dataclass(frozen=True)
class PostResult:
    status: int | None
    headers: dict[str, str]
    excerpt: str
    error: str | None
    latency_ms: float


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._addresses = target.addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _connect(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST body to a checked target; never raises for network errors (they are results)."""
    return send("POST", target, body, headers, timeout)


def send(
    method: str,
    target: Target,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
    *,
    read_limit: int = _EXCERPT_BYTES,
) -> PostResult:
    """One request to a checked target, reading at most read_limit bytes of the answer
    (LTI reads whole JSON documents); network errors are results, never raised."""
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = cls(target, timeout)
    started = time.monotonic()
    try:
        conn.request(method, target.path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(read_limit).decode("utf-8", "replace")
        return PostResult(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            excerpt,
            None,
            (time.monotonic() - started) * 1000,
        )
    except (OSError, http.client.HTTPException) as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return PostResult(None, {}, "", message[:500], (time.monotonic() - started) * 1000)
    finally:
        conn.close()
