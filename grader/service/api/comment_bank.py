"""An assignment's comment bank: reusable comments per criterion for overrides."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..auth import STAFF, current_user, require
from ..contracts import STAFF_ONLY, BankCommentCreate, Reply, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..errors import not_found
from ..operations import comment_bank
from ..operations.assignments import get_assignment
from .body import json_body

bp = Blueprint("comment_bank", __name__)


def _bank(session: Any, a: Any) -> dict[str, Any]:
    return {
        "items": [
            comment_bank.comment_json(c)
            for comments in comment_bank.bank(session, a).values()
            for c in comments
        ]
    }


@bp.get("/assignments/<slug>/comments")
@operation(
    "commentBank",
    "The assignment's comment bank",
    "review",
    {200: out.CommentBank},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def index(slug: str) -> dict[str, Any]:
    session = get_db().session
    return _bank(session, get_assignment(session, slug))


@bp.post("/assignments/<slug>/comments")
@operation(
    "addBankComment",
    "Add a comment to a criterion's bank (the same text again counts a use)",
    "review",
    {201: Reply(out.BankComment, "Created")},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=BankCommentCreate,
    description=STAFF_ONLY + " An override with save_comment adds its comment too.",
)
@require(*STAFF)
def add(slug: str) -> tuple[dict[str, Any], int]:
    session = get_db().session
    a = get_assignment(session, slug)
    body = parse(BankCommentCreate, json_body())
    comment = comment_bank.add(session, a, body.criterion, body.text, current_user())
    session.commit()
    return comment_bank.comment_json(comment), 201


@bp.delete("/assignments/<slug>/comments/<int:comment_id>")
@operation(
    "removeBankComment",
    "Remove a comment from the bank",
    "review",
    {200: out.CommentBank},
    errors=(401, 403, 404),
    description=STAFF_ONLY,
)
@require(*STAFF)
def remove(slug: str, comment_id: int) -> dict[str, Any]:
    session = get_db().session
    a = get_assignment(session, slug)
    if not comment_bank.remove(session, a, comment_id):
        raise not_found("comment")
    session.commit()
    return _bank(session, a)
