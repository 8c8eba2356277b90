"""The scenario's facts: which ones an answer engages with, and which it gets wrong.

A rubric may declare the facts of its exercise (for the health check: AUC 0.78 against 0.85,
drift detection disabled, 15% missing values...). Each fact has a subject ("auc", "missing
values"), the numbers the scenario gives, phrases that engage with it without a number, and
phrases that state its opposite. An answer *engages* a fact when it cites the fact's number
beside its subject, or one of its phrases; it *contradicts* a fact when it gives the subject
another number of the same kind ("AUC 0.72", "30% missing") or states the opposite ("drift
detection is enabled"). Numbers set as targets or thresholds ("AUC back to at least 0.83",
"alert if drift > 0.2") are not statements about the scenario and are never contradictions.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .matching import Doc, compile_phrase
from .negation import dismissed
from .text import Lexicon

__all__ = [
    "CompiledFact",
    "FactReading",
    "compile_facts",
    "foreign_numbers",
    "numbers_cited",
    "read_facts",
]

_WINDOW = 4
_TARGET_BEFORE = re.compile(
    r"(?:target\w*|goal\w*|at least|at most|above|below|under|over|exceed\w*|beyond|"
    r"back to|restor\w*|reach\w*|threshold\w*|ideally|aim\w*|expect\w*|less than|more than|"
    r"greater than|fewer than|within|sla|budget|limit\w*|max\w*|min\w*|if|when|once|should(?: be)?|"
    r"must(?: be)?|needs? to be|to be|ought to be|"
    r"(?:improv|rais|increas|recover|bring|get|reduc|lower|decreas|cut|keep|push|tun|set|extend|"
    r"expand|grow|move|chang|bump|driv|aim|return)\w*"
    r"(?:\s+\w+){0,3}\s+to|[<>\u2264\u2265]=?|=)\s*[~\u2248]?\s*$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class CompiledFact:
    id: str
    name: str
    subjects: tuple[tuple[str, ...], ...]
    values: tuple[float, ...]
    percent: bool
    mentions: tuple[tuple[str, ...], ...]
    contradictions: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class FactReading:
    """Which facts an answer engages and contradicts, with a quote for each contradiction."""

    engaged: list[str]
    by_number: list[str]
    contradicted: list[tuple[str, str]]
    total: int


def _number(term: str) -> float | None:
    try:
        return float(term.rstrip("%"))
    except ValueError:
        return None


def compile_facts(
    facts: tuple[
        tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...
    ],
    lexicon: Lexicon,
) -> tuple[CompiledFact, ...]:
    """Facts as (id, name, subjects, values, mentions, contradictions) tuples, compiled."""
    out = []
    for fid, name, subjects, values, mentions, contradictions in facts:
        nums = tuple(
            v for v in (_number(x.strip().replace(" ", "")) for x in values) if v is not None
        )
        out.append(
            CompiledFact(
                id=fid,
                name=name,
                subjects=tuple(compile_phrase(p, lexicon) for p in subjects),
                values=nums,
                percent=any(x.strip().endswith("%") for x in values),
                mentions=tuple(compile_phrase(p, lexicon) for p in mentions),
                contradictions=tuple(compile_phrase(p, lexicon) for p in contradictions),
            )
        )
    return tuple(out)


def _same_kind(term: str, fact: CompiledFact, value: float, distance: int) -> bool:
    """Whether a number could be a (wrong) statement of the fact rather than something else:
    a share where the fact is a share, near its size (0.07 is a drop, not an AUC), not its
    complement (92% up is 8% down), and a count only right beside its subject ("5 schema
    changes"), since counts of hours, days and items are everywhere."""
    if term.endswith("%") != fact.percent or not fact.values:
        return False
    if fact.percent:
        return not any(abs(value - (100 - v)) < 1e-9 for v in fact.values)
    ref = min(fact.values)
    if ref < 1:
        return 0.5 * ref <= value < 1
    return distance <= 1 and value >= 1 and "." not in term


# "to enable", "re-enabled", "will be enabled": plans, not statements about the snapshot.
_NOT_A_STATEMENT = re.compile(
    r"\b(?:to|will|would|should|must|can|could|once|after|if|when|until|then|be)\s+\S*$|re-$", re.I
)


def read_facts(
    doc: Doc, facts: tuple[CompiledFact, ...], scenario: frozenset[float]
) -> FactReading:
    """Read an answer's statements about the scenario (doc: the parts that describe it)."""
    engaged: list[str] = []
    by_number: list[str] = []
    contradicted: list[tuple[str, str]] = []
    bounds = doc.bounds()
    numbers = doc.numbers
    for fact in facts:
        hit = numeric = False
        wrong: tuple[int, int] | None = None
        for phrase in fact.mentions:
            for span in doc.find_iter(phrase):
                if not _is_dismissed(doc, span):
                    hit = True
                    break
            if hit:
                break
        for phrase in fact.contradictions:
            for span in doc.find_ordered_iter(phrase):
                last = doc.starts[span[1]]
                # A statement lies within one sentence or line.
                if not _same_sentence(doc, bounds, span[0], span[1]):
                    continue
                if not _negated(doc, span) and not _NOT_A_STATEMENT.search(
                    doc.text[max(0, last - 20) : last]
                ):
                    wrong = span
                    break
        for phrase in fact.subjects:
            for span in doc.find_iter(phrase):
                lo = bisect_left(numbers, span[0] - _WINDOW)
                hi = bisect_right(numbers, span[1] + _WINDOW)
                for i in numbers[lo:hi]:
                    if not _same_sentence(doc, bounds, span[0], i):
                        continue
                    term = doc.terms[i]
                    value = _number(term)
                    if value is None:
                        continue
                    if any(abs(value - v) < 1e-9 for v in fact.values):
                        hit = numeric = True
                        continue
                    # A count stands before its subject ("5 schema changes"), a share anywhere.
                    distance = span[0] - i if i < span[0] else 99
                    if (
                        wrong is None
                        and _same_kind(term, fact, value, distance)
                        and value not in scenario
                        and not _target(doc, i)
                    ):
                        wrong = (min(span[0], i), max(span[1], i))
        if hit:
            engaged.append(fact.id)
        if numeric:
            by_number.append(fact.id)
        if wrong is not None:
            contradicted.append((fact.id, doc.quote(wrong)))
    return FactReading(engaged, by_number, contradicted, len(facts))


def foreign_numbers(doc: Doc, scenario: frozenset[float]) -> int:
    """Shares and percentages stated in doc that the scenario does not have (not targets)."""
    count = 0
    for i in doc.numbers:
        term = doc.terms[i]
        value = _number(term)
        if value is None or value in scenario or not (term.endswith("%") or "." in term):
            continue
        if term.endswith("%") or value < 1:
            if not _target(doc, i):
                count += 1
    return count


def numbers_cited(doc: Doc, facts: tuple[CompiledFact, ...]) -> float:
    """Share of the facts with numbers whose number the answer cites anywhere."""
    with_values = [f for f in facts if f.values]
    if not with_values:
        return 0.0
    present = {v for i in doc.numbers if (v := _number(doc.terms[i])) is not None}
    return sum(1 for f in with_values if any(v in present for v in f.values)) / len(with_values)


def _same_sentence(doc: Doc, bounds: list[int], a: int, b: int) -> bool:
    pa, pb = doc.starts[a], doc.starts[b]
    return bisect_right(bounds, pa) == bisect_right(bounds, pb)


def _target(doc: Doc, i: int) -> bool:
    start = doc.starts[i]
    before = doc.text[max(0, start - 40) : start]
    cut = max(before.rfind("."), before.rfind(";"), before.rfind("\n"), before.rfind(","))
    return bool(_TARGET_BEFORE.search(before[cut + 1 :]))


def _is_dismissed(doc: Doc, span: tuple[int, int]) -> bool:
    return dismissed(doc.text, doc.starts[span[0]], doc.ends[span[1]], "dismissal", doc.cues)


def _negated(doc: Doc, span: tuple[int, int]) -> bool:
    return dismissed(doc.text, doc.starts[span[0]], doc.ends[span[1]], "action", doc.cues)
