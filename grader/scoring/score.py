"""Score a parsed plan against a compiled rubric, criterion by criterion.

Each criterion blends three signals, each in [0, 1]: concept coverage (weighted share of its
concepts found), TF-IDF similarity to its reference answers, and structure checks (placement
of issues in buckets, the first priority, timelines, Step 3 parts). The blend is mapped to
points through the criterion's curve. The answer as a whole is read once
(:mod:`grader.scoring.reading`); its readings cap or cost points and give the review reasons
(:mod:`grader.scoring.review`); gaming flags scale the result down, and every criterion
explains itself with evidence quoted from the answer.

Long because: each criterion's signals (coverage, similarity and the structure checks)
read one shared context of the parsed answer; what applies to the answer as a whole
already lives in :mod:`grader.scoring.reading` and :mod:`grader.scoring.review`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .compiled import CompiledCriterion, CompiledRubric
from .confidence import confidence
from .layout import Layout
from .matching import Doc
from .negation import dismissed
from .parse import BUCKETS, FIELDS, Plan
from .reading import FLAG_FACTOR, FLAG_MESSAGES, FLAGS, Reading, answer_flags, read_answer
from .review import AnswerShape, Signals, adjust, review_reasons, shape_of
from .text import word_count
from .timelines import days, durations

__all__ = [
    "FLAGS",
    "FLAG_MESSAGES",
    "CriterionGrade",
    "Grade",
    "finish_plan",
    "measure_plan",
    "score_plan",
]

_PRIORITY_CUES = re.compile(
    r"\b(first|priorit\w*|start(?:ing)? with|begin with|top priority|most urgent|most important|"
    r"tackle|deal with|fix first|number one|p0)\b",
    re.I,
)
_MORE_INFO_CUES = re.compile(
    r"(need to know|additional info|more info|would gather|want to know|want to see|"
    r"would ask|i'd ask|would need|information (?:i|we)|before committing|need:|questions?)",
    re.I,
)
_STEP3_CUES = {
    "risk_mitigation": re.compile(r"\b(risks?|could go wrong|mitigat\w*|prevent\w*)\b", re.I),
    "success_metrics": re.compile(r"\b(success|metrics?|kpis?|measured?|targets?)\b", re.I),
    "rollback_plan": re.compile(r"\b(roll ?back|revert\w*|switch(?:ing)? back|restore)\b", re.I),
}


@dataclass(slots=True)
class CriterionGrade:
    id: str
    name: str
    points: float
    max_points: float
    feedback: str
    evidence: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "points": self.points,
            "max_points": self.max_points,
            "feedback": self.feedback,
            "evidence": self.evidence,
            "missing": self.missing,
            "signals": self.signals,
        }


@dataclass(slots=True)
class Grade:
    """A grade: points per criterion, total, confidence, flags and the rubric version."""

    total: float
    max_total: float
    criteria: list[CriterionGrade]
    confidence: float
    flags: list[str]
    rubric_id: str
    rubric_version: str
    warnings: list[str] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    review_reasons: list[dict[str, str]] = field(default_factory=list)
    language: str = ""
    # What the confidence was computed from (grader.scoring.confidence), for fitting it.
    confidence_signals: dict[str, float] = field(default_factory=dict)
    # Set by an instructor calibration (grader.scoring.learning): the interval and its version.
    interval: dict[str, Any] | None = None
    calibration_version: str = ""
    grader_confidence: float | None = None  # before a calibration replaced it
    # What was read of the answer (JSON), from which a rubric that changes only points,
    # blends, curves, caps or feedback finishes the grade again (grader.scoring.grade).
    measured: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "max_total": self.max_total,
            "criteria": [c.to_dict() for c in self.criteria],
            "confidence": self.confidence,
            "flags": self.flags,
            "review_reasons": self.review_reasons,
            "language": self.language,
            "rubric_id": self.rubric_id,
            "rubric_version": self.rubric_version,
            "warnings": self.warnings,
            "plan": self.plan,
        }


# --- plan helpers -----------------------------------------------------------------------


class _Context:
    """What one grade computes once and every check shares."""

    def __init__(self, plan: Plan, compiled: CompiledRubric):
        self.plan = plan
        self.compiled = compiled
        self.layout = Layout(plan, compiled.lexicon)
        self._first: tuple[str, str] | None | bool = False
        self._buckets: dict[str, set[str]] | None = None

    def item_doc(self, index: int) -> Doc:
        ranges = self.layout.ranges([f"matrix.issue.{index}"])
        if not ranges:
            ranges = [r for f in FIELDS for r in self.layout.ranges([f"matrix.{f}.{index}"])]
        return self.layout.doc(ranges)

    def topic_buckets(self) -> dict[str, set[str]]:
        """The buckets of the matrix each topic is placed in."""
        if self._buckets is None:
            self._buckets = {}
            for index, item in enumerate(self.plan.items()):
                for _, topic in _topics_in(self.item_doc(index), self.compiled):
                    self._buckets.setdefault(topic, set()).add(item.bucket)
        return self._buckets

    def first_priority(self) -> tuple[str, str] | None:
        if self._first is False:
            self._first = _first_priority(self)
        return self._first  # type: ignore[return-value]


def _lerp(x: float, zero: float, full: float) -> float:
    return min(1.0, max(0.0, (x - zero) / (full - zero)))


# --- structure checks -------------------------------------------------------------------


@dataclass(slots=True)
class _Check:
    score: float
    notes: list[str] = field(default_factory=list)
    # Counted only where it raises the structure score (see _check_buckets).
    optional: bool = False


def _topics_in(doc: Doc, compiled: CompiledRubric) -> list[tuple[int, str]]:
    """(position, topic id) of each topic's earliest mention in doc, in order."""
    found = []
    for topic_id, phrases in compiled.topics.items():
        spans = [s for p in phrases if (s := doc.find(p)) is not None]
        if spans:
            found.append((min(s[0] for s in spans), topic_id))
    return sorted(found)


