"""The review queue: which current submissions it shows, in which order, and its keyset
cursor (the API and the review pages share the filters, :class:`QueueFilter`)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import Select, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..errors import APIError
from ..fields import Query, Rule
from ..models import Assignment, Status, Submission, User, utcnow
from .assignments import author_visible

__all__ = [
    "COPY_FLAG",
    "STATUS_LIST",
    "QueueFilter",
    "COUNT_LIMIT",
    "queue_after",
    "queue_count",
    "queue_cursor",
    "queue_flags",
    "queue_page",
    "queue_query",
]

#: Shown and filtered on in the queue (staff only) for answers with copy hints
#: (grader.service.operations.copies).
COPY_FLAG = "possible_copy"

_ONE = "(queued|grading|graded|released|failed)"
STATUS_LIST = f"^,*(all|{_ONE}(,+{_ONE})*)?,*$"  # empty pieces are ignored

_TOTAL_RULE = Rule("invalid_parameter", "min_total and max_total must be numbers")


class QueueFilter(Query):
    """What the review queue shows and in which order (the API and the review pages)."""

    assignment: Annotated[str, Field(description="An assignment slug.")] = None  # type: ignore[assignment]
    status: Annotated[
        str,
        Field(
            description="Comma-separated statuses, or all (default graded).",
            json_schema_extra={"pattern": STATUS_LIST},
        ),
    ] = "graded"
    flag: Annotated[str, Field(description="Only answers with this flag.")] = None  # type: ignore[assignment]
    reason: Annotated[str, Field(description="Only answers with this review reason code.")] = None  # type: ignore[assignment]
    min_total: Annotated[
        float, Field(allow_inf_nan=False, description="Lowest total."), _TOTAL_RULE
    ] = None  # type: ignore[assignment]
    max_total: Annotated[
        float, Field(allow_inf_nan=False, description="Highest total."), _TOTAL_RULE
    ] = None  # type: ignore[assignment]
    reviewed: Annotated[
        Literal["0", "1"],
        Field(description="0 or 1: only (un)reviewed."),
        Rule("invalid_parameter", "reviewed must be 0 or 1"),
    ] = None  # type: ignore[assignment]
    unclaimed: Annotated[
        Literal["0", "1"],
        Field(description="1: only unclaimed."),
        Rule("invalid_parameter", "unclaimed must be 0 or 1"),
    ] = None  # type: ignore[assignment]
    learner: Annotated[
        str,
        Field(
            max_length=200,
            description="Part of the learner's name or email, or their platform id.",
        ),
        Rule("invalid_parameter", "learner must be at most 200 characters"),
    ] = None  # type: ignore[assignment]
    text: Annotated[
        str,
        Field(max_length=200, description="Words that appear in the answer (case ignored)."),
        Rule("invalid_parameter", "text must be at most 200 characters"),
    ] = None  # type: ignore[assignment]
    reviewer: Annotated[
        str,
        Field(
            description="me: the caller's share of the review; none: nobody's; or a user id.",
            json_schema_extra={"pattern": r"^(me|none|[1-9][0-9]{0,8})$"},
        ),
        Rule("invalid_parameter", "reviewer must be me, none or a user id"),
    ] = None  # type: ignore[assignment]
    requests: Annotated[
        Literal["open"],
        Field(description="open: only answers with regrade requests not answered yet."),
        Rule("invalid_parameter", "requests must be open"),
    ] = None  # type: ignore[assignment]
    sort: Annotated[
        Literal["confidence", "-confidence", "time", "-time", "total", "-total"],
        Field(description="Sort key; '-' for descending."),
        Rule("invalid_parameter", "sort must be one of confidence, time, total (or -key)"),
    ] = "confidence"

    @field_validator("reviewer")
    @classmethod
    def _reviewer(cls, value: str | None) -> str | None:
        if value is not None and not (
            value in ("me", "none") or (value.isdigit() and 0 < int(value) < 2**31)
        ):
            raise ValueError("reviewer must be me, none or a user id")
        return value

    @field_validator("status")
    @classmethod
    def _known(cls, value: str) -> str:
        """Known statuses, or all alone; the sentence names the first one that is not."""
        names = [s for s in value.split(",") if s]
        valid = {s.value for s in Status}
        bad = [s for s in names if s not in valid and not (s == "all" and len(names) == 1)]
        if bad:
            raise ValueError(
                f"unknown status {bad[0]!r}; use one of {', '.join(sorted(valid))} or all"
            )
        return value

    @property
    def statuses(self) -> list[Status] | None:
        """The statuses asked for; None for all."""
        names = [s for s in self.status.split(",") if s] or ["graded"]
        return None if names == ["all"] else [Status(s) for s in dict.fromkeys(names)]


def queue_query(filters: QueueFilter, viewer: int | None = None) -> tuple[Select[Submission], str]:
    """The review queue's filtered, sorted select (the API and the pages share the filters;
    ``viewer`` is who ``reviewer=me`` means)."""
    query = select(Submission).join(Assignment)
    if filters.requests != "open":
        query = query.where(Submission.current)
    # An open regrade request stays in the queue after the learner sends a newer version:
    # it is about the released grade of the version it was asked on.
    if filters.assignment:
        # By id (a subquery the planner runs first), so the queue's partial indexes, which
        # start with assignment_id, serve the filter and the sort.
        query = query.where(
            Submission.assignment_id
            == select(Assignment.id).where(Assignment.slug == filters.assignment).scalar_subquery()
        )
    statuses = filters.statuses
    if statuses is not None:
        query = query.where(Submission.status.in_(statuses))
    if filters.flag == COPY_FLAG:
        query = query.where(Submission.copy_hints > 0)
    elif filters.flag:
        query = query.where(Submission.flags_text.contains(f",{filters.flag},"))
    if filters.reason:
        query = query.where(Submission.review_codes.contains(f",{filters.reason},"))
    if filters.min_total is not None:
        query = query.where(Submission.total >= filters.min_total)
    if filters.max_total is not None:
        query = query.where(Submission.total <= filters.max_total)
    if filters.reviewed is not None:
        query = query.where(Submission.reviewed.is_(filters.reviewed == "1"))
    if filters.learner and filters.learner.strip():
        needle = filters.learner.strip().lower()
        query = query.join(User, User.id == Submission.learner_id).where(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                func.lower(User.email).contains(needle, autoescape=True),
                User.external_id == filters.learner.strip(),
            ),
            # Blind review: a search by learner finds no answer whose author is hidden.
            author_visible(),
        )
    if filters.text and filters.text.strip():
        # A scan of the answers' text (no index serves it): narrow by assignment first
        # for large courses.
        needle = filters.text.strip().lower()
        query = query.where(func.lower(Submission.content).contains(needle, autoescape=True))
    if filters.requests == "open":
        query = query.where(Submission.open_requests > 0)
    if filters.reviewer == "none":
        query = query.where(Submission.reviewer_id.is_(None))
    elif filters.reviewer is not None:
        who = viewer if filters.reviewer == "me" else int(filters.reviewer)
        query = query.where(Submission.reviewer_id == who)
    if filters.unclaimed == "1":
        now = utcnow()
        query = query.where(
            (Submission.claimed_by_id.is_(None)) | (Submission.claim_expires_at < now)
        )
    sort = filters.sort
    column = _SORT_COLUMNS[sort.lstrip("-")]
    # Ungraded rows (no confidence yet) go last; the id makes the order total, so a keyset
    # cursor (queue_after) starts a page exactly where the previous one ended.
    if sort.startswith("-"):
        query = query.order_by(column.desc().nulls_last(), Submission.id.desc())
    else:
        query = query.order_by(column.asc().nulls_last(), Submission.id.asc())
    return query, sort


#: The queue counts its matches up to this many: past it, a page says "more than" rather
#: than read every matching row (a count that grew with the assignment, 14 ms at 100,000).
COUNT_LIMIT = 10_000


def queue_count(session: Session, query: Select[Submission]) -> tuple[int, bool]:
    """How many submissions ``query`` matches, at most :data:`COUNT_LIMIT`, and whether
    there are more."""
    capped = query.with_only_columns(Submission.id).order_by(None).limit(COUNT_LIMIT + 1)
    n = int(session.scalar(select(func.count()).select_from(capped.subquery())) or 0)
    return min(n, COUNT_LIMIT), n > COUNT_LIMIT


def queue_flags(sub: Submission) -> list[str]:
    """A queue row's flags: its grade's, and possible_copy where it has copy hints."""
    flags = [f for f in (sub.flags_text or ",").split(",") if f]
    return [*flags, COPY_FLAG] if sub.copy_hints else flags


_SORT_COLUMNS: dict[str, Any] = {
    "confidence": Submission.confidence,
    "time": Submission.created_at,
    "total": Submission.total,
}
_BAD_CURSOR = "cursor must be a next_cursor value from this queue and sort"


def queue_cursor(sub: Submission, sort: str) -> str:
    """The opaque cursor of the page that follows sub in the queue sorted by sort."""
    value = getattr(sub, _SORT_COLUMNS[sort.lstrip("-")].key)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, sub.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def queue_page(
    session: Session, query: Select[Submission], sort: str, cursor: str, limit: int
) -> list[Submission]:
    """The ``limit`` rows of ``query`` after ``cursor``: the graded part, then, if the page
    is not full, the ungraded tail. Two index range scans: one condition with an OR of the
    two would make the database filter the queue from its start."""
    rows = list(session.scalars(queue_after(query, sort, cursor).limit(limit)))
    if len(rows) < limit and _decoded(cursor)[1] is not None:  # not in the tail already
        column = _SORT_COLUMNS[sort.lstrip("-")]
        rows += session.scalars(query.where(column.is_(None)).limit(limit - len(rows)))
    return rows


def _decoded(cursor: str) -> tuple[Any, Any, Any]:
    """(sort, value, last id) of a cursor from :func:`queue_cursor` (422 if it is not one)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, last_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise APIError(422, "invalid_parameter", _BAD_CURSOR, field="cursor") from None
    return cursor_sort, value, last_id


def queue_after(query: Select[Submission], sort: str, cursor: str) -> Select[Submission]:
    """query restricted to the rows after cursor (from :func:`queue_cursor`, same sort),
    the graded part only where the cursor is in it (:func:`queue_page` adds the tail)."""
    cursor_sort, value, last_id = _decoded(cursor)
    column = _SORT_COLUMNS[sort.lstrip("-")]
    ok_id = isinstance(last_id, int) and not isinstance(last_id, bool) and 0 < last_id < 2**31
    if cursor_sort != sort or not ok_id:
        raise APIError(422, "invalid_parameter", _BAD_CURSOR, field="cursor")
    descending = sort.startswith("-")
    if value is None:  # in the ungraded tail, which is ordered by id alone
        beyond = Submission.id < last_id if descending else Submission.id > last_id
        return query.where(column.is_(None), beyond)
    try:
        value = datetime.fromisoformat(value) if column.key == "created_at" else float(value)
    except (ValueError, TypeError):
        raise APIError(422, "invalid_parameter", _BAD_CURSOR, field="cursor") from None
    key = tuple_(column, Submission.id)
    return query.where(key < tuple_(value, last_id) if descending else key > tuple_(value, last_id))
