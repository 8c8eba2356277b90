"""After the criteria: caps and costs from the grade-wide readings, and the review reasons.

:func:`adjust` applies to each criterion's share of points what the answer as a whole
showed (contradicted facts, harmful actions, no engagement with the scenario, no priority
order, another language); :func:`review_reasons` says, code and sentence, why a grade needs
an instructor's eye (:mod:`grader.scoring.confidence` keeps any such grade below the
release level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .compiled import CompiledCriterion, CompiledRubric
from .confidence import ReviewReason
from .layout import Layout
from .parse import Plan
from .reading import FLAG_MESSAGES, PENALTIES, Reading
from .text import word_count

__all__ = ["AnswerShape", "Signals", "adjust", "review_reasons", "shape_of"]

# The share of points an answer about another system keeps at most (the rubric's caps for
# generic answers live in its checks).
_OTHER_SCENARIO_CAP = 0.1


@dataclass(frozen=True, slots=True)
class Signals:
    """What the criteria measured that the review reasons read."""

    disagreement: float  # mean |coverage - similarity| over the criteria
    coverage_pi: float  # the first criterion's concept coverage
    similarity_pi: float  # and its similarity to the references


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """What the review reasons read of the parsed answer itself: a few counts, so that a
    grade can be finished again from stored measurements (:mod:`grader.scoring.grade`)."""

    words: int  # words read (the layout's count)
    hidden_words: int
    diagrams: int
    complete: bool  # every part of the plan found
    restated: bool  # restates the exercise
    dropped: int  # repeated or appended words left out
    tricks: int  # look-alike or invisible characters

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words,
            "hidden_words": self.hidden_words,
            "diagrams": self.diagrams,
            "complete": self.complete,
            "restated": self.restated,
            "dropped": self.dropped,
            "tricks": self.tricks,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerShape:
        return cls(
            int(data["words"]),
            int(data["hidden_words"]),
            int(data["diagrams"]),
            bool(data["complete"]),
            bool(data["restated"]),
            int(data["dropped"]),
            int(data["tricks"]),
        )


def shape_of(plan: Plan, layout: Layout, compiled: CompiledRubric) -> AnswerShape:
    exercise = compiled.exercise
    return AnswerShape(
        words=layout.word_count,
        hidden_words=word_count(plan.hidden),
        diagrams=plan.diagrams,
        complete=all(plan.found.values()),
        restated=bool(
            exercise is not None
            and plan.copied_words
            and exercise.restated_share(plan.text) >= _RESTATED_SHARE
        ),
        dropped=plan.repeated_words + word_count(plan.appendix),
        tricks=plan.tricks,
    )


def _cap(table: Any, criterion: str) -> float | None:
    value = table.get(criterion, table.get("default"))
    return None if value is None else float(value)


def adjust(
    fraction: float, crit: CompiledCriterion, reading: Reading, compiled: CompiledRubric
) -> tuple[float, list[str]]:
    """A criterion's share of points after the grade-wide readings, and the notes that say why."""
    checks = compiled.rubric.checks
    cid = crit.criterion.id
    notes: list[str] = []
    if reading.foreign:
        # What does not depend on language: the snapshot's numbers cited, sections present.
        fraction = max(fraction, min(0.9, 0.1 + 0.75 * reading.numbers_cited))
    facts = reading.facts
    if facts is not None and facts.contradicted:
        cost = _cap(checks.contradiction_cost, cid)
        if cost:
            fraction *= max(0.0, 1.0 - cost * len(facts.contradicted))
            quotes = "; ".join(f"\u201c{q}\u201d" for _, q in facts.contradicted[:3])
            notes.append(f"These statements do not match the snapshot: {quotes}.")
    if reading.other_scenario:
        fraction = min(fraction, _OTHER_SCENARIO_CAP)
    elif reading.generic and (cap := _cap(checks.generic_cap, cid)) is not None:
        if fraction > cap:
            fraction = cap
            reading.capped.add("generic")
    if reading.uncommitted and (cap := _cap(checks.uncommitted_cap, cid)) is not None:
        if fraction > cap:
            fraction = cap
            reading.capped.add("no_commitment")
            notes.append(FLAG_MESSAGES["no_commitment"])
    if reading.buried and (cap := _cap(checks.buried_cap, cid)) is not None:
        if fraction > cap:
            fraction = cap
            reading.capped.add("buried")
            notes.append(
                "The scenario's key issues sit in Medium or lower: these points need them "
                "named as what must be fixed first."
            )
    for ci, quote in reading.harmful:
        cost = ci.costs.get(cid)
        if cost:
            fraction *= 1.0 - cost
            notes.append(f"{ci.message} (\u201c{quote}\u201d)")
    return fraction, notes