def _first_priority(ctx: _Context) -> tuple[str, str] | None:
    """(topic id, quote) of what the learner fixes first, or None when they never say.

    Looks, in order, at a labelled "first priority" part, then at sentences with a priority
    cue ("first", "prioritize", "start with"...) in Step 1, then anywhere; failing those, at
    the first item of the highest bucket.
    """
    layout, compiled, plan = ctx.layout, ctx.compiled, ctx.plan
    text = layout.text
    bounds = [0, *layout.sentence_starts, len(text)]
    cued: list[tuple[int, int]] = []
    for m in _PRIORITY_CUES.finditer(text):
        i = bisect_right(bounds, m.start()) - 1
        sentence = (bounds[i], bounds[i + 1])
        if not cued or cued[-1] != sentence:
            cued.append(sentence)
    step1 = layout.ranges(["step1"])
    in_step1 = [s for s in cued if any(a <= s[0] < b for a, b in step1)]
    candidates = layout.ranges(["step1.first_priority"]) + in_step1
    candidates += [s for s in cued if s not in in_step1]
    for a, b in candidates:
        topics = _topics_in(layout.doc([(a, b)]), compiled)
        if topics:
            return topics[0][1], " ".join(text[a:b].split())[:160]
    for index, item in enumerate(plan.items()):
        topics = _topics_in(ctx.item_doc(index), compiled)
        if topics:
            return topics[0][1], item.issue[:160]
    return None


def _check_placement(crit: CompiledCriterion, ctx: _Context, reveal: bool) -> _Check:
    """Weighted share of placement rules met. A topic counts in the highest-credit bucket it
    appears in; the topic the learner fixes first counts as Critical even in prose, so an
    answer without a matrix is judged by what it says comes first, and adding an item can
    only raise a topic's credit."""
    topic_buckets = {t: set(b) for t, b in ctx.topic_buckets().items()}
    first = ctx.first_priority()
    if first is not None:
        topic_buckets.setdefault(first[0], set()).add("critical")
    total = weight = 0.0
    notes: list[str] = []
    for rule in crit.criterion.placement:
        buckets = topic_buckets.get(rule.topic)
        credit = (
            max((rule.credit.get(b, 0.0) for b in buckets), default=0.0)
            if buckets
            else rule.missing
        )
        total += rule.weight * credit
        weight += rule.weight
        if credit < 0.5 and rule.message:
            notes.append(rule.message)
    if notes and not reveal:
        notes = [
            "Some issues may sit in the wrong bucket: weigh each one's business and "
            "technical impact before placing it."
        ]
    return _Check(total / weight if weight else 0.0, notes)


def _buried(ctx: _Context) -> tuple[str, ...]:
    """The rubric's key issues an answer defers: the matrix places each one it names in Medium
    or lower (and at least one there), and none is what the answer fixes first."""
    key = ctx.compiled.rubric.checks.buried_topics
    buckets = ctx.topic_buckets()
    placed = [t for t in key if t in buckets]
    if not placed or any(buckets[t] & {"critical", "high"} for t in placed):
        return ()
    first = ctx.first_priority()
    if first is not None and first[0] in key:
        return ()
    return tuple(placed)


