"""Confidence: the probability that a grade is within 15 points (of 100) of an instructor's.

Two parts, for the plan kind (the reference-answer kind has a model of its own,
:data:`REFERENCE_MODEL`). *Review reasons* are the situations in which grader is known to be
unreliable (another language, hidden text, contradictions with the scenario, harmful fixes,
hedging, instructions to the grader, answers unlike any graded one...): each comes with a
machine code and a sentence for the reviewer, and any reason keeps the grade below the
auto-release level (:data:`RELEASE_LEVEL`). The *probability* is a logistic model of a few
signals, fitted by ``bench/fit_confidence.py`` on graded answers (the course's graded sample
and the development half of ``tests/data/adversarial``), deterministically; its coefficients
live here, and :data:`CONFIDENCE_VERSION` is part of the engine version, so the same answer
and rubric version always get the same confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CONFIDENCE_VERSION",
    "MODEL",
    "REFERENCE_MODEL",
    "RELEASE_LEVEL",
    "REVIEW_MESSAGES",
    "ReviewReason",
    "confidence",
    "reference_signals",
]

CONFIDENCE_VERSION = "4"
#: Grades at or above this confidence may be released without review (the service's
#: ``AUTO_RELEASE_CONFIDENCE`` default); every grade below it says why in its reasons.
RELEASE_LEVEL = 0.8

REVIEW_MESSAGES: dict[str, str] = {
    "language": "The answer is written in {detail}, not in the rubric's language: its grade is "
    "provisional, from its numbers and structure only.",
    "hidden_text": "The answer hides rubric-like text from readers ({detail}); hidden text "
    "earned nothing.",
    "prompt_injection": "The answer contains instructions addressed to the grader; they were "
    "ignored.",
    "contradicts_scenario": "Some statements contradict the scenario: {detail}.",
    "generic": "The answer does not engage with the scenario's facts (numbers, components).",
    "other_scenario": "The answer seems to describe a different system: it cites numbers the "
    "scenario does not have and none that it has.",
    "harmful_action": "The answer proposes actions that would harm the system: {detail}.",
    "buried": "The answer defers the scenario's key issues ({detail}) to Medium or lower.",
    "no_commitment": "The answer does not commit to a priority order ({detail}).",
    "penalty": "A penalty rule fired ({detail}); check that it is deserved.",
    "structure": "The parser could not find {detail}; check how the answer was read.",
    "disagreement": "Keyword coverage and similarity to the reference answers disagree.",
    "length": "The answer is {detail} for this assignment: keyword coverage may misjudge it.",
    "repetition": "Much of the answer repeats itself or sits in an appendix ({detail} words "
    "not counted).",
    "unicode": "The answer contains invisible or look-alike characters ({detail}); they were "
    "normalised.",
    "low_signal": "The grade rests on little evidence; an instructor should look.",
    "format": "Part of the answer is a diagram or a data block ({detail}); check how it was read.",
    "paraphrase": "The answer cites the scenario's figures but few of the rubric's terms: it "
    "may say the right things in other words.",
    "unread": "The answer is longer than grader reads: its last {detail} characters were not "
    "read and earned nothing.",
    "restated": "Much of the answer rewords the exercise itself; restated text earns nothing.",
    "unmatched": "The answer is about the question but names none of the reference answers' "
    "key points: it may make them in other words. Its grade is provisional.",
    "interval": "Measured on this assignment's reviewed grades, a grade like this one is within "
    "15 points of an instructor's with probability {detail} only.",
}


@dataclass(frozen=True, slots=True)
class ReviewReason:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def of(cls, code: str, detail: str = "") -> ReviewReason:
        return cls(code, REVIEW_MESSAGES[code].format(detail=detail))


@dataclass(frozen=True, slots=True)
class Model:
    """Logistic model: p = 1 / (1 + exp(-(intercept + sum(coef * signal))))."""

    intercept: float
    coefficients: Mapping[str, float]
    # Each review reason multiplies the odds by this (they are rare, so not fitted).
    reason_odds: float


#: Signals: ``disagreement`` (mean |coverage - similarity| over criteria, 0-1),
#: ``missing_sections`` (of Step 1, matrix, Step 3), ``warnings`` (parser warnings),
#: ``short`` / ``long`` (how far the content words are below 150 / above 1500, in log units).
#: Fitted by ``python bench/fit_confidence.py`` (70 answers: the graded sample and the
#: adversarial set's development half); refit and bump CONFIDENCE_VERSION together.
MODEL = Model(
    intercept=2.756,
    coefficients={
        "disagreement": 0.073,
        "missing_sections": -0.538,
        "warnings": -0.084,
        "short": 0.820,
        "long": 0.000,
    },
    reason_odds=0.571,
)


#: The reference-answer kind's model, of the grade's fraction ``f`` of the points and its
#: distance from the middle (:func:`reference_signals`). Fitted by
#: ``python bench/fit_reference_confidence.py`` on SAF train, grades predicted out of fold
#: (1,476 answers); refit and bump CONFIDENCE_VERSION together.
REFERENCE_MODEL = Model(
    intercept=-1.856,
    coefficients={"d": 0.410, "d2": 5.105, "f": -0.760},
    reason_odds=0.571,
)


def reference_signals(fraction: float) -> dict[str, float]:
    """What the reference kind's confidence reads of a grade: humans give short answers
    whole, half or no marks, so a grade between those is rarely within 15% of theirs."""
    d = abs(2.0 * fraction - 1.0)
    return {"d": d, "d2": d * d, "f": fraction}


def confidence(signals: Mapping[str, float], reasons: int, model: Model = MODEL) -> float:
    """The probability that the grade is within 15 points of an instructor's."""
    z = model.intercept + sum(c * float(signals.get(k, 0.0)) for k, c in model.coefficients.items())
    p = 1.0 / (1.0 + math.exp(-z))
    if reasons:
        odds = p / (1.0 - p) * model.reason_odds**reasons
        p = min(odds / (1.0 + odds), RELEASE_LEVEL - 0.01)
    return round(min(0.99, max(0.05, p)), 3)
