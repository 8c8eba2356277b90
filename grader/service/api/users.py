"""Web accounts: staff create them one by one or from a CSV roster."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from .. import mail
from ..auth import STAFF, current_user, require
from ..contracts import Reply, UserCreate, operation, parse
from ..contracts import responses as out
from ..db import get_db
from ..errors import APIError
from ..operations import accounts
from .body import decode_text, json_body, read_body

bp = Blueprint("users", __name__)
_ROSTER_LIMIT = 1024 * 1024
_WHO = "Instructors create learners; admins also instructors and admins."


def _rows(made: list[accounts.NewAccount]) -> list[dict[str, Any]]:
    """Each new account, with its one-time link when it was not mailed."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    out_rows = []
    for new in made:
        row: dict[str, Any] = {
            "id": new.user.id,
            "name": new.user.name,
            "email": new.user.email,
            "role": new.user.role.value,
            "mailed": new.token is None,
        }
        if new.token is not None:
            row["link"] = f"{base}/account/password/{new.token}"
        out_rows.append(row)
    return out_rows


@bp.post("/users")
@operation(
    "createUser",
    "Create a web account (the person sets a password from a one-time link)",
    "users",
    {201: Reply(out.UserCreated, "Created")},
    errors=(401, 403, 409, 413, 415, 422),
    body=UserCreate,
    description=_WHO,
)
@require(*STAFF)
def create() -> tuple[dict[str, Any], int]:
    session = get_db().session
    body = parse(UserCreate, json_body())
    new = accounts.create_user(
        session,
        current_user(),
        body.name,
        body.email,
        body.role,
        mail=mail.enabled(current_app.config),
    )
    [row] = _rows([new])
    session.commit()
    return row, 201


@bp.post("/users/import")
@operation(
    "importRoster",
    "Create the accounts of a CSV roster (name,email[,role]); all or nothing",
    "users",
    {200: out.RosterImported},
    errors=(401, 403, 413, 415, 422),
    body_media={"text/csv": {"type": "string", "minLength": 1}},
    description=_WHO + " Addresses that have an account are left as they are; any bad line "
    "refuses the whole roster (422 naming the line).",
)
@require(*STAFF)
def import_roster() -> dict[str, Any]:
    if request.mimetype != "text/csv":
        raise APIError(
            415, "unsupported_media_type", "send the roster as text/csv", field="Content-Type"
        )
    text = decode_text(read_body(_ROSTER_LIMIT))
    session = get_db().session
    result = accounts.import_roster(
        session, current_user(), text, mail=mail.enabled(current_app.config)
    )
    rows = _rows(result.created)
    session.commit()
    return {"created": rows, "existing": result.existing}