def _check_first(crit: CompiledCriterion, ctx: _Context) -> _Check:
    rule = crit.criterion.first_priority
    assert rule is not None
    found = ctx.first_priority()
    if found is None:
        return _Check(0.0, ["Say which issue you would fix first and why."])
    topic, _ = found
    if topic in rule.accept:
        return _Check(1.0)
    return _Check(0.0, [rule.message] if rule.message else [])


def _check_timelines(plan: Plan, source: str, compiled: CompiledRubric) -> _Check:
    limits = compiled.rubric.checks.max_days
    items = plan.items()
    if not items:
        found = durations(source)
        if not found:
            return _Check(0.0, ["Give each fix a timeline."])
        # Prose: durations are not tied to buckets, and some are not timelines at all ("50K
        # predictions a day", "keep logs 90 days"), so credit the share that is realistic.
        ok = sum(1 for d in found if d <= limits.get("medium", 62.0)) / len(found)
        return _Check(0.3 + 0.4 * ok)
    scores: list[float] = []
    bad: list[str] = []
    for item in items:
        if not item.timeline:
            scores.append(0.0)
            continue
        d = days(item.timeline)
        limit = limits.get(item.bucket)
        if d is None:
            scores.append(0.5)
        elif limit is not None and d > limit:
            scores.append(0.0)
            bad.append(f"'{item.timeline}' for a {item.bucket.capitalize()} item")
        else:
            scores.append(1.0)
    notes = []
    missing = sum(1 for i in items if not i.timeline)
    if missing:
        notes.append(f"Timeline missing in {missing} of {len(items)} items.")
    if bad:
        notes.append("Unrealistic timelines: " + "; ".join(bad[:3]) + ".")
    return _Check(sum(scores) / len(scores), notes)


def _check_fields(plan: Plan) -> _Check:
    items = plan.items()
    if not items:
        return _Check(0.5)
    filled = sum(1 for i in items for f in FIELDS[1:] if getattr(i, f))
    return _Check(filled / (3 * len(items)))


def _check_step1(ctx: _Context) -> _Check:
    plan = ctx.plan
    body = "\n".join(plan.step1.values()) if plan.found["step1"] else plan.text
    parts = {
        "top issues": bool(plan.step1["top_issues"]) or word_count(body) >= 40,
        "which issue comes first": ctx.first_priority() is not None,
        "what more information you need": bool(plan.step1["more_information"])
        or bool(_MORE_INFO_CUES.search(body)),
    }
    missing = [k for k, v in parts.items() if not v]
    notes = ["Step 1 does not say " + ", ".join(missing) + "."] if missing else []
    return _Check(sum(parts.values()) / len(parts), notes)


def _check_step3(plan: Plan, source: str) -> _Check:
    parts = {
        "technical approach": bool(plan.step3["technical_approach"])
        or word_count(plan.step3["other"]) >= 15,
    }
    for part, cue in _STEP3_CUES.items():
        parts[part.replace("_", " ")] = bool(plan.step3[part]) or bool(cue.search(source))
    missing = [k for k, v in parts.items() if not v]
    notes = ["No " + ", ".join(missing) + " found."] if missing else []
    return _Check(sum(parts.values()) / len(parts), notes)


def _check_buckets(ctx: _Context) -> _Check:
    """Share of Critical/High/Medium used. An answer that names its first priority is judged
    on its order; using the buckets can then only add (prose has none to use, and the item
    that starts a matrix must not cost what the prose already earned)."""
    used = sum(1 for b in BUCKETS[:3] if ctx.plan.matrix[b])
    return _Check(used / 3, optional=ctx.first_priority() is not None)


# --- scoring ----------------------------------------------------------------------------


def _coverage(crit: CompiledCriterion, doc: Doc) -> tuple[float, list[dict[str, str]], list[int]]:
    """Weighted share of the criterion's concepts the answer asserts (a dismissed or, for
    fixes, negated mention does not count), with a quote for each."""
    got = 0.0
    evidence: list[dict[str, str]] = []
    missing: list[int] = []
    reading = crit.criterion.negation
    text, starts, ends, cues = doc.text, doc.starts, doc.ends, doc.cues

    def asserted(sp: tuple[int, int]) -> bool:
        return not dismissed(text, starts[sp[0]], ends[sp[1]], reading, cues)

    for idx, (concept, phrases) in enumerate(crit.concepts):
        span = None
        for p in phrases:
            first = doc.find(p)
            if first is None:
                continue
            span = first if asserted(first) else next(filter(asserted, doc.find_iter(p)), None)
            if span is not None:
                break
        if span is None:
            missing.append(idx)
            continue
        got += concept.weight
        evidence.append({"concept": concept.name, "quote": doc.quote(span)})
    total = sum(c.weight for c, _ in crit.concepts)
    return (got / total if total else 0.0), evidence, missing


