"""The one entry point for grading a text with any rubric kind, and for grading it again
from what was measured of it.

Grading reads the answer (parse, matching, similarity: the costly part) into a JSON
measurement, then finishes the grade under the rubric's points, blends, curves, caps and
feedback. The measurement is kept with the grade (``Grade.measured``), under the rubric's
``measure_key``; :func:`finish_grade` finishes it under another rubric with the same key
without reading the answer again, and gives the same grade as :func:`grade_text` would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .calibration import unmatched
from .compiled import CompiledReferenceRubric, CompiledRubric, compile_rubric
from .confidence import REFERENCE_MODEL, RELEASE_LEVEL, ReviewReason, reference_signals
from .confidence import confidence as model_confidence
from .parse import parse_plan
from .rubric import Rubric
from .score import FLAG_MESSAGES, CriterionGrade, Grade, finish_plan, measure_plan
from .text import clean

__all__ = ["READ_LIMIT", "finish_grade", "grade_text", "readable_part"]

#: How much of an answer is read, in characters: about 5,000 words, ten times a long answer to
#: any exercise here. The rest earns nothing and sends the grade to review, so that no answer
#: within the service's size limit (256 KB) can make grading take more than a fraction of a
#: second, whatever its shape (``bench/hostile.py``).
READ_LIMIT = 32 * 1024
_LINE_SLACK = 4 * 1024

_HTML = re.compile(r"</?[a-zA-Z][^<>]*>")  # [^<>]: linear on runs of "<a"


def grade_text(text: str, rubric: Rubric) -> Grade:
    """Grade an answer with a rubric of any kind.

    >>> from grader.scoring.rubric import reference_rubric
    >>> rubric = reference_rubric(["TCP is connection-oriented; UDP is connectionless."])
    >>> grade_text("UDP is connectionless, TCP sets up a connection.", rubric).total > 0.5
    True
    """
    compiled = compile_rubric(rubric)
    text, unread = readable_part(text)
    if isinstance(compiled, CompiledRubric):
        plan = parse_plan(text, exercise=compiled.exercise)
        measured = measure_plan(plan, compiled, text, unread=unread)
        grade = finish_plan(measured, compiled, plan.to_dict())
    else:
        measured = _measure_reference(text, compiled, unread)
        grade = _finish_reference(measured, compiled)
    grade.measured = {"key": rubric.measure_key, **measured}
    return grade


def finish_grade(
    measured: Mapping[str, Any] | None, rubric: Rubric, plan: Mapping[str, Any] | None = None
) -> Grade | None:
    """The grade :func:`grade_text` gives under ``rubric``, from a grade's ``measured``
    (and, for a plan, its ``plan``), or None when ``rubric`` reads answers differently
    from the rubric that measured it (another ``measure_key``: grade the text again)."""
    if not measured or measured.get("key") != rubric.measure_key or not rubric.measure_key:
        return None
    compiled = compile_rubric(rubric)
    body = {k: v for k, v in measured.items() if k != "key"}
    try:
        if isinstance(compiled, CompiledRubric):
            if plan is None:
                return None
            grade = finish_plan(body, compiled, plan)
        else:
            grade = _finish_reference(body, compiled)
    except (KeyError, TypeError, ValueError):  # a measurement of another shape
        return None
    grade.measured = dict(measured)
    return grade


def readable_part(text: str, limit: int = READ_LIMIT) -> tuple[str, int]:
    """The part of ``text`` that is read, cut at a line end near ``limit``, and how many
    characters are left unread.

    >>> readable_part("ab\\ncd", limit=4)
    ('ab\\n', 2)
    """
    if len(text) <= limit:
        return text, 0
    cut = text.rfind("\n", max(0, limit - _LINE_SLACK), limit)
    end = cut + 1 if cut >= 0 else limit
    return text[:end], len(text) - end


def _measure_reference(text: str, compiled: CompiledReferenceRubric, unread: int) -> dict[str, Any]:
    answer = _HTML.sub(" ", clean(text)) if _HTML.search(text) else text
    evidence = compiled.model.evidence(answer)
    return {
        "features": compiled.model.features(answer),
        "found": [[hit.label, hit.quote] for hit in evidence.found],
        "missing": [c.label for c in evidence.missing],
        "html": answer is not text,
        "unread": unread,
    }


def _finish_reference(measured: Mapping[str, Any], compiled: CompiledReferenceRubric) -> Grade:
    rubric = compiled.rubric
    criterion = rubric.criteria[0]
    features = measured["features"]
    fraction = compiled.calibration.points(features, 1.0)
    found, missing, unread = measured["found"], measured["missing"], measured["unread"]
    flags = [
        flag
        for flag, feature in (
            ("too_short", "empty"),
            ("off_topic", "unrelated"),
            ("exercise_copied", "question_copy"),
        )
        if features.get(feature)
    ]
    if measured["html"]:
        flags.append("contains_html")
    parts = [FLAG_MESSAGES[f] for f in flags]
    if found:
        parts.append(
            "Strengths: "
            + "; ".join(f"{label} (\u201c{quote}\u201d)" for label, quote in found[:3])
            + "."
        )
    if missing:
        if rubric.reveal_missing:
            parts.append("Not covered: " + ", ".join(missing[:5]) + ".")
        else:
            parts.append("To improve: cover more of the key points the question asks about.")
    # Humans give whole, half or no marks: grades between them are rarely within 15%.
    confidence = model_confidence(reference_signals(fraction), 0, REFERENCE_MODEL)
    for flag in flags:
        confidence *= 0.9 if flag == "contains_html" else 0.6
    points = round(fraction * criterion.points, 2)
    reasons = [ReviewReason.of("unread", f"{unread:,}")] if unread else []
    if unmatched(features, compiled.calibration.zero_when):
        reasons.append(ReviewReason.of("unmatched"))
    if reasons:
        confidence = min(confidence, RELEASE_LEVEL - 0.01)
    return Grade(
        total=points,
        max_total=rubric.max_total,
        criteria=[
            CriterionGrade(
                id=criterion.id,
                name=criterion.name,
                points=points,
                max_points=criterion.points,
                feedback=" ".join(parts) or "No evidence for this criterion was found.",
                evidence=[{"concept": label, "quote": quote} for label, quote in found],
                missing=list(missing),
                signals={k: round(v, 4) for k, v in features.items()},
            )
        ],
        confidence=round(min(0.99, max(0.05, confidence)), 3),
        flags=flags,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        review_reasons=[r.to_dict() for r in reasons],
    )
