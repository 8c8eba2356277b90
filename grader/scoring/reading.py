"""Grade-wide readings of an answer, and the flags they raise.

Criteria score parts of a plan; some things can only be judged on the answer as a whole:
the language it is written in, which of the scenario's facts it engages or contradicts,
text it hides from readers, actions that would harm the system, whether it commits to a
priority order, instructions addressed to the grader. :func:`read_answer` finds them once
per grade; :func:`answer_flags` turns them (and the classic gaming checks) into flags.
Penalty flags need clear evidence; the rest only lower the confidence
(:mod:`grader.scoring.review`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from .compiled import CompiledRubric
from .facts import FactReading, foreign_numbers, numbers_cited, read_facts
from .language import detect
from .layout import Layout
from .matching import Doc
from .negation import dismissed, negations, warns
from .parse import Plan
from .rubric import Contraindication
from .text import word_count

__all__ = [
    "FLAGS",
    "FLAG_FACTOR",
    "FLAG_MESSAGES",
    "PENALTIES",
    "Reading",
    "answer_flags",
    "read_answer",
]

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
FLAG_FACTOR = {"off_topic": 0.0, "template_pasted": 0.0, "keyword_stuffing": 0.1}
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
PENALTIES = frozenset({"off_topic", "template_pasted", "keyword_stuffing", "too_short"})
# Instructions addressed to the grader. Each form starts with one of its words; it is tried
# only where such a word starts (a plain substring search finds them), anchored there, so
# the cost is a few anchored matches per answer instead of a regex tried at every position.
# (words, whether a word must start at a word boundary, the form; all on lower-cased text)
_INJECTIONS: tuple[tuple[tuple[str, ...], bool, re.Pattern[str]], ...] = (
    (
        ("ignore", "disregard", "forget"),
        False,
        re.compile(
            r"(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|"
            r"above|earlier|grading|your)\s+(?:\w+\s+)?(?:instructions?|rules|rubric|prompts?)"
        ),
    ),
    (
        ("award", "give", "assign", "grade"),
        True,
        re.compile(
            r"(?:award|give|assign|grade)\s+(?:this|me|the)?\s*(?:answer|submission|response)?"
            r"\s*(?:full\s+marks|(?:a\s+)?(?:score\s+of\s+)?100\s*(?:/\s*100|%|points))"
        ),
    ),
    (
        ("note", "message", "instruction"),
        True,
        re.compile(
            r"(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|llm|automated|"
            r"auto)[\s-]*(?:grader|grading|marker|assistant)"
        ),
    ),
    (("system",), True, re.compile(r"system\s*:")),
    (
        ("grader", "ai"),
        True,
        re.compile(r"(?:grader|ai)\s*[:,]\s*(?:please\s+)?(?:give|award|score|grade)"),
    ),
)
_WORD_CHAR = re.compile(r"\w")
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


@dataclass(slots=True)
class Reading:
    """What grade-wide checks found: language, facts, hidden text, harm, commitment."""

    language: str
    foreign: bool
    facts: FactReading | None
    numbers_cited: float
    hidden_hits: int
    injection: bool
    harmful: list[tuple[Contraindication, str]]
    uncommitted: str
    generic: bool
    other_scenario: bool
    # The key issues the matrix defers to Medium or lower (set by the scorer, which places
    # topics in buckets).
    buried: tuple[str, ...] = ()
    # Which caps actually lowered a criterion ("generic", "no_commitment"): only those make
    # the grade uncertain enough to need a look.
    capped: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """What was read, as JSON (without ``capped``, which finishing a grade sets)."""
        facts = self.facts
        return {
            "language": self.language,
            "foreign": self.foreign,
            "facts": None
            if facts is None
            else {
                "engaged": facts.engaged,
                "by_number": facts.by_number,
                "contradicted": [list(c) for c in facts.contradicted],
                "total": facts.total,
            },
            "numbers_cited": self.numbers_cited,
            "hidden_hits": self.hidden_hits,
            "injection": self.injection,
            "harmful": [[ci.id, quote] for ci, quote in self.harmful],
            "uncommitted": self.uncommitted,
            "generic": self.generic,
            "other_scenario": self.other_scenario,
            "buried": list(self.buried),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], compiled: CompiledRubric) -> Reading:
        """Inverse of :meth:`to_dict`; a harmful action is looked up by id in ``compiled``
        (KeyError when the rubric no longer has it)."""
        by_id = {ci.id: ci for ci, _ in compiled.contraindications}
        facts = data["facts"]
        return cls(
            language=str(data["language"]),
            foreign=bool(data["foreign"]),
            facts=None
            if facts is None
            else FactReading(
                list(facts["engaged"]),
                list(facts["by_number"]),
                [(str(a), str(b)) for a, b in facts["contradicted"]],
                int(facts["total"]),
            ),
            numbers_cited=float(data["numbers_cited"]),
            hidden_hits=int(data["hidden_hits"]),
            injection=bool(data["injection"]),
            harmful=[(by_id[i], str(q)) for i, q in data["harmful"]],
            uncommitted=str(data["uncommitted"]),
            generic=bool(data["generic"]),
            other_scenario=bool(data["other_scenario"]),
            buried=tuple(data["buried"]),
        )


def read_answer(plan: Plan, compiled: CompiledRubric, layout: Layout, source: str) -> Reading:
    """Everything grade-wide about one answer (``source``: the answer as submitted)."""
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
        # The scenario is described where the first criterion (what the answer found) reads.
        scenario_doc = layout.doc(layout.ranges(compiled.criteria[0].criterion.sources))
        facts = read_facts(scenario_doc, compiled.facts, compiled.scenario_numbers)
        cited = numbers_cited(everything, compiled.facts)
        other = not facts.by_number and (
            foreign_numbers(scenario_doc, compiled.scenario_numbers) >= 3
        )
    hidden_hits = 0
    if compiled.anchors and word_count(plan.hidden) >= _HIDDEN_MIN_WORDS:
        hidden_doc = Doc(plan.hidden, compiled.lexicon)
        hidden_hits = sum(1 for phrase in compiled.anchors if hidden_doc.find(phrase) is not None)
    generic = (
        facts is not None
        and not foreign
        and layout.word_count > 0
        and len(facts.by_number) <= _GENERIC_MAX_NUMERIC
        and len(facts.engaged) <= _GENERIC_MAX_ANY
    )
    return Reading(
        language=code,
        foreign=foreign,
        facts=facts,
        numbers_cited=cited,
        hidden_hits=hidden_hits,
        injection=_injected(source.lower()),
        harmful=_harmful(everything, compiled),
        uncommitted=_uncommitted(plan),
        generic=generic,
        other_scenario=other and generic,
    )


def _harmful(doc: Doc, compiled: CompiledRubric) -> list[tuple[Contraindication, str]]:
    """The contraindicated actions the answer proposes (in word order, not negated), quoted."""
    found: list[tuple[Contraindication, str]] = []
    bounds = doc.bounds()
    for ci, phrases in compiled.contraindications:
        for raw, phrase in zip(ci.phrases, phrases, strict=True):
            # "disabled drift detection" describes the snapshot; "disable drift detection" acts.
            base_verb = not raw.split()[0].lower().endswith("ed")
            for sp in doc.find_ordered_iter(phrase, gap=1):
                start, end = doc.starts[sp[0]], doc.ends[sp[1]]
                if bisect_right(bounds, start) != bisect_right(bounds, doc.starts[sp[1]]):
                    continue  # an action is proposed within one sentence or line
                described = base_verb and doc.text[start : doc.ends[sp[0]]].lower().endswith("ed")
                own = negations(raw)
                if own and warns(doc.text, end):
                    continue  # "skipping staging would be a mistake" warns, it does not act
                if not described and not dismissed(doc.text, start, end, "action", doc.cues, own):
                    found.append((ci, doc.quote(sp)))
                    break
            else:
                continue
            break
    return found


def _injected(lowered: str) -> bool:
    """Whether the (lower-cased) answer addresses the grader with instructions."""
    for words, boundary, form in _INJECTIONS:
        for word in words:
            at = lowered.find(word)
            while at >= 0:
                if not (boundary and at and _WORD_CHAR.match(lowered, at - 1)) and form.match(
                    lowered, at
                ):
                    return True
                at = lowered.find(word, at + 1)
    return False


def _uncommitted(plan: Plan) -> str:
    """Why the answer commits to no priority order, or "" when it does."""
    items = [i for i in plan.items() if not _EMPTY_ITEM.match(i.issue.strip())]
    buckets = {i.bucket for i in items}
    if len(items) >= 4 and (
        len(buckets) == 1
        or not buckets & {"critical", "high"}
        or (len(items) >= 6 and sum(i.bucket == "critical" for i in items) >= 0.85 * len(items))
    ):
        return "every issue in one bucket"
    if (
        _any_in(plan.text.lower(), _HEDGE_HINTS)
        and len(_HEDGES.findall(plan.text)) >= _HEDGES_TO_UNCOMMIT
    ):
        return "no first priority named"
    return ""


def answer_flags(
    plan: Plan, compiled: CompiledRubric, layout: Layout, reading: Reading
) -> list[str]:
    """Flags of the answer. Penalty flags need clear evidence: a keyword list must also leave
    the scenario's figures alone, and answers in another language are never called one."""
    checks = compiled.rubric.checks
    content_words = layout.word_count
    flags: list[str] = []
    stop_ratio = layout.stopword_ratio
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
        doc = layout.doc(layout.ranges(["all"]))
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