def _feedback(
    crit: CompiledCriterion,
    evidence: list[dict[str, str]],
    missing: list[int],
    notes: list[str],
    reveal: bool,
) -> str:
    parts: list[str] = []
    if evidence:
        shown = sorted(evidence, key=lambda e: -crit.weight_of[e["concept"]])[:3]
        parts.append(
            "Strengths: "
            + "; ".join(f"{e['concept']} (\u201c{e['quote']}\u201d)" for e in shown)
            + "."
        )
    else:
        parts.append("No evidence for this criterion was found in the answer.")
    parts.extend(notes)
    ranked = sorted(missing, key=lambda i: -crit.concepts[i][0].weight)
    if reveal and ranked:
        parts.append(
            "Not covered: " + ", ".join(crit.concepts[i][0].name for i in ranked[:5]) + "."
        )
    elif ranked:
        hints: list[str] = []
        for i in ranked:
            hint = crit.concepts[i][0].hint
            if hint and hint not in hints:
                hints.append(hint)
            if len(hints) == 2:
                break
        if hints:
            parts.append("To improve: " + " ".join(hints))
    return " ".join(parts)


def _weighted(results: dict[str, _Check], weights: Mapping[str, float], optional: bool) -> float:
    used = {
        k: w for k, w in weights.items() if k in results and (optional or not results[k].optional)
    }
    total = sum(used.values())
    return sum(results[k].score * w for k, w in used.items()) / total if total else 0.0


def _measure_criterion(
    crit: CompiledCriterion, ctx: _Context, doc: Doc, similarity: float, source: str, reveal: bool
) -> dict[str, Any]:
    """What one criterion reads in the answer: coverage and its evidence, similarity, and
    the structure checks (scores and notes, before any weights)."""
    coverage, evidence, missing = _coverage(crit, doc)
    checks: dict[str, Callable[[], _Check | None]] = {
        "placement": lambda: _check_placement(crit, ctx, reveal),
        "first_priority": lambda: _check_first(crit, ctx),
        "timelines": lambda: _check_timelines(ctx.plan, source, ctx.compiled),
        "fields_complete": lambda: _check_fields(ctx.plan),
        "step1_parts": lambda: _check_step1(ctx),
        "step3_parts": lambda: _check_step3(ctx.plan, source),
        "buckets": lambda: _check_buckets(ctx),
    }
    results: dict[str, list[Any]] = {}
    for name in crit.criterion.structure:
        result = checks[name]()
        if result is not None:
            results[name] = [result.score, result.optional, result.notes]
    return {
        "coverage": coverage,
        "similarity": similarity,
        "evidence": evidence,
        "missing": missing,
        "checks": results,
    }


def _finish_criterion(
    crit: CompiledCriterion, measured: Mapping[str, Any], reveal: bool
) -> tuple[CriterionGrade, float]:
    """A criterion's points share, feedback and signals from what it measured: the rubric's
    blend, curve and structure weights apply here."""
    c = crit.criterion
    coverage, similarity = measured["coverage"], measured["similarity"]
    evidence, missing = measured["evidence"], measured["missing"]
    stored = measured["checks"]
    results = {  # in this rubric's order of checks: their notes come in it
        name: _Check(stored[name][0], list(stored[name][2]), stored[name][1])
        for name in c.structure
        if name in stored
    }
    structure = max(
        _weighted(results, c.structure, optional=True),
        _weighted(results, c.structure, optional=False),
    )
    sim_scaled = min(1.0, similarity / crit.similarity_full)
    raw = (
        c.blend.get("coverage", 0.0) * coverage
        + c.blend.get("similarity", 0.0) * sim_scaled
        + c.blend.get("structure", 0.0) * structure
    )
    fraction = _lerp(raw, *c.curve)
    notes = [n for r in results.values() for n in r.notes]
    grade = CriterionGrade(
        id=c.id,
        name=c.name,
        points=0.0,
        max_points=c.points,
        feedback=_feedback(crit, evidence, missing, notes, reveal),
        evidence=[dict(e) for e in evidence],
        missing=[crit.concepts[i][0].name for i in missing],
        signals={
            "coverage": round(coverage, 4),
            "similarity": round(similarity, 4),
            "structure": round(structure, 4),
            "raw": round(raw, 4),
        },
    )
    grade.points = fraction  # scaled to points once flags are known
    return grade, abs(coverage - sim_scaled)


