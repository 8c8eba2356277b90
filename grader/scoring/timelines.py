"""Read durations such as "3-5 days", "2–3 wks", "end of month" or "ASAP" as days.

>>> days("3-5 working days"), days("2-3 weeks"), days("6 months"), days("this week")
(5.0, 21.0, 180.0, 7.0)
>>> days("after the data fix") is None
True
"""

from __future__ import annotations

import re

__all__ = ["days", "durations"]

_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "few": 3,
    "couple": 2,
    "several": 4,
}
_UNITS = {
    "h": 1 / 24,
    "hr": 1 / 24,
    "hrs": 1 / 24,
    "hour": 1 / 24,
    "hours": 1 / 24,
    "d": 1,
    "day": 1,
    "days": 1,
    "w": 7,
    "wk": 7,
    "wks": 7,
    "week": 7,
    "weeks": 7,
    "mo": 30,
    "month": 30,
    "months": 30,
    "y": 365,
    "yr": 365,
    "year": 365,
    "years": 365,
    "quarter": 91,
    "quarters": 91,
    "sprint": 14,
    "sprints": 14,
}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(_WORD_NUMBERS) + r")"
_DURATION = re.compile(
    _NUM
    + r"(?:\s*(?:-|to|or)\s*"
    + _NUM
    + r")?\s*(?:working\s+|business\s+)?("
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + r")\b",
    re.I,
)
_PHRASES = (
    (re.compile(r"\b(asap|immediately|today|tonight|right away|now|same day|24 ?h)\b", re.I), 1.0),
    (re.compile(r"\b(tomorrow)\b", re.I), 2.0),
    (re.compile(r"\b(this|end of( the)?|within a|by end of|over the) week\b", re.I), 7.0),
    (re.compile(r"\bnext week\b", re.I), 14.0),
    (
        re.compile(r"\b(this|end of( the)?|within a|by end of|over the( coming)?) month\b", re.I),
        30.0,
    ),
    (re.compile(r"\bnext month\b", re.I), 60.0),
    (re.compile(r"\b(this|next) quarter\b", re.I), 91.0),
)


def _number(raw: str) -> float:
    raw = raw.lower()
    return float(_WORD_NUMBERS[raw]) if raw in _WORD_NUMBERS else float(raw)


def durations(text: str) -> list[float]:
    """Every duration in text, in days (ranges count by their upper end)."""
    out = [
        _number(m.group(2) or m.group(1)) * _UNITS[m.group(3).lower()]
        for m in _DURATION.finditer(text)
    ]
    if not out:
        out = [d for pattern, d in _PHRASES if pattern.search(text)]
    return out


def days(text: str) -> float | None:
    """The longest duration named in a timeline, in days, or None if none is named."""
    found = durations(text)
    return max(found) if found else None
