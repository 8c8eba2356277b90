"""Assignments: finding one by its slug (a 404 for an unknown one)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import not_found
from ..models import Assignment


def get_assignment(session: Session, slug: str) -> Assignment:
    a = session.scalar(select(Assignment).where(Assignment.slug == slug))
    if a is None:
        raise not_found("assignment")
    return a
