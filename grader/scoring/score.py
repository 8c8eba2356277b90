"""Score a parsed plan against a compiled rubric, criterion by criterion.

Each criterion blends three signals, each in [0, 1]: concept coverage (weighted share of its
concepts found), TF-IDF similarity to its reference answers, and structure checks (placement
of issues in buckets, the first priority, timelines, Step 3 parts). The blend is mapped to
points through the criterion's curve. Gaming flags then scale the result down, and every
criterion explains itself with evidence quoted from the answer.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .compiled import CompiledCriterion, CompiledRubric
from .confidence import ReviewReason, confidence
from .facts import FactReading, foreign_numbers, numbers_cited, read_facts
from .language import detect
from .layout import Layout
from .matching import Doc
from .negation import dismissed
from .parse import BUCKETS, FIELDS, Plan
from .text import word_count
from .timelines import days, durations

__all__ = ["FLAGS", "FLAG_MESSAGES", "CriterionGrade", "Grade", "score_plan"]

FLAGS = (
    "keyword_stuffing",
    "template_pasted",
    "exercise_copied",
    "off_topic",
    "too_short",
    "contains_html",
    "language",
    "hidden_text",
    "prompt_injection",
    "contradicts_scenario",
    "generic",
    "harmful_action",
    "no_commitment",
)
# How much of the score survives each flag. Gaming must not pay; HTML is only reported.
_FLAG_FACTOR = {"off_topic": 0.0, "template_pasted": 0.0, "keyword_stuffing": 0.1}
FLAG_MESSAGES = {
    "keyword_stuffing": "The answer lists terms without explaining them; explain each point "
    "in sentences tied to the system you were given.",
    "template_pasted": "The template was handed in without being filled in.",
    "exercise_copied": "Much of the answer repeats the exercise text; copied text earns nothing.",
    "off_topic": "The answer does not address the system described in the exercise.",
    "too_short": "The answer is too short to show the analysis the exercise asks for.",
    "contains_html": "Raw HTML in the answer was ignored; only its text was read.",
    "language": "The answer is not in the language of the course; an instructor will grade it.",
    "hidden_text": "Text hidden from readers (comments, link titles, alt text, hidden or "
    "collapsed elements) earns nothing.",
    "prompt_injection": "Instructions addressed to the grader were ignored.",
    "contradicts_scenario": "Some figures or states you give do not match the system "
    "snapshot; check them against the exercise.",
    "generic": "The answer does not use the facts of the system you were given: tie each "
    "point to the snapshot's figures.",
    "harmful_action": "Some proposed actions would harm the system.",
    "no_commitment": "Commit to an order: say what comes first and why, and use the buckets "
    "to rank the issues.",
}
# Flags that change points (on clear evidence only); the rest lower the confidence.
_PENALTIES = frozenset({"off_topic", "template_pasted", "keyword_stuffing", "too_short"})
_INJECTION = re.compile(
    r"(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|"
    r"grading|your)\s+(?:\w+\s+)?(?:instructions?|rules|rubric|prompts?)"
    r"|\b(?:award|give|assign|grade)\s+(?:this|me|the)?\s*(?:answer|submission|response)?\s*"
    r"(?:full\s+marks|(?:a\s+)?(?:score\s+of\s+)?100\s*(?:/\s*100|%|points))"
    r"|\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|automated|auto)[\s-]*"
    r"(?:grader|grading|marker|assistant)"
    r"|\bSYSTEM\s*:|\b(?:grader|ai)\s*[:,]\s*(?:please\s+)?(?:give|award|score|grade)",
    re.I,
)
_HEDGES = re.compile(
    r"\b(?:it (?:all )?depends|depends on (?:the|what|which|how)|(?:roughly |about )?equally "
    r"(?:important|urgent|critical|pressing)|all (?:of them )?(?:are )?(?:equally|just as)|"
    r"hard to say|difficult to say|(?:the )?team (?:should|will|can|must) decide|up to the team|"
    r"tentative(?:ly)?|could (?:be )?either|no clear (?:first|winner|priority|order)|"
    r"(?:can't|cannot|can not) (?:say|tell|decide) which|not sure which|let the (?:team|"
    r"stakeholders|business) (?:decide|choose)|to be decided|\btbd\b|decide (?:together|later|"
    r"in a workshop)|(?:several|multiple|four|three) (?:options|candidates) for|"
    r"option [abcd1-4]\b)",
    re.I,
)
_HEDGES_TO_UNCOMMIT = 2
# Share of stopwords (English function words) above which an answer is taken to be English.
_ENGLISH_STOPWORDS = 0.1
# Substrings without which neither pattern can match: checked first, since most answers have
# none and a plain substring test is far cheaper than either regex.
_INJECTION_HINTS = (
    "instruction",
    "rules",
    "rubric",
    "prompt",
    "full mark",
    "100/100",
    "100 /",
    "100 points",
    "100%",
    "grader",
    "grading",
    "marker",
    "assistant",
    "system:",
    "system :",
    "ai:",
    "ai,",
)
_HEDGE_HINTS = (
    "depend",
    "equally",
    "just as",
    "hard to say",
    "difficult to say",
    "decide",
    "up to the",
    "tentative",
    "could be either",
    "could either",
    "no clear",
    "sure which",
    "say which",
    "tell which",
    "tbd",
    "option a",
    "option b",
    "option 1",
    "option 2",
    "options for",
    "candidates for",
)
# Hidden text shorter than this cannot hold the three rubric phrases hidden_text needs.
_HIDDEN_MIN_WORDS = 3


def _any_in(text: str, hints: tuple[str, ...]) -> bool:
    return any(h in text for h in hints)


# Matrix entries that say there is nothing in a bucket.
_EMPTY_ITEM = re.compile(r"^(?:[-\u2013\u2014.]*|n/?a\b.*|none\b.*|nothing\b.*|tbd|empty|-)$", re.I)
# Facts an answer must engage with before gaming rules may call it a keyword list.
_STUFFING_MAX_FACTS = 2
# An answer engaging at most this many facts (by number / by phrase) is generic.
_GENERIC_MAX_NUMERIC, _GENERIC_MAX_ANY = 1, 2
# Caps (share of a criterion's points) for answers that do not engage the scenario.
_GENERIC_CAP = {"problem_identification": 0.25, "prioritization": 0.35}
_GENERIC_OTHER_CAP = 0.4
_OTHER_SCENARIO_CAP = 0.1
_UNCOMMITTED_CAP = 0.45
_CONTRADICTION_COST = 0.25
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
        # The first criterion's concept coverage and similarity, once scored.
        self.coverage_pi = self.similarity_pi = 1.0

    def item_doc(self, index: int) -> Doc:
        ranges = self.layout.ranges([f"matrix.issue.{index}"])
        if not ranges:
            ranges = [r for f in FIELDS for r in self.layout.ranges([f"matrix.{f}.{index}"])]
        return self.layout.doc(ranges)

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
    topic_buckets: dict[str, set[str]] = {}
    for index, item in enumerate(ctx.plan.items()):
        for _, topic in _topics_in(ctx.item_doc(index), ctx.compiled):
            topic_buckets.setdefault(topic, set()).add(item.bucket)
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
        ok = all(d <= limits.get("medium", 62.0) for d in found)
        return _Check(0.7 if ok else 0.3)
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


def _check_buckets(plan: Plan) -> _Check:
    used = sum(1 for b in BUCKETS[:3] if plan.matrix[b])
    return _Check(used / 3)


# --- reading the answer as a whole ------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """What grade-wide checks found: language, facts, hidden text, harm, commitment."""

    language: str
    foreign: bool
    facts: FactReading | None
    numbers_cited: float
    hidden_hits: int
    injection: bool
    harmful: list[tuple[Any, str]]
    uncommitted: str
    generic: bool
    other_scenario: bool
    # Which caps actually lowered a criterion ("generic", "no_commitment"): only those make
    # the grade uncertain enough to need a look.
    capped: set[str] = field(default_factory=set)


def _read(ctx: _Context, source: str) -> _Reading:
    plan, compiled, layout = ctx.plan, ctx.compiled, ctx.layout
    rubric = compiled.rubric
    # An English answer is full of English function words; only an answer short of them can
    # be in another language, so only those are looked at closely.
    if rubric.language == "en" and layout.stopword_ratio >= _ENGLISH_STOPWORDS:
        code = "en"
    else:
        code = detect(plan.text).code
    foreign = bool(code) and code != rubric.language
    everything = layout.doc(layout.ranges(["all"]))
    facts = None
    cited = 0.0
    other = False
    if compiled.facts:
        pi = compiled.criteria[0].criterion.sources
        scenario_doc = layout.doc(layout.ranges(pi))
        facts = read_facts(scenario_doc, compiled.facts, compiled.scenario_numbers)
        cited = numbers_cited(everything, compiled.facts)
        other = not facts.by_number and (
            foreign_numbers(scenario_doc, compiled.scenario_numbers) >= 3
        )
    hidden_hits = 0
    if compiled.anchors and word_count(plan.hidden) >= _HIDDEN_MIN_WORDS:
        hidden_doc = Doc(plan.hidden, compiled.lexicon)
        hidden_hits = sum(1 for phrase in compiled.anchors if hidden_doc.find(phrase) is not None)
    harmful: list[tuple[Any, str]] = []
    for ci, phrases in compiled.contraindications:
        for raw, phrase in zip(ci.phrases, phrases, strict=True):
            # "disabled drift detection" describes the snapshot; "disable drift detection" acts.
            base_verb = not raw.split()[0].lower().endswith("ed")
            span = next(
                (
                    sp
                    for sp in everything.find_ordered_iter(phrase, gap=1)
                    if not (
                        base_verb
                        and everything.text[everything.starts[sp[0]] : everything.ends[sp[0]]]
                        .lower()
                        .endswith("ed")
                    )
                    and not dismissed(
                        everything.text,
                        everything.starts[sp[0]],
                        everything.ends[sp[1]],
                        "action",
                        everything.cues,
                    )
                ),
                None,
            )
            if span is not None:
                harmful.append((ci, everything.quote(span)))
                break
    items = [i for i in plan.items() if not _EMPTY_ITEM.match(i.issue.strip())]
    buckets = {i.bucket for i in items}
    uncommitted = ""
    if len(items) >= 4 and (
        len(buckets) == 1
        or not buckets & {"critical", "high"}
        or (len(items) >= 6 and sum(i.bucket == "critical" for i in items) >= 0.85 * len(items))
    ):
        uncommitted = "every issue in one bucket"
    elif (
        _any_in(plan.text.lower(), _HEDGE_HINTS)
        and len(_HEDGES.findall(plan.text)) >= _HEDGES_TO_UNCOMMIT
    ):
        uncommitted = "no first priority named"
    generic = (
        facts is not None
        and not foreign
        and layout.word_count > 0
        and len(facts.by_number) <= _GENERIC_MAX_NUMERIC
        and len(facts.engaged) <= _GENERIC_MAX_ANY
    )
    return _Reading(
        language=code,
        foreign=foreign,
        facts=facts,
        numbers_cited=cited,
        hidden_hits=hidden_hits,
        injection=_any_in(source.lower(), _INJECTION_HINTS) and bool(_INJECTION.search(source)),
        harmful=harmful,
        uncommitted=uncommitted,
        generic=generic,
        other_scenario=other and generic,
    )


def _flags(ctx: _Context, reading: _Reading) -> list[str]:
    """Flags of the answer. Penalty flags need clear evidence: a keyword list must also leave
    the scenario's figures alone, and answers in another language are never called one."""
    plan, compiled = ctx.plan, ctx.compiled
    checks = compiled.rubric.checks
    content_words = ctx.layout.word_count
    flags: list[str] = []
    stop_ratio = ctx.layout.stopword_ratio
    lines = plan.line_words
    short = sum(1 for n in lines if n <= 4)
    listy = stop_ratio < 0.06 or (len(lines) >= 10 and short / len(lines) >= 0.6)
    numeric = len(reading.facts.by_number) if reading.facts is not None else 0
    if content_words >= 30 and listy and not reading.foreign and numeric <= _STUFFING_MAX_FACTS:
        flags.append("keyword_stuffing")
    if plan.placeholders >= 3 and content_words < max(checks.min_words, 1):
        flags.append("template_pasted")
    if plan.copied_words >= 30 and plan.copied_words >= 0.4 * (plan.copied_words + content_words):
        flags.append("exercise_copied")
    if compiled.anchors and content_words and not reading.foreign:
        doc = ctx.layout.doc(ctx.layout.ranges(["all"]))
        hits = sum(1 for phrase in compiled.anchors if doc.find(phrase) is not None)
        if hits < checks.min_anchors:
            flags.append("off_topic")
    if content_words < checks.min_words:
        flags.append("too_short")
    if plan.has_html:
        flags.append("contains_html")
    if reading.foreign:
        flags.append("language")
    if reading.hidden_hits >= 3:
        flags.append("hidden_text")
    if reading.injection:
        flags.append("prompt_injection")
    if reading.facts is not None and reading.facts.contradicted:
        flags.append("contradicts_scenario")
    if reading.generic:
        flags.append("generic")
    if reading.harmful:
        flags.append("harmful_action")
    if reading.uncommitted:
        flags.append("no_commitment")
    return flags


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


