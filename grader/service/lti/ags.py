"""The AGS client: access tokens by OAuth2 client credentials with a signed JWT assertion
(cached until shortly before they expire), and the line item a link's scores go to
(the launch's own, else found by resource link and tag, else created).

Every request is made through grader.service.webhooks.urls (https, no private address
unless allowlisted, no redirects) and returned as a PostResult, never raised.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..webhooks.urls import Allowlist, PostResult, UnsafeURL, check_url, send
from .keys import Signer

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
READ_LIMIT = 512 * 1024
USER_AGENT = "grader-lti/1"

#: Called for every request made, so each is logged with the score it was made for.
Recorder = Callable[[str, PostResult], None]


class AGSError(Exception):
    """A request that did not give what was needed; ``result`` is what came back."""

    def __init__(self, message: str, result: PostResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class _Token:
    value: str
    expires: float


class _TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[int, str], _Token] = {}

    def get(self, key: tuple[int, str]) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
        return token.value if token is not None and token.expires > time.monotonic() else None

    def put(self, key: tuple[int, str], value: str, lifetime: float) -> None:
        with self._lock:
            # Refreshed a little early, so a token never expires on the way.
            self._tokens[key] = _Token(value, time.monotonic() + max(0.0, lifetime - 30))

    def drop(self, platform_id: int) -> None:
        with self._lock:
            for key in [k for k in self._tokens if k[0] == platform_id]:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = _TokenCache()


@dataclass(frozen=True)
class PlatformEndpoints:
    """What the client needs of a platform registration, read before any request."""

    id: int
    client_id: str
    token_url: str
    token_audience: str | None


# Pages of a line-item container read before creating one (a course has few line items
# tagged for one resource link; each page costs a request within the score's lease).
MAX_PAGES = 5


@dataclass
class Client:
    """Requests to one platform on behalf of one score (or a connection test); it holds no
    database session."""

    platform: PlatformEndpoints
    sign: Signer
    allowlist: Allowlist
    timeout: float
    record: Recorder

    def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> PostResult:
        try:
            target = check_url(url, self.allowlist)
        except UnsafeURL as exc:
            result = PostResult(None, {}, "", f"refused: {exc}", 0.0)
        else:
            result = send(
                method,
                target,
                body,
                headers | {"User-Agent": USER_AGENT},
                self.timeout,
                read_limit=READ_LIMIT,
            )
        self.record(url, result)
        return result

    def token(self, scopes: tuple[str, ...]) -> str:
        scope = " ".join(sorted(scopes))
        key = (self.platform.id, scope)
        cached = TOKENS.get(key)
        if cached is not None:
            return cached
        now = int(time.time())
        assertion = self.sign(
            {
                "iss": self.platform.client_id,
                "sub": self.platform.client_id,
                "aud": self.platform.token_audience or self.platform.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": secrets.token_urlsafe(16),
            },
        )
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": scope,
            }
        ).encode()
        result = self._request(
            "POST",
            self.platform.token_url,
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        if result.status != 200:
            raise AGSError("the platform refused an access token", result)
        try:
            document = json.loads(result.excerpt)
            value = document["access_token"]
            lifetime = float(document.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise AGSError("the platform's token answer has no access_token", result) from exc
        if not isinstance(value, str) or not value:
            raise AGSError("the platform's token answer has no access_token", result)
        TOKENS.put(key, value, lifetime)
        return value

    def _authorized(self, scopes: tuple[str, ...], headers: dict[str, str]) -> dict[str, str]:
        return headers | {"Authorization": f"Bearer {self.token(scopes)}"}

    def find_or_create_line_item(
        self, lineitems_url: str, wanted: dict[str, Any], scopes: tuple[str, ...]
    ) -> str:
        """The line item for this resource link and tag (created if there is none), reading
        every page of the container (Link: rel="next")."""
        query = urlencode({"resource_link_id": wanted["resourceLinkId"], "tag": wanted["tag"]})
        url: str | None = with_query(lineitems_url, query)
        for _ in range(MAX_PAGES):
            if url is None:
                break
            result = self._request(
                "GET", url, None, self._authorized(scopes, {"Accept": CONTAINER_TYPE})
            )
            if result.status != 200:
                raise AGSError("the platform's line items could not be read", result)
            try:
                items = json.loads(result.excerpt)
            except ValueError as exc:
                raise AGSError(
                    "the platform's line items are not JSON (or too long)", result
                ) from exc
            if not isinstance(items, list):
                raise AGSError("the platform's line items are not a list", result)
            for item in items:
                if (
                    isinstance(item, dict)
                    and item.get("resourceLinkId") == wanted["resourceLinkId"]
                    and item.get("tag") == wanted["tag"]
                    and isinstance(item.get("id"), str)
                ):
                    return str(item["id"])
            url = next_page(result.headers.get("link"))
        created = self._request(
            "POST",
            lineitems_url,
            json.dumps(wanted | {"gradesReleased": True}).encode(),
            self._authorized(scopes, {"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE}),
        )
        if created.status not in (200, 201):
            raise AGSError("the platform refused to create the line item", created)
        try:
            item_id = json.loads(created.excerpt)["id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AGSError("the created line item has no id", created) from exc
        return str(item_id)

    def post_score(
        self, lineitem_url: str, score: dict[str, Any], scopes: tuple[str, ...]
    ) -> PostResult:
        return self._request(
            "POST",
            scores_url(lineitem_url),
            json.dumps(score, ensure_ascii=False).encode(),
            self._authorized(scopes, {"Content-Type": SCORE_TYPE}),
        )


def with_query(url: str, query: str) -> str:
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(query=joined))


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: ``/scores`` after its path, before its query."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def next_page(link_header: str | None) -> str | None:
    """The rel="next" URL of a Link header, if any (as sent: URLs are case-sensitive)."""
    match = _NEXT.search(link_header or "")
    return match.group(1) if match else None