def measure_plan(
    plan: Plan, compiled: CompiledRubric, source: str = "", unread: int = 0
) -> dict[str, Any]:
    """Everything a grade needs from the answer itself, as JSON: reading it is the costly
    part of grading; :func:`finish_plan` turns this into the grade for any rubric with the
    same measurement key (:mod:`grader.scoring.grade`)."""
    rubric = compiled.rubric
    ctx = _Context(plan, compiled)
    layout = ctx.layout
    source_ranges = [layout.ranges(crit.criterion.sources) for crit in compiled.criteria]
    docs = [layout.doc(r) for r in source_ranges]
    sources = [layout.source_text(r) for r in source_ranges]
    sims = compiled.similarities(layout, source_ranges)
    reading = read_answer(plan, compiled, layout, source or plan.text)
    reading.buried = _buried(ctx)
    words = max(1, layout.word_count)
    return {
        "criteria": [
            _measure_criterion(crit, ctx, doc, sim, text, rubric.reveal_missing)
            for crit, doc, text, sim in zip(compiled.criteria, docs, sources, sims, strict=True)
        ],
        "reading": reading.to_dict(),
        "flags": answer_flags(plan, compiled, layout, reading),
        "shape": shape_of(plan, layout, compiled).to_dict(),
        "plan_words": word_count(plan.text),
        "unread": unread,
        "warnings": list(plan.warnings),
        "confidence_signals": {
            "missing_sections": sum(1 for found in plan.found.values() if not found),
            "warnings": len(plan.warnings),
            "short": max(0.0, math.log(150 / words)),
            "long": max(0.0, math.log(words / 1500)),
        },
    }


def finish_plan(
    measured: Mapping[str, Any], compiled: CompiledRubric, plan: Mapping[str, Any]
) -> Grade:
    """The grade of a measured answer (:func:`measure_plan`) under ``compiled``: blends,
    curves, caps, costs, flags' factors, points, feedback, review reasons, confidence.
    ``plan`` is the parsed plan's dict, kept in the grade as it is."""
    rubric = compiled.rubric
    reading = Reading.from_dict(measured["reading"], compiled)
    flags = list(measured["flags"])
    factor = 1.0
    for flag in flags:
        factor *= FLAG_FACTOR.get(flag, 1.0)
    if "too_short" in flags and rubric.checks.min_words:
        factor *= min(1.0, measured["plan_words"] / rubric.checks.min_words)
    criteria: list[CriterionGrade] = []
    disagreements: list[float] = []
    for crit, m in zip(compiled.criteria, measured["criteria"], strict=True):
        grade, disagreement = _finish_criterion(crit, m, rubric.reveal_missing)
        fraction, notes = adjust(grade.points, crit, reading, compiled)
        grade.points = round(fraction * factor * crit.criterion.points, 1)
        if notes:
            grade.feedback = f"{grade.feedback} {' '.join(notes)}"
        for flag in flags:
            if FLAG_FACTOR.get(flag, 1.0) < 1.0 or flag in (
                "exercise_copied",
                "too_short",
                "hidden_text",
                "prompt_injection",
                "language",
            ):
                grade.feedback = f"{FLAG_MESSAGES[flag]} {grade.feedback}"
        criteria.append(grade)
        disagreements.append(disagreement)
    disagreement = sum(disagreements) / len(disagreements)
    first = criteria[0].signals
    signals = Signals(disagreement, first["coverage"], first["similarity"])
    shape = AnswerShape.from_dict(measured["shape"])
    reasons = review_reasons(shape, compiled, reading, flags, signals, measured["unread"])
    confidence_signals = {"disagreement": disagreement, **measured["confidence_signals"]}
    return Grade(
        total=round(sum(c.points for c in criteria), 1),
        max_total=rubric.max_total,
        criteria=criteria,
        confidence=confidence(confidence_signals, len(reasons)),
        flags=flags,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        warnings=list(measured["warnings"]),
        plan=dict(plan),
        review_reasons=[r.to_dict() for r in reasons],
        language=reading.language or rubric.language,
        confidence_signals={k: round(float(v), 4) for k, v in confidence_signals.items()},
        measured=dict(measured),
    )


def score_plan(plan: Plan, compiled: CompiledRubric, source: str = "", unread: int = 0) -> Grade:
    """Grade a parsed plan. Deterministic: the same plan and rubric give the same grade.

    ``source`` is the answer as submitted, read for instructions addressed to the grader;
    ``unread`` counts the characters past the read limit (they send the grade to review).
    """
    return finish_plan(measure_plan(plan, compiled, source, unread), compiled, plan.to_dict())