def _score_criterion(
    crit: CompiledCriterion, ctx: _Context, doc: Doc, similarity: float, source: str, reveal: bool
) -> tuple[CriterionGrade, float]:
    c = crit.criterion
    plan = ctx.plan
    coverage, evidence, missing = _coverage(crit, doc)
    checks: dict[str, Callable[[], _Check | None]] = {
        "placement": lambda: _check_placement(crit, ctx, reveal),
        "first_priority": lambda: _check_first(crit, ctx),
        "timelines": lambda: _check_timelines(plan, source, ctx.compiled),
        "fields_complete": lambda: _check_fields(plan),
        "step1_parts": lambda: _check_step1(ctx),
        "step3_parts": lambda: _check_step3(plan, source),
        "buckets": lambda: _check_buckets(plan),
    }
    results: dict[str, _Check] = {}
    for name in c.structure:
        result = checks[name]()
        if result is not None:
            results[name] = result
    weights = {k: w for k, w in c.structure.items() if k in results}
    structure = (
        sum(results[k].score * w for k, w in weights.items()) / sum(weights.values())
        if weights
        else 0.0
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
        evidence=evidence,
        missing=[crit.concepts[i][0].name for i in missing],
        signals={
            "coverage": round(coverage, 4),
            "similarity": round(similarity, 4),
            "structure": round(structure, 4),
            "raw": round(raw, 4),
        },
    )
    disagreement = abs(coverage - sim_scaled)
    grade.points = fraction  # scaled to points once flags are known
    return grade, disagreement


