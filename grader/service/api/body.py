"""Reading request bodies safely: a size limit on what is actually read, UTF-8, JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import request

from ..errors import APIError

_CHUNK = 64 * 1024


def read_body(limit: int) -> bytes:
    """The request body, or 413 if it is larger than limit bytes.

    The limit applies to the bytes read, not only to Content-Length, so a chunked upload (no
    Content-Length) cannot slip past it, and nothing is ever stored truncated.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise APIError(
            413,
            "payload_too_large",
            f"the body is {declared} bytes; the limit is {limit} bytes",
            field="body",
        )
    if declared is None and request.environ.get("wsgi.input_terminated"):
        # Chunked upload: the server de-chunks and marks the end; read it ourselves so no
        # wrapper can cut it short.
        source = request.environ["wsgi.input"]
    else:
        source = request.stream
    chunks: list[bytes] = []
    size = 0
    while source is not None:
        chunk = source.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise APIError(
                413,
                "payload_too_large",
                f"the body is larger than the limit of {limit} bytes",
                field="body",
            )
    return b"".join(chunks)


def decode_text(raw: bytes, field: str = "body") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise APIError(
            422, "invalid_encoding", f"the body is not valid UTF-8 (byte {exc.start})", field=field
        ) from exc


class _NotJSON(ValueError):
    pass


def _not_json(constant: str) -> Any:
    raise _NotJSON(constant)


def json_object(raw: bytes) -> dict[str, Any]:
    text = decode_text(raw)
    if not text.strip():
        raise APIError(422, "empty_body", "the body is empty", field="body")
    try:
        # NaN and Infinity are not JSON: PostgreSQL would refuse them when stored.
        data = json.loads(text, parse_constant=_not_json)
        # A lone surrogate escape ("\ud800") decodes but cannot be stored as text, and a
        # number past a float's range (1e400) decodes as infinity, which is not JSON either.
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except RecursionError:
        raise APIError(422, "invalid_json", "the body is nested too deeply", field="body") from None
    except UnicodeEncodeError:
        raise APIError(
            422, "invalid_json", "the body contains a lone surrogate escape", field="body"
        ) from None
    except _NotJSON as exc:
        raise APIError(
            422, "invalid_json", f"the body is not valid JSON: {exc} is not a number", field="body"
        ) from None
    except json.JSONDecodeError as exc:
        raise APIError(
            422,
            "invalid_json",
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            field="body",
        ) from exc
    except ValueError:  # json.dumps(allow_nan=False) on a number that decoded as infinity
        raise APIError(
            422, "invalid_json", "the body has a number too large for JSON", field="body"
        ) from None
    if not isinstance(data, dict):
        raise APIError(422, "invalid_json", "the body must be a JSON object", field="body")
    return data


def json_body(limit: int = 64 * 1024) -> dict[str, Any]:
    if not request.mimetype or request.mimetype != "application/json":
        raise APIError(
            415,
            "unsupported_media_type",
            "send Content-Type: application/json",
            field="Content-Type",
        )
    return json_object(read_body(limit))


def number(value: Any, field: str, code: str) -> float:
    """A JSON number as a finite float, or a 422 naming the field (a 400-digit integer
    overflows a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise APIError(422, code, f"'{field}' must be a number", field=field)
    try:
        result = float(value)
    except OverflowError:
        raise APIError(422, code, f"'{field}' is out of range", field=field) from None
    if not math.isfinite(result):
        raise APIError(422, code, f"'{field}' must be a finite number", field=field)
    return result
