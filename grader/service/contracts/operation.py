"""One declaration per API operation: what it takes and answers, read by the view's
serialisation and by the OpenAPI document alike.

``@operation(...)`` goes right below the route decorator. It records an :class:`Operation`
on the view (``view.operation``), and, for each response status that names a model, checks
the view's body against the model and sends what was set: a body the contract does not
declare is a bug, and fails loudly in tests rather than reaching a client.
:mod:`grader.service.openapi` walks the app's routes and turns each recorded operation into
its entry, so nothing about an operation is written twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Response as FlaskResponse

from .queries import Query
from .requests import Body
from .responses import Response

__all__ = ["ADMIN_ONLY", "STAFF_ONLY", "Header", "Operation", "Reply", "operation"]

STAFF_ONLY = "Instructor or admin."
ADMIN_ONLY = "Admin only."

Security = Literal["bearer", "public", "signed"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Reply:
    """One response status: its model (or a raw media type) and what it means."""

    model: type[Response] | None = None
    description: str = "OK"
    media: str = "application/json"
    location: bool = False  # sends a Location header
    # Without a model: the body's schema (the view answers with a ready Flask response).
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class Header:
    """A request header the operation reads."""

    name: str
    schema: Mapping[str, Any]
    description: str


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one operation."""

    id: str
    summary: str
    tag: str
    replies: Mapping[int, Reply]
    errors: tuple[int, ...] = ()
    body: type[Body] | None = None
    body_required: bool = True
    # Other media types the body may come as, with their schemas (the JSON one is ``body``).
    body_media: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    query: type[Query] | None = None
    headers: tuple[Header, ...] = ()
    security: Security = "bearer"
    description: str | None = None


def operation(
    id: str,
    summary: str,
    tag: str,
    replies: Mapping[int, Reply | type[Response]],
    **options: Any,
) -> Callable[[F], F]:
    """Declare the view's contract (see :class:`Operation`); a model given alone for a status
    is that status's body."""
    declared = Operation(
        id,
        summary,
        tag,
        {s: r if isinstance(r, Reply) else Reply(r) for s, r in replies.items()},
        **options,
    )
    default_status = min(declared.replies)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def serialised(*args: Any, **kwargs: Any) -> Any:
            result = view(*args, **kwargs)
            if isinstance(result, FlaskResponse):
                return result
            body, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
            status = rest[0] if rest else default_status
            reply = declared.replies.get(status)
            if reply is None or reply.model is None:
                raise LookupError(f"{declared.id} answered {status}, which it does not declare")
            dumped = reply.model.model_validate(body).model_dump(mode="json", exclude_unset=True)
            return (dumped, *rest) if rest else dumped

        serialised.operation = declared  # type: ignore[attr-defined]
        return serialised  # type: ignore[return-value]

    return decorate
