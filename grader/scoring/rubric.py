"""Rubrics as data: load a TOML file, validate it, and compile it for scoring.

A rubric names its criteria, their points, which parts of a plan feed each, the concepts each
looks for, reference answers, placement rules and how the signals blend. Validation reports
every problem at once, each with the file, the field and what is wrong, so an instructor can
fix a rubric in one pass. The version is a hash of the validated content and of the scoring
engine's version: a grade records it, and the same text with the same version always gets the
same score.

Long because: it is the rubric file format, and each field's validation and error
message sits beside the field's type so the format reads in one place; compiling lives in
:mod:`grader.scoring.compiled`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .calibration import LinearCalibration
from .confidence import CONFIDENCE_VERSION
from .parse import BUCKETS, STEP1_PARTS, STEP3_PARTS

__all__ = [
    "ENGINE_VERSION",
    "SOURCES",
    "STRUCTURE_CHECKS",
    "Concept",
    "Criterion",
    "FirstPriority",
    "Placement",
    "Rubric",
    "RubricError",
    "Topic",
    "load_rubric",
    "reference_rubric",
    "rubric_from_dict",
]

# Bump when a change to the scoring code changes scores: it is part of every rubric version.
ENGINE_VERSION = "8." + CONFIDENCE_VERSION

SOURCES = frozenset(
    {"all", "other", "step1", "matrix", "step3"}
    | {f"step1.{p}" for p in STEP1_PARTS}
    | {f"matrix.{f}" for f in ("issue", "impact", "solution", "timeline")}
    | {f"step3.{p}" for p in STEP3_PARTS}
)
STRUCTURE_CHECKS = frozenset(
    {
        "placement",
        "first_priority",
        "timelines",
        "fields_complete",
        "step1_parts",
        "step3_parts",
        "buckets",
    }
)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class RubricError(ValueError):
    """A rubric that cannot be used; ``problems`` lists (field, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {fld}: {msg}" if fld else f"{source}: {msg}" for fld, msg in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Concept:
    """Something a criterion looks for: any of its phrases is evidence of it."""

    id: str
    name: str
    phrases: tuple[str, ...]
    weight: float = 1.0
    hint: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class Topic:
    """An issue learners may place in the matrix or name as their first priority."""

    id: str
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """How well each bucket suits a topic (1 = right, 0 = wrong); ``missing`` if absent."""

    topic: str
    credit: Mapping[str, float]
    missing: float
    weight: float
    message: str


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact of the exercise's scenario: what it is about, its numbers, the phrases that
    engage with it and those that contradict it (see :mod:`grader.scoring.facts`)."""

    id: str
    name: str
    subject: tuple[str, ...]
    values: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    contradictions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Contraindication:
    """An action that harms the system; proposing it costs the named criteria a share of
    their points (``costs``: criterion id -> share), with ``message`` as feedback."""

    id: str
    name: str
    phrases: tuple[str, ...]
    costs: Mapping[str, float]
    message: str


@dataclass(frozen=True, slots=True)
class FirstPriority:
    accept: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    name: str
    points: float
    sources: tuple[str, ...]
    blend: Mapping[str, float]
    curve: tuple[float, float]
    references: tuple[str, ...]
    concepts: tuple[Concept, ...]
    structure: Mapping[str, float] = field(default_factory=dict)
    placement: tuple[Placement, ...] = ()
    first_priority: FirstPriority | None = None
    # How a negated concept is read: "dismissal" (findings: only a dismissal undoes one) or
    # "action" (fixes: any negation does); see grader.scoring.negation.
    negation: str = "dismissal"


@dataclass(frozen=True, slots=True)
class Checks:
    min_words: int = 50
    anchors: tuple[str, ...] = ()
    min_anchors: int = 0
    max_days: Mapping[str, float] = field(default_factory=dict)
    # Shares of a criterion's points (by criterion id, "default" for the others) that an
    # answer keeps at most when it engages none of the scenario's facts (generic_cap) or never
    # commits to an order (uncommitted_cap), and the share each contradicted fact costs.
    generic_cap: Mapping[str, float] = field(default_factory=dict)
    uncommitted_cap: Mapping[str, float] = field(default_factory=dict)
    contradiction_cost: Mapping[str, float] = field(default_factory=dict)
    # The scenario's key issues (topic ids): an answer whose matrix puts every one it places
    # in Medium or lower, and that fixes none of them first, keeps at most buried_cap.
    buried_topics: tuple[str, ...] = ()
    buried_cap: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rubric:
    id: str
    title: str
    kind: str
    version: str
    criteria: tuple[Criterion, ...]
    topics: tuple[Topic, ...] = ()
    checks: Checks = field(default_factory=Checks)
    exercise: str = ""
    reveal_missing: bool = False
    question: str = ""
    calibration: Mapping[str, Any] | None = None
    language: str = "en"
    facts: tuple[Fact, ...] = ()
    contraindications: tuple[Contraindication, ...] = ()
    # The grader's errors on answers it was not tuned on, |instructor - grader| total points
    # over the interval scale (grader.scoring.learning): the floor of its intervals.
    held_out_errors: tuple[float, ...] = ()
    source: str = "<dict>"
    # Equal for rubrics whose grades come from the same measurements of an answer.
    measure_key: str = ""

    @property
    def max_total(self) -> float:
        return sum(c.points for c in self.criteria)

    def to_dict(self) -> dict[str, Any]:
        """A summary for APIs: ids, names and points, never the answer key."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "version": self.version,
            "max_total": self.max_total,
            "criteria": [
                {"id": c.id, "name": c.name, "max_points": c.points} for c in self.criteria
            ],
        }


