"""Standard Webhooks signatures, through the ``standardwebhooks`` library (no HMAC here).

Inbound: a request is accepted when any of the platform's active secrets verifies it.
Outbound: a message carries one ``v1,`` signature per active secret, newest first, so a
receiver configured with either the old or the new secret verifies it during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from ..errors import APIError

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60  # the library's fixed tolerance, both directions
# Standard Webhooks ids are opaque; we accept what fits the receipts table and a header.
_WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def new_secret() -> str:
    """A fresh 256-bit signing secret in the ``whsec_<base64>`` format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag that tells secrets apart in admin views and logs."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def sign_headers(
    secrets_newest_first: Iterable[str], webhook_id: str, body: str, *, now: float | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for body, signed with every given secret."""
    ts = int(time.time() if now is None else now)
    at = datetime.fromtimestamp(ts, UTC)
    signatures = [Webhook(s).sign(webhook_id, at, body) for s in secrets_newest_first]
    if not signatures:
        raise ValueError("no active signing secret")
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(signatures),
    }


def _bad(status: int, code: str, message: str, field: str) -> APIError:
    return APIError(status, code, message, field=field)


def verify(secrets_: Iterable[str], body: bytes, headers: Mapping[str, str]) -> str:
    """Check the signature headers over the raw body; return the webhook id.

    The header and timestamp checks are done first only to answer with a precise error;
    the signature (and the timestamp again) is verified by ``standardwebhooks``.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        if not lower.get(name, "").strip():
            raise _bad(401, "missing_signature", f"the {name} header is required", name)
    webhook_id = lower["webhook-id"].strip()
    if not _WEBHOOK_ID.match(webhook_id):
        raise _bad(
            401,
            "invalid_webhook_id",
            "webhook-id must be 1 to 128 visible ASCII characters",
            "webhook-id",
        )
    raw_ts = lower["webhook-timestamp"].strip()
    if not raw_ts.isdigit() or len(raw_ts) > 12:
        raise _bad(
            401,
            "invalid_timestamp",
            "webhook-timestamp must be whole seconds since the Unix epoch",
            "webhook-timestamp",
        )
    skew = int(raw_ts) - time.time()
    if abs(skew) > TOLERANCE_SECONDS:
        direction = "in the future" if skew > 0 else "old"
        raise _bad(
            401,
            "timestamp_out_of_tolerance",
            f"webhook-timestamp is {abs(skew):.0f} s {direction}; "
            f"at most {TOLERANCE_SECONDS} s either way is accepted",
            "webhook-timestamp",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(422, "invalid_encoding", "the body is not valid UTF-8", "body") from exc
    checked = {
        "webhook-id": webhook_id,
        "webhook-timestamp": raw_ts,
        "webhook-signature": lower["webhook-signature"],
    }
    for secret in secrets_:
        try:
            Webhook(secret).verify(text, checked, json_parse=False)
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc).lower():  # the clock moved past the edge meanwhile
                raise _bad(
                    401, "timestamp_out_of_tolerance", str(exc), "webhook-timestamp"
                ) from exc
            continue
        except (ValueError, TypeError) as exc:  # a malformed signature list (base64, commas)
            raise _bad(
                401,
                "invalid_signature",
                "webhook-signature must be space-separated 'v1,<base64>' values",
                "webhook-signature",
            ) from exc
        return webhook_id
    raise _bad(
        401,
        "invalid_signature",
        "no signature in webhook-signature matches this platform's secrets",
        "webhook-signature",
    )
