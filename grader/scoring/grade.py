"""The one entry point for grading a text with any rubric kind."""

from __future__ import annotations

import re

from .compiled import CompiledReferenceRubric, CompiledRubric, compile_rubric
from .parse import parse_plan
from .rubric import Rubric
from .score import FLAG_MESSAGES, CriterionGrade, Grade, score_plan
from .text import clean

__all__ = ["grade_text"]

_HTML = re.compile(r"</?[a-zA-Z][^<>]*>")  # [^<>]: linear on runs of "<a"


def grade_text(text: str, rubric: Rubric) -> Grade:
    """Grade an answer with a rubric of any kind.

    >>> from grader.scoring.rubric import reference_rubric
    >>> rubric = reference_rubric(["TCP is connection-oriented; UDP is connectionless."])
    >>> grade_text("UDP is connectionless, TCP sets up a connection.", rubric).total > 0.5
    True
    """
    compiled = compile_rubric(rubric)
    if isinstance(compiled, CompiledRubric):
        return score_plan(parse_plan(text, exercise=compiled.exercise), compiled, text)
    return _score_reference(text, compiled)


def _score_reference(text: str, compiled: CompiledReferenceRubric) -> Grade:
    rubric = compiled.rubric
    criterion = rubric.criteria[0]
    answer = _HTML.sub(" ", clean(text)) if _HTML.search(text) else text
    features = compiled.model.features(answer)
    fraction = compiled.calibration.points(features, 1.0)
    evidence = compiled.model.evidence(answer)
    flags = [
        flag
        for flag, feature in (
            ("too_short", "empty"),
            ("off_topic", "unrelated"),
            ("exercise_copied", "question_copy"),
        )
        if features.get(feature)
    ]
    if answer is not text:
        flags.append("contains_html")
    parts = [FLAG_MESSAGES[f] for f in flags]
    if evidence.found:
        parts.append(
            "Strengths: "
            + "; ".join(f"{hit.label} (\u201c{hit.quote}\u201d)" for hit in evidence.found[:3])
            + "."
        )
    if evidence.missing:
        if rubric.reveal_missing:
            parts.append("Not covered: " + ", ".join(c.label for c in evidence.missing[:5]) + ".")
        else:
            parts.append("To improve: cover more of the key points the question asks about.")
    # Grades near the middle of the scale are where graders disagree most.
    confidence = 0.55 + 0.4 * abs(2 * fraction - 1)
    for flag in flags:
        confidence *= 0.9 if flag == "contains_html" else 0.6
    points = round(fraction * criterion.points, 2)
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
                evidence=[{"concept": h.label, "quote": h.quote} for h in evidence.found],
                missing=[c.label for c in evidence.missing],
                signals={k: round(v, 4) for k, v in features.items()},
            )
        ],
        confidence=round(min(0.99, max(0.05, confidence)), 3),
        flags=flags,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
    )
