"""Streamed downloads, served the same way by the JSON API and the pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Response, stream_with_context

from .db import get_db
from .operations.exports import Lines


def stream_download(
    lines: Callable[..., Iterator[str]],
    *args: object,
    filename: str,
    mimetype: str = "text/csv",
) -> Response:
    """``lines(session, *args)`` streamed as an attachment (CSV unless told otherwise).

    The lines are produced after the view has returned, when the request's own session is
    already closed, so they are given the session of the streaming context.
    """

    def stream() -> Lines:
        yield from lines(get_db().session, *args)

    return Response(
        stream_with_context(stream()),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