# --- validation ----------------------------------------------------------------------


class _Checker:
    """Collects problems while reading raw TOML data into typed values."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, msg: str) -> None:
        self.problems.append((path, msg))

    def str_(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        default: str = "",
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}{key}", "is required")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(f"{path}{key}", f"must be a non-empty string, got {value!r}")
            return default
        return value

    def num(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: float | None = None,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float:
        value = data.get(key, default)
        if value is None:
            self.fail(f"{path}{key}", "is required")
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{path}{key}", f"must be a number, got {value!r}")
            return 0.0
        v = float(value)
        if not math.isfinite(v):
            self.fail(f"{path}{key}", f"must be a finite number, got {v!r}")
            return 0.0
        if lo is not None and (v <= lo if lo_open else v < lo):
            bound = "greater than" if lo_open else "at least"
            self.fail(f"{path}{key}", f"must be {bound} {lo:g}, got {v:g}")
        if hi is not None and v > hi:
            self.fail(f"{path}{key}", f"must be at most {hi:g}, got {v:g}")
        return v

    def str_list(
        self, data: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}{key}", "is required")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(f"{path}{key}", "must be a list of non-empty strings")
            return ()
        if required and not value:
            self.fail(f"{path}{key}", "must not be empty")
        return tuple(value)

    def table_list(self, data: Mapping[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{path}{key}", "must be a list of tables")
            return []
        return value

    def unknown(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(data) - allowed):
            self.fail(f"{path}{key}", "is not a known field")


def _weights(
    chk: _Checker, data: Any, path: str, allowed: frozenset[str] | set[str]
) -> dict[str, float]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        chk.fail(path, "must be a table of weights")
        return {}
    out: dict[str, float] = {}
    for key in data:
        if key not in allowed:
            chk.fail(f"{path}.{key}", f"is not one of {', '.join(sorted(allowed))}")
            continue
        out[key] = chk.num(data, key, f"{path}.", lo=0)
    return out


def _concepts(chk: _Checker, raw: list[dict[str, Any]], path: str) -> tuple[Concept, ...]:
    out: list[Concept] = []
    seen: set[str] = set()
    for i, c in enumerate(raw):
        p = f"{path}[{i}]."
        chk.unknown(c, {"id", "name", "phrases", "weight", "hint", "group"}, p)
        cid = chk.str_(c, "id", p)
        if cid in seen:
            chk.fail(f"{p}id", f"duplicate concept id {cid!r}")
        seen.add(cid)
        out.append(
            Concept(
                id=cid,
                name=chk.str_(c, "name", p, required=False, default=cid.replace("_", " ")),
                phrases=chk.str_list(c, "phrases", p),
                weight=chk.num(c, "weight", p, default=1.0, lo=0, lo_open=True),
                hint=chk.str_(c, "hint", p, required=False),
                group=chk.str_(c, "group", p, required=False),
            )
        )
    return tuple(out)


def _criterion(chk: _Checker, c: dict[str, Any], i: int, kind: str, topics: set[str]) -> Criterion:
    p = f"criteria[{i}]."
    chk.unknown(
        c,
        {
            "id",
            "name",
            "points",
            "sources",
            "blend",
            "curve",
            "references",
            "concepts",
            "structure",
            "placement",
            "first_priority",
            "negation",
        },
        p,
    )
    cid = chk.str_(c, "id", p)
    if cid and not _SLUG.match(cid):
        chk.fail(f"{p}id", f"must be a lower-case slug, got {cid!r}")
    sources = chk.str_list(c, "sources", p, required=kind == "plan") or ("all",)
    for s in sources:
        if s not in SOURCES:
            chk.fail(
                f"{p}sources", f"unknown source {s!r}; use one of {', '.join(sorted(SOURCES))}"
            )
    blend = _weights(chk, c.get("blend"), f"{p}blend", {"coverage", "similarity", "structure"})
    if not blend:
        blend = {"coverage": 0.7, "similarity": 0.3}
    total = sum(blend.values())
    if abs(total - 1.0) > 1e-6:
        chk.fail(f"{p}blend", f"weights must sum to 1, got {total:g}")
    structure = _weights(chk, c.get("structure"), f"{p}structure", STRUCTURE_CHECKS)
    if blend.get("structure", 0) > 0 and not structure:
        chk.fail(f"{p}structure", "is required when blend.structure is above 0")
    curve_raw = c.get("curve", {"zero": 0.0, "full": 1.0})
    if not isinstance(curve_raw, dict):
        chk.fail(f"{p}curve", "must be a table with zero and full")
        curve_raw = {"zero": 0.0, "full": 1.0}
    zero = chk.num(curve_raw, "zero", f"{p}curve.", default=0.0, lo=0, hi=1)
    full = chk.num(curve_raw, "full", f"{p}curve.", default=1.0, lo=0, hi=1)
    if full <= zero:
        chk.fail(f"{p}curve", f"full ({full:g}) must be greater than zero ({zero:g})")
    placement: list[Placement] = []
    for j, r in enumerate(chk.table_list(c, "placement", p)):
        q = f"{p}placement[{j}]."
        chk.unknown(r, {"topic", "credit", "missing", "weight", "message"}, q)
        topic = chk.str_(r, "topic", q)
        if topic and topic not in topics:
            chk.fail(f"{q}topic", f"unknown topic {topic!r}")
        credit = _weights(chk, r.get("credit"), f"{q}credit", set(BUCKETS))
        if not credit:
            chk.fail(f"{q}credit", "must give a credit for at least one bucket")
        for b, v in credit.items():
            if v > 1:
                chk.fail(f"{q}credit.{b}", f"must be at most 1, got {v:g}")
        placement.append(
            Placement(
                topic,
                credit,
                chk.num(r, "missing", q, default=0.0, lo=0, hi=1),
                chk.num(r, "weight", q, default=1.0, lo=0, lo_open=True),
                chk.str_(r, "message", q, required=False),
            )
        )
    if "placement" in structure and not placement:
        chk.fail(f"{p}placement", "is required by structure.placement")
    first = None
    fp = c.get("first_priority")
    if fp is not None:
        if not isinstance(fp, dict):
            chk.fail(f"{p}first_priority", "must be a table")
        else:
            accept = chk.str_list(fp, "accept", f"{p}first_priority.")
            for t in accept:
                if t not in topics:
                    chk.fail(f"{p}first_priority.accept", f"unknown topic {t!r}")
            first = FirstPriority(
                accept, chk.str_(fp, "message", f"{p}first_priority.", required=False)
            )
    if "first_priority" in structure and first is None:
        chk.fail(f"{p}first_priority", "is required by structure.first_priority")
    negation = c.get("negation", "dismissal")
    if negation not in ("dismissal", "action"):
        chk.fail(f"{p}negation", f"must be 'dismissal' or 'action', got {negation!r}")
        negation = "dismissal"
    concepts = _concepts(chk, chk.table_list(c, "concepts", p), f"{p}concepts")
    if kind == "plan" and not concepts:
        chk.fail(f"{p}concepts", "must list at least one concept")
    return Criterion(
        id=cid,
        name=chk.str_(c, "name", p, required=False, default=cid.replace("_", " ").title()),
        points=chk.num(c, "points", p, lo=0, lo_open=True, hi=1000),
        sources=sources,
        blend=blend,
        curve=(zero, full),
        references=chk.str_list(c, "references", p),
        concepts=concepts,
        structure=structure,
        placement=tuple(placement),
        first_priority=first,
        negation=str(negation),
    )


def _facts(chk: _Checker, raw: list[dict[str, Any]]) -> tuple[Fact, ...]:
    out = []
    for i, f in enumerate(raw):
        p = f"facts[{i}]."
        chk.unknown(f, {"id", "name", "subject", "values", "mentions", "contradictions"}, p)
        fid = chk.str_(f, "id", p)
        values = chk.str_list(f, "values", p, required=False)
        for v in values:
            if not re.fullmatch(r"\s*\d+(?:\.\d+)?\s*%?\s*", v):
                chk.fail(f"{p}values", f"must be numbers such as '0.78' or '15%', got {v!r}")
        fact = Fact(
            id=fid,
            name=chk.str_(f, "name", p, required=False, default=fid),
            subject=chk.str_list(f, "subject", p, required=bool(values)),
            values=values,
            mentions=chk.str_list(f, "mentions", p, required=False),
            contradictions=chk.str_list(f, "contradictions", p, required=False),
        )
        if not (fact.values or fact.mentions):
            chk.fail(f"{p}mentions", "a fact needs values or mentions")
        out.append(fact)
    return tuple(out)


def _contraindications(
    chk: _Checker, raw: list[dict[str, Any]], criteria: set[str]
) -> tuple[Contraindication, ...]:
    out = []
    for i, c in enumerate(raw):
        p = f"contraindications[{i}]."
        chk.unknown(c, {"id", "name", "phrases", "costs", "message"}, p)
        costs = _weights(chk, c.get("costs"), f"{p}costs", criteria)
        if not costs:
            chk.fail(f"{p}costs", "must name at least one criterion and its share of points")
        for k, v in costs.items():
            if v > 1:
                chk.fail(f"{p}costs.{k}", f"must be at most 1, got {v:g}")
        cid = chk.str_(c, "id", p)
        out.append(
            Contraindication(
                id=cid,
                name=chk.str_(c, "name", p, required=False, default=cid),
                phrases=chk.str_list(c, "phrases", p),
                costs=costs,
                message=chk.str_(c, "message", p),
            )
        )
    return tuple(out)


def _version(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"engine": ENGINE_VERSION, "rubric": data},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# What only finishing a grade reads (grader.scoring.grade): a rubric that differs from
# another in these alone grades from the same measurements of an answer.
_FINISH_ONLY = frozenset({"title", "description", "intervals", "calibration"})
_FINISH_ONLY_CRITERION = frozenset({"name", "points", "blend", "curve"})
_FINISH_ONLY_CHECKS = frozenset(
    {"generic_cap", "uncommitted_cap", "contradiction_cost", "buried_cap"}
)


def _measure_key(data: Mapping[str, Any]) -> str:
    """The version of what reading an answer depends on: the rubric without its points,
    blends, curves, structure weights, caps, costs, concept hints and messages of harm."""

    def criterion(c: Any) -> Any:
        if not isinstance(c, Mapping):
            return c
        kept = {k: v for k, v in c.items() if k not in _FINISH_ONLY_CRITERION}
        if isinstance(kept.get("structure"), Mapping):
            kept["structure"] = sorted(kept["structure"])
        if isinstance(kept.get("concepts"), list):
            kept["concepts"] = [
                {k: v for k, v in x.items() if k != "hint"} if isinstance(x, Mapping) else x
                for x in kept["concepts"]
            ]
        return kept

    kept: dict[str, Any] = {k: v for k, v in data.items() if k not in _FINISH_ONLY}
    if isinstance(kept.get("criteria"), list):
        kept["criteria"] = [criterion(c) for c in kept["criteria"]]
    if isinstance(kept.get("checks"), Mapping):
        kept["checks"] = {k: v for k, v in kept["checks"].items() if k not in _FINISH_ONLY_CHECKS}
    if isinstance(kept.get("contraindications"), list):
        kept["contraindications"] = [
            {k: v for k, v in c.items() if k not in ("costs", "message", "name")}
            if isinstance(c, Mapping)
            else c
            for c in kept["contraindications"]
        ]
    if data.get("kind") == "reference":
        kept.pop("feedback", None)  # reveal_missing only words the feedback
    return _version(kept)


def rubric_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Rubric:
    """Validate raw rubric data (as read from TOML) and build a :class:`Rubric`.

    Raises :class:`RubricError` listing every problem found.
    """
    chk = _Checker()
    if not isinstance(data, Mapping):
        raise RubricError(source, [("", "a rubric must be a table")])
    chk.unknown(
        data,
        {
            "id",
            "title",
            "kind",
            "description",
            "exercise",
            "feedback",
            "checks",
            "topics",
            "criteria",
            "question",
            "calibration",
            "language",
            "facts",
            "contraindications",
            "intervals",
        },
        "",
    )
    rid = chk.str_(data, "id", "")
    if rid and not _SLUG.match(rid):
        chk.fail("id", f"must be a lower-case slug, got {rid!r}")
    kind = data.get("kind", "plan")
    if kind not in ("plan", "reference"):
        chk.fail("kind", f"must be 'plan' or 'reference', got {kind!r}")
    topics: list[Topic] = []
    for i, t in enumerate(chk.table_list(data, "topics", "")):
        p = f"topics[{i}]."
        chk.unknown(t, {"id", "name", "phrases"}, p)
        tid = chk.str_(t, "id", p)
        topics.append(
            Topic(
                tid,
                chk.str_(t, "name", p, required=False, default=tid),
                chk.str_list(t, "phrases", p),
            )
        )
    topic_ids = {t.id for t in topics}
    raw_criteria = chk.table_list(data, "criteria", "")
    if not raw_criteria:
        chk.fail("criteria", "must list at least one criterion")
    if kind == "reference" and len(raw_criteria) > 1:
        chk.fail("criteria", "a reference rubric has exactly one criterion")
    criteria = [_criterion(chk, c, i, str(kind), topic_ids) for i, c in enumerate(raw_criteria)]
    ids = [c.id for c in criteria]
    for cid in sorted({x for x in ids if ids.count(x) > 1}):
        chk.fail("criteria", f"duplicate criterion id {cid!r}")
    exercise = data.get("exercise", {})
    feedback = data.get("feedback", {})
    checks_raw = data.get("checks", {})
    for name, table in (("exercise", exercise), ("feedback", feedback), ("checks", checks_raw)):
        if not isinstance(table, dict):
            chk.fail(name, "must be a table")
    exercise = exercise if isinstance(exercise, dict) else {}
    feedback = feedback if isinstance(feedback, dict) else {}
    checks_raw = checks_raw if isinstance(checks_raw, dict) else {}
    chk.unknown(exercise, {"text"}, "exercise.")
    chk.unknown(feedback, {"reveal_missing"}, "feedback.")
    chk.unknown(
        checks_raw,
        {
            "min_words",
            "anchors",
            "min_anchors",
            "max_days",
            "generic_cap",
            "uncommitted_cap",
            "contradiction_cost",
            "buried_topics",
            "buried_cap",
        },
        "checks.",
    )
    shares = {}
    for name in ("generic_cap", "uncommitted_cap", "contradiction_cost", "buried_cap"):
        shares[name] = _weights(chk, checks_raw.get(name), f"checks.{name}", {*ids, "default"})
        for k, v in shares[name].items():
            if v > 1:
                chk.fail(f"checks.{name}.{k}", f"must be at most 1, got {v:g}")
    buried = chk.str_list(checks_raw, "buried_topics", "checks.", required=False)
    for topic in buried:
        if topic not in topic_ids:
            chk.fail("checks.buried_topics", f"unknown topic {topic!r}")
    reveal = feedback.get("reveal_missing", False)
    if not isinstance(reveal, bool):
        chk.fail("feedback.reveal_missing", f"must be true or false, got {reveal!r}")
        reveal = False
    checks = Checks(
        min_words=int(chk.num(checks_raw, "min_words", "checks.", default=50, lo=0)),
        anchors=chk.str_list(checks_raw, "anchors", "checks.", required=False),
        min_anchors=int(chk.num(checks_raw, "min_anchors", "checks.", default=0, lo=0)),
        max_days=_weights(chk, checks_raw.get("max_days"), "checks.max_days", set(BUCKETS)),
        generic_cap=shares["generic_cap"],
        uncommitted_cap=shares["uncommitted_cap"],
        contradiction_cost=shares["contradiction_cost"],
        buried_topics=tuple(buried),
        buried_cap=shares["buried_cap"],
    )
    calibration = data.get("calibration")
    if calibration is not None:
        if not isinstance(calibration, dict):
            chk.fail("calibration", "must be a table")
            calibration = None
        elif kind != "reference":
            chk.fail("calibration", "only a reference rubric takes a calibration")
        else:
            try:
                LinearCalibration.from_dict(calibration)
            except ValueError as exc:
                chk.fail("calibration", str(exc))
    language = data.get("language", "en")
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2}", language):
        chk.fail("language", f"must be a two-letter language code such as 'en', got {language!r}")
        language = "en"
    held_out = _held_out_errors(chk, data.get("intervals", {}))
    facts = _facts(chk, chk.table_list(data, "facts", ""))
    contraindications = _contraindications(
        chk, chk.table_list(data, "contraindications", ""), set(ids)
    )
    if chk.problems:
        raise RubricError(source, chk.problems)
    return Rubric(
        id=rid,
        title=chk.str_(data, "title", "", required=False, default=rid),
        kind=str(kind),
        version=_version(data),
        measure_key=_measure_key(data),
        criteria=tuple(criteria),
        topics=tuple(topics),
        checks=checks,
        exercise=chk.str_(exercise, "text", "exercise.", required=False),
        reveal_missing=reveal,
        question=chk.str_(data, "question", "", required=False),
        calibration=calibration,
        language=language,
        facts=facts,
        contraindications=contraindications,
        held_out_errors=held_out,
        source=source,
    )


def _held_out_errors(chk: _Checker, table: Any) -> tuple[float, ...]:
    if not isinstance(table, dict):
        chk.fail("intervals", "must be a table")
        return ()
    chk.unknown(table, {"held_out_errors", "measured"}, "intervals.")
    values = table.get("held_out_errors", [])
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in values
    ):
        chk.fail("intervals.held_out_errors", "must be a list of numbers >= 0")
        return ()
    return tuple(float(v) for v in values)


def reference_rubric(
    references: list[str] | tuple[str, ...],
    *,
    question: str = "",
    points: float = 1.0,
    rubric_id: str = "reference",
    title: str = "",
    calibration: Mapping[str, Any] | None = None,
) -> Rubric:
    """A reference-answer rubric built in code (e.g. one per dataset question)."""
    data: dict[str, Any] = {
        "id": rubric_id,
        "title": title or rubric_id,
        "kind": "reference",
        "criteria": [
            {"id": "answer", "name": "Answer", "points": points, "references": list(references)}
        ],
    }
    if question:
        data["question"] = question
    if calibration is not None:
        data["calibration"] = dict(calibration)
    return rubric_from_dict(data)


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric file (TOML)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RubricError(str(p), [("", f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RubricError(str(p), [("", "is not UTF-8 text")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(str(p), [("", f"invalid TOML: {exc}")]) from exc
    return rubric_from_dict(data, source=str(p))
