"""One error envelope for the whole API.

Every error body is ``{"error": {"status", "code", "message", "field"?}}``: domain errors
raise :class:`APIError`, HTTP errors from Flask/Werkzeug are wrapped the same way, and an
unexpected exception rolls the session back and answers a 500 without a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class APIError(Exception):
    """An error the caller can act on: status, machine code, message, and the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    @property
    def sentence(self) -> str:
        """The message as the pages show it: a sentence, capital first, full stop last."""
        message = self.message.strip()
        if not message:
            return message
        message = message[0].upper() + message[1:]
        return message if message.endswith((".", "!", "?")) else message + "."

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


def not_found(what: str = "resource") -> APIError:
    return APIError(404, "not_found", f"{what} not found")


def forbidden(message: str = "you may not do this") -> APIError:
    return APIError(403, "forbidden", message)


def envelope(status: int, code: str, message: str, field: str | None = None) -> Response:
    response = jsonify(APIError(status, code, message, field=field).to_dict())
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or not request.accept_mimetypes.accept_html


def _nul_field() -> str | None:
    """Where a NUL character came in (path, a query parameter, a form field), if anywhere.

    No database stores NUL in text (PostgreSQL refuses it mid-statement), so it is refused
    here, once, before any view runs. Multipart bodies are left to their views, which read
    them within the size limit and clean the answer in them.
    """
    if "\x00" in request.path:
        return "path"
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    if request.mimetype == "application/x-www-form-urlencoded":
        for key, value in request.form.items(multi=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "") or "form"
    return None


#: Seconds a client is asked to wait when the database is down (503).
RETRY_AFTER = 5


def is_outage(exc: Exception) -> bool:
    """A database that cannot be reached (down, restarting, locked), not a bad statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _rollback() -> None:
    from .db import get_db

    try:
        get_db().session.rollback()
    except Exception:  # the session itself may be broken, or the database gone
        log.warning("rollback failed", exc_info=True)


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul() -> None:
        where = _nul_field()
        if where is None:
            return
        message = f"{where} contains a NUL character"
        if _wants_json():
            raise APIError(400, "invalid_character", message, field=where)
        abort(400, description=message)

    @app.errorhandler(APIError)
    def _api_error(exc: APIError) -> Response:
        response = jsonify(exc.to_dict())
        response.status_code = exc.status
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not _wants_json():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        response = envelope(exc.code or 500, code, exc.description or exc.name or "error")
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_error(exc: Exception) -> Response:
        if not is_outage(exc):
            return _unexpected(exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        _rollback()
        message = "the database is not reachable just now; nothing was saved, try again shortly"
        if _wants_json():
            response = envelope(503, "service_unavailable", message)
        else:
            response = Response(f"<!doctype html><title>503</title><p>{message}</p>", 503)
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()
        return envelope(500, "internal_error", "an unexpected error occurred; nothing was saved")
