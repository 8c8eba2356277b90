"""Query parameters, declared once as pydantic models: the views (and the pages that share a
query, such as the review queue's filters) parse with them, and the OpenAPI document lists
their fields as parameters.

Query strings are text, so values convert (``"2"`` is 2) but nothing else is forgiven: a bad
value is a 422 ``invalid_parameter`` naming the parameter, with the sentence of its
:class:`~grader.service.fields.Rule`. An empty value counts as absent; parameters
a model does not declare are ignored (pages add their own).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..fields import Query, Rule, parse_query
from ..operations.queue import QueueFilter

__all__ = [
    "CalibrationQuery",
    "DeliveryQuery",
    "NotificationQuery",
    "Paging",
    "Query",
    "QueueFilter",
    "QueueQuery",
    "RegradeQuery",
    "SubmissionListQuery",
    "SubmissionQuery",
    "parse_query",
]

MAX_PAGE = 100_000
_ID_MAX = 2**31 - 1


def _int_rule(name: str, lo: int, hi: int) -> Rule:
    return Rule("invalid_parameter", f"{name} must be an integer from {lo} to {hi}")


class Paging(Query):
    """Offset pages; ``per_page`` is further capped by the MAX_PAGE_SIZE setting."""

    page: Annotated[
        int, Field(ge=1, le=MAX_PAGE, description="Page."), _int_rule("page", 1, MAX_PAGE)
    ] = 1
    per_page: Annotated[
        int,
        Field(ge=1, description="Items per page (default PAGE_SIZE, at most MAX_PAGE_SIZE)."),
        Rule("invalid_parameter", "per_page must be a positive integer up to MAX_PAGE_SIZE"),
    ] = None  # type: ignore[assignment]


class NotificationQuery(Query):
    unread: Annotated[
        Literal["0", "1"],
        Field(description="1: only unread ones."),
        Rule("invalid_parameter", "unread must be 0 or 1"),
    ] = None  # type: ignore[assignment]


class QueueQuery(QueueFilter, Paging):
    cursor: Annotated[
        str,
        Field(
            description="A previous page's next_cursor (same sort): the page after it, "
            "without an offset; page is then ignored."
        ),
    ] = None  # type: ignore[assignment]


class SubmissionListQuery(Query):
    assignment: Annotated[str, Field(description="An assignment slug.")] = None  # type: ignore[assignment]
    learner: Annotated[
        int,
        Field(ge=1, le=_ID_MAX, description="Staff: one learner's submissions."),
        Rule("invalid_parameter", "learner must be a positive integer"),
    ] = None  # type: ignore[assignment]
    limit: Annotated[
        int,
        Field(
            ge=1,
            le=_ID_MAX,
            description="At most this many, newest first (default 100, capped at 500).",
        ),
        Rule("invalid_parameter", "limit must be a positive integer"),
    ] = 100


class SubmissionQuery(Query):
    include: Annotated[
        Literal["content"],
        Field(description="Staff: 'content' includes the answer's text."),
        Rule("invalid_parameter", "include must be content"),
    ] = None  # type: ignore[assignment]


_DRY_RUN = Annotated[
    Literal["0", "1", "true", "false", "yes", "no"],
    Rule("invalid_parameter", "dry_run must be 1, true, yes, 0, false or no"),
]


class RegradeQuery(Query):
    dry_run: Annotated[
        _DRY_RUN,
        Field(description="1, true or yes: the job reports what would change and writes nothing."),
    ] = "0"

    @property
    def dry(self) -> bool:
        return self.dry_run in ("1", "true", "yes")


class CalibrationQuery(Query):
    dry_run: Annotated[
        _DRY_RUN,
        Field(description="1, true or yes: report the calibration and what it would change."),
    ] = "0"
    level: Annotated[
        float,
        Field(ge=0.5, le=0.99, allow_inf_nan=False, description="Interval level (default 0.9)."),
        Rule("invalid_parameter", "level must be a number from 0.5 to 0.99"),
    ] = 0.9

    @property
    def dry(self) -> bool:
        return self.dry_run in ("1", "true", "yes")


class DeliveryQuery(Paging):
    status: Annotated[
        Literal["pending", "succeeded", "failed"],
        Field(description="Only deliveries in this state."),
        Rule("invalid_parameter", "status must be pending, succeeded or failed"),
    ] = None  # type: ignore[assignment]
