"""An answer on the way in (one cleanup, whichever way it arrives) and on the way out (the
rendering stored with its grade).

The three entry points used to clean answers each in their own way (a byte-order mark kept
by one, CRLF kept by another), so the same answer could get different grades by the route it
took. They now all call :func:`clean_answer` and only translate its :class:`AnswerError` to
their own error shape. Pages show :func:`shown_answer`: the worker renders an answer once
when it grades it, so no page view pays for Markdown.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import Grade, Submission
from .render import Rendered, plain_answer, render_for_grade, stored_render

__all__ = ["AnswerError", "clean_answer", "shown_answer"]


class AnswerError(ValueError):
    """An answer that cannot be stored; ``code`` is the machine code of the error envelope."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def clean_answer(content: str) -> str:
    """The answer as stored: no byte-order mark, LF line ends; refused when empty or NUL."""
    content = content.removeprefix("\ufeff")
    if "\r" in content:
        content = content.replace("\r\n", "\n")
    if not content.strip():
        raise AnswerError("empty_content", "the answer is empty")
    if "\x00" in content:
        raise AnswerError("invalid_content", "the answer contains NUL characters")
    return content


def shown_answer(
    session: Session, sub: Submission, *, marks: bool, grade_id: int | None = None
) -> Rendered:
    """The answer as the pages show it: rendered with its latest grade, or the grade
    ``grade_id`` (evidence marked when ``marks``), or as escaped text while it has no grade.
    A grade stored before renders were kept is rendered here once and stored.
    """
    query = select(Grade.id, Grade.criteria, Grade.answer_html, Grade.answer_anchors).where(
        Grade.submission_id == sub.id
    )
    if grade_id is not None:
        query = query.where(Grade.id == grade_id)
    row = session.execute(query.order_by(Grade.id.desc()).limit(1)).first()
    if row is None:
        return plain_answer(sub.content)
    html, anchors = row.answer_html, row.answer_anchors
    if html is None:
        view = render_for_grade(sub.content, row.criteria)
        session.execute(update(Grade).where(Grade.id == row.id).values(**view))
        session.commit()
        html, anchors = view["answer_html"], view["answer_anchors"]
    return stored_render(html, anchors, marks=marks)