def _cap(table: Any, criterion: str) -> float | None:
    value = table.get(criterion, table.get("default"))
    return None if value is None else float(value)


def _adjust(
    fraction: float, crit: CompiledCriterion, reading: _Reading, compiled: CompiledRubric
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
    for ci, quote in reading.harmful:
        cost = ci.costs.get(cid)
        if cost:
            fraction *= 1.0 - cost
            notes.append(f"{ci.message} (\u201c{quote}\u201d)")
    return fraction, notes


def _reasons(
    plan: Plan, ctx: _Context, reading: _Reading, flags: list[str], disagreement: float
) -> list[ReviewReason]:
    reasons: list[ReviewReason] = []
    if reading.foreign:
        reasons.append(
            ReviewReason.of("language", _LANGUAGE_NAMES.get(reading.language, reading.language))
        )
    if "hidden_text" in flags:
        reasons.append(ReviewReason.of("hidden_text", f"{word_count(plan.hidden)} hidden words"))
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
    words = ctx.layout.word_count
    if 0 < words < _SHORT_WORDS and not {"template_pasted", "too_short"} & set(flags):
        reasons.append(ReviewReason.of("length", "unusually short"))
    elif words > _LONG_WORDS:
        reasons.append(ReviewReason.of("length", "unusually long"))
    if plan.diagrams:
        reasons.append(ReviewReason.of("format", str(plan.diagrams)))
    facts = reading.facts
    pi_coverage = ctx.coverage_pi
    if (
        facts is not None
        and reading.numbers_cited >= _PARAPHRASE_FACTS
        and pi_coverage < _PARAPHRASE_COVERAGE
        and ctx.similarity_pi < _PARAPHRASE_SIMILARITY
        and words >= _PARAPHRASE_WORDS
    ):
        reasons.append(ReviewReason.of("paraphrase"))
    if (
        _CONCISE_WORDS[0] <= words < _CONCISE_WORDS[1]
        and all(plan.found.values())
        and reading.numbers_cited >= _CONCISE_FACTS
        and not set(flags) & _PENALTIES
    ):
        reasons.append(ReviewReason.of("length", "concise"))
    exercise = ctx.compiled.exercise
    if (
        exercise is not None
        and plan.copied_words
        and exercise.restated_share(plan.text) >= _RESTATED_SHARE
    ):
        reasons.append(ReviewReason.of("restated"))
    dropped = plan.repeated_words + word_count(plan.appendix)
    if dropped >= _DROPPED_REVIEW:
        reasons.append(ReviewReason.of("repetition", str(dropped)))
    if plan.tricks >= _TRICKS_REVIEW:
        reasons.append(ReviewReason.of("unicode", f"{plan.tricks} characters"))
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


def score_plan(plan: Plan, compiled: CompiledRubric, source: str = "") -> Grade:
    """Grade a parsed plan. Deterministic: the same plan and rubric give the same grade.

    ``source`` is the answer as submitted, read for instructions addressed to the grader.
    """
    rubric = compiled.rubric
    ctx = _Context(plan, compiled)
    layout = ctx.layout
    source_ranges = [layout.ranges(crit.criterion.sources) for crit in compiled.criteria]
    docs = [layout.doc(r) for r in source_ranges]
    sources = [layout.source_text(r) for r in source_ranges]
    sims = compiled.similarities(layout, source_ranges)
    reading = _read(ctx, source or plan.text)
    flags = _flags(ctx, reading)
    factor = 1.0
    for flag in flags:
        factor *= _FLAG_FACTOR.get(flag, 1.0)
    if "too_short" in flags and rubric.checks.min_words:
        factor *= min(1.0, word_count(plan.text) / rubric.checks.min_words)
    criteria: list[CriterionGrade] = []
    disagreements: list[float] = []
    for crit, doc, text, sim in zip(compiled.criteria, docs, sources, sims, strict=True):
        grade, disagreement = _score_criterion(crit, ctx, doc, sim, text, rubric.reveal_missing)
        if crit is compiled.criteria[0]:
            ctx.coverage_pi = grade.signals["coverage"]
            ctx.similarity_pi = grade.signals["similarity"]
        fraction, notes = _adjust(grade.points, crit, reading, compiled)
        grade.points = round(fraction * factor * crit.criterion.points, 1)
        if notes:
            grade.feedback = f"{grade.feedback} {' '.join(notes)}"
        for flag in flags:
            if _FLAG_FACTOR.get(flag, 1.0) < 1.0 or flag in (
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
    reasons = _reasons(plan, ctx, reading, flags, disagreement)
    words = max(1, layout.word_count)
    signals = {
        "disagreement": disagreement,
        "missing_sections": sum(1 for found in plan.found.values() if not found),
        "warnings": len(plan.warnings),
        "short": max(0.0, math.log(150 / words)),
        "long": max(0.0, math.log(words / 1500)),
    }
    return Grade(
        total=round(sum(c.points for c in criteria), 1),
        max_total=rubric.max_total,
        criteria=criteria,
        confidence=confidence(signals, len(reasons)),
        flags=flags,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        warnings=list(plan.warnings),
        plan=plan.to_dict(),
        review_reasons=[r.to_dict() for r in reasons],
        language=reading.language or rubric.language,
        confidence_signals={k: round(float(v), 4) for k, v in signals.items()},
    )
