"""Near-duplicate answers of an assignment (copy hints, staff only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..auth import STAFF, require
from ..contracts import STAFF_ONLY, operation, parse_query
from ..contracts import responses as out
from ..contracts.queries import Paging
from ..db import get_db
from ..operations import copies
from ..operations.assignments import get_assignment
from .params import page_size

bp = Blueprint("copies", __name__)


@bp.get("/assignments/<slug>/copies")
@operation(
    "listCopyHints",
    "Answers that share long passages word for word (with each other or the sample answers)",
    "review",
    {200: out.CopyPairList},
    errors=(401, 403, 404, 422),
    query=Paging,
    description=STAFF_ONLY
    + " A hint for instructors, never a penalty: the grade is unchanged. Most shared first;"
    " `other` null means the rubric's sample answers. Each submission's own view lists its"
    " passages (`possible_copy`).",
)
@require(*STAFF)
def index(slug: str) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    args = parse_query(Paging, request.args)
    size = page_size(args)
    return {
        "page": args.page,
        "per_page": size,
        "items": copies.pairs(
            session, a.id, a.blind_review, limit=size, offset=(args.page - 1) * size
        ),
    }
