"""One cleanup for an answer, whichever way it arrives: API, web form or course platform.

The three entry points used to clean answers each in their own way (a byte-order mark kept
by one, CRLF kept by another), so the same answer could get different grades by the route it
took. They now all call :func:`clean_answer` and only translate its :class:`AnswerError` to
their own error shape.
"""

from __future__ import annotations

__all__ = ["AnswerError", "clean_answer"]


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