def review_reasons(
    shape: AnswerShape,
    compiled: CompiledRubric,
    reading: Reading,
    flags: list[str],
    signals: Signals,
    unread: int = 0,
) -> list[ReviewReason]:
    """Why the grade needs an instructor's eye; any reason keeps it below the release level."""
    disagreement = signals.disagreement
    reasons: list[ReviewReason] = []
    if unread:
        reasons.append(ReviewReason.of("unread", f"{unread:,}"))
    if reading.foreign:
        reasons.append(
            ReviewReason.of("language", _LANGUAGE_NAMES.get(reading.language, reading.language))
        )
    if "hidden_text" in flags:
        reasons.append(ReviewReason.of("hidden_text", f"{shape.hidden_words} hidden words"))
    if reading.injection:
        reasons.append(ReviewReason.of("prompt_injection"))
    if reading.facts is not None and reading.facts.contradicted:
        quotes = "; ".join(f"\u201c{q}\u201d" for _, q in reading.facts.contradicted[:3])
        reasons.append(ReviewReason.of("contradicts_scenario", quotes))
    if reading.other_scenario:
        reasons.append(ReviewReason.of("other_scenario"))
    elif "generic" in reading.capped:
        reasons.append(ReviewReason.of("generic"))
    if reading.harmful:
        names = ", ".join(ci.name for ci, _ in reading.harmful)
        reasons.append(ReviewReason.of("harmful_action", names))
    if "buried" in reading.capped:
        named = {t.id: t.name for t in compiled.rubric.topics}
        names = ", ".join(named.get(t, t) for t in reading.buried)
        reasons.append(ReviewReason.of("buried", names))
    if "no_commitment" in reading.capped:
        reasons.append(ReviewReason.of("no_commitment", reading.uncommitted))
    fired = [
        f
        for f in (
            "keyword_stuffing",
            "too_short",
            "off_topic",
            "exercise_copied",
            "template_pasted",
        )
        if f in flags
    ]
    if fired:
        reasons.append(ReviewReason.of("penalty", ", ".join(f.replace("_", " ") for f in fired)))
    if disagreement > _DISAGREEMENT_REVIEW:
        reasons.append(ReviewReason.of("disagreement"))
    words = shape.words
    if 0 < words < _SHORT_WORDS and not {"template_pasted", "too_short"} & set(flags):
        reasons.append(ReviewReason.of("length", "unusually short"))
    elif words > _LONG_WORDS:
        reasons.append(ReviewReason.of("length", "unusually long"))
    if shape.diagrams:
        reasons.append(ReviewReason.of("format", str(shape.diagrams)))
    facts = reading.facts
    pi_coverage = signals.coverage_pi
    if (
        facts is not None
        and reading.numbers_cited >= _PARAPHRASE_FACTS
        and pi_coverage < _PARAPHRASE_COVERAGE
        and signals.similarity_pi < _PARAPHRASE_SIMILARITY
        and words >= _PARAPHRASE_WORDS
    ):
        reasons.append(ReviewReason.of("paraphrase"))
    if (
        _CONCISE_WORDS[0] <= words < _CONCISE_WORDS[1]
        and shape.complete
        and reading.numbers_cited >= _CONCISE_FACTS
        and not set(flags) & PENALTIES
    ):
        reasons.append(ReviewReason.of("length", "concise"))
    if shape.restated:
        reasons.append(ReviewReason.of("restated"))
    if shape.dropped >= _DROPPED_REVIEW:
        reasons.append(ReviewReason.of("repetition", str(shape.dropped)))
    if shape.tricks >= _TRICKS_REVIEW:
        reasons.append(ReviewReason.of("unicode", f"{shape.tricks} characters"))
    return reasons


_LANGUAGE_NAMES = {
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "en": "English",
}
_DISAGREEMENT_REVIEW = 0.45
_SHORT_WORDS, _LONG_WORDS = 60, 3000
_DROPPED_REVIEW = 100
_TRICKS_REVIEW = 3
# Cites at least this share of the scenario's figures (anywhere, with or without the usual
# subject words) yet matches few of the rubric's phrases: probably said in other words.
_PARAPHRASE_FACTS, _PARAPHRASE_COVERAGE, _PARAPHRASE_SIMILARITY = 0.5, 0.75, 0.4
# A short answer that still has every part and cites nearly every figure: the keyword
# curves under-credit such answers, so an instructor should look.
_CONCISE_WORDS, _CONCISE_FACTS = (100, 260), 0.9
_PARAPHRASE_WORDS = 400
_RESTATED_SHARE = 0.1
