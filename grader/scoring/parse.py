"""Parse a learner's Markdown improvement plan into its parts.

Learners rarely follow the template, so the parser reads section markers wherever they
appear: headings of any level, bold labels, "Label:" prefixes, list items that name a bucket,
table columns, HTML headings, misspelled or emoji-decorated titles, in any order. What it
cannot find is reported as a warning, never as an exception.

>>> plan = parse_plan("## Critical\\n- Issue: drift off\\n- Timeline: 2 days")
>>> plan.matrix["critical"][0].issue, plan.matrix["critical"][0].timeline
('drift off', '2 days')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .blocks import BOLD_CLOSE, BOLD_OPEN, Line, TableBlock, flatten
from .copying import Exercise
from .formats import ascii_table, code_lines
from .text import Lexicon, clean, fold_accents, stem, tricks, word_count

__all__ = [
    "BUCKETS",
    "FIELDS",
    "STEP1_PARTS",
    "STEP3_PARTS",
    "Item",
    "Plan",
    "parse_plan",
]

BUCKETS = ("critical", "high", "medium", "low")
FIELDS = ("issue", "impact", "solution", "timeline")
STEP1_PARTS = ("top_issues", "first_priority", "more_information", "analysis")
STEP3_PARTS = ("technical_approach", "risk_mitigation", "success_metrics", "rollback_plan", "other")


@dataclass(slots=True)
class Item:
    """One entry of the Issue Priority Matrix."""

    bucket: str
    issue: str = ""
    impact: str = ""
    solution: str = ""
    timeline: str = ""
    line: int = 0

    def text(self) -> str:
        return " ".join(v for v in (self.issue, self.impact, self.solution, self.timeline) if v)

    def to_dict(self) -> dict[str, Any]:
        return {
            "issue": self.issue,
            "impact": self.impact,
            "solution": self.solution,
            "timeline": self.timeline,
            "line": self.line,
        }


@dataclass(slots=True)
class Plan:
    """The parts of an answer. Every string is plain text (HTML reduced to its text)."""

    step1: dict[str, str] = field(default_factory=lambda: dict.fromkeys(STEP1_PARTS, ""))
    matrix: dict[str, list[Item]] = field(default_factory=lambda: {b: [] for b in BUCKETS})
    step3: dict[str, str] = field(default_factory=lambda: dict.fromkeys(STEP3_PARTS, ""))
    other: str = ""
    text: str = ""
    found: dict[str, bool] = field(
        default_factory=lambda: {"step1": False, "matrix": False, "step3": False}
    )
    has_html: bool = False
    placeholders: int = 0
    word_count: int = 0
    copied_words: int = 0
    line_words: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What a reader never sees (comments, link titles, alt text, hidden elements, collapsed
    # <details>), text under an appendix heading, words removed as repeats, and invisible or
    # look-alike characters: none of it is content, all of it is reported.
    hidden: str = ""
    appendix: str = ""
    repeated_words: int = 0
    tricks: int = 0
    diagrams: int = 0  # code blocks read as a diagram or a YAML/JSON document

    def items(self) -> list[Item]:
        return [item for b in BUCKETS for item in self.matrix[b]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (without the flattened text, which the answer itself holds)."""
        return {
            "step1": dict(self.step1),
            "matrix": {b: [i.to_dict() for i in items] for b, items in self.matrix.items()},
            "step3": dict(self.step3),
            "other": self.other,
            "found": dict(self.found),
            "has_html": self.has_html,
            "placeholders": self.placeholders,
            "word_count": self.word_count,
            "copied_words": self.copied_words,
            "hidden_words": word_count(self.hidden),
            "appendix_words": word_count(self.appendix),
            "repeated_words": self.repeated_words,
            "warnings": list(self.warnings),
        }


# --- Recognising section markers -------------------------------------------------------

_NUMBERED_STEP = re.compile(
    r"^(?:step|part|section|phase|etap|etapp?e|schritt|paso|passo|etapa|teil)\s*([123])\b"
)
_BUCKET_WORDS: dict[str, tuple[str, ...]] = {
    "critical": (
        "critical",
        "critic",
        "urgent",
        "immediate",
        "immediately",
        "p0",
        "blocker",
        "now",
        "today",
        "sev1",
        # French, German, Spanish, Italian, Portuguese (accents folded).
        "critique",
        "kritisch",
        "critico",
        "critica",
        "urgente",
        "dringend",
        "sofort",
    ),
    "high": (
        "high",
        "p1",
        "soon",
        "important",
        "sev2",
        "eleve",
        "elevee",
        "haute",
        "hoch",
        "alta",
        "alto",
        "wichtig",
    ),
    "medium": (
        "medium",
        "med",
        "p2",
        "later",
        "moderate",
        "mid",
        "sev3",
        "moyen",
        "moyenne",
        "mittel",
        "mittlere",
        "media",
        "medio",
        "moyennement",
    ),
    "low": (
        "low",
        "p3",
        "backlog",
        "eventually",
        "minor",
        "nice",
        "faible",
        "niedrig",
        "baja",
        "bassa",
    ),
}
_BUCKET_TIME = (
    ("critical", ("immediately", "immediate", "now", "today", "24h", "asap")),
    ("high", ("this week", "week")),
    ("medium", ("this month", "month")),
    ("low", ("quarter", "later", "backlog")),
)
_TOP_PHRASES: dict[str, tuple[str, ...]] = {
    "step1": (
        "system analysis",
        "analysis",
        "analyse",
        "what i found",
        "what's wrong",
        "whats wrong",
        "findings",
        "diagnosis",
        "assessment",
        "health check findings",
        "analyse du systeme",
        "systemanalyse",
        "analisis del sistema",
        "analisi del sistema",
    ),
    "matrix": (
        "issue priority matrix",
        "priority matrix",
        "improvement plan",
        "action plan",
        "prioritized plan",
        "prioritised plan",
        "priority list",
        "matrice de priorite",
        "matrice des priorites",
        "prioritatsmatrix",
        "prioritaetsmatrix",
        "matriz de prioridad",
        "matriz de prioridades",
        "matrice di priorita",
        "plan d'amelioration",
        "verbesserungsplan",
        "plan de mejora",
    ),
    "step3": (
        "implementation strategy",
        "implementation plan",
        "implementation",
        "implementing",
        "how i'd implement",
        "how i would implement",
        "top fix",
        "execution plan",
        "rollout plan",
        "strategie de mise en oeuvre",
        "mise en oeuvre",
        "umsetzungsstrategie",
        "implementierungsstrategie",
        "umsetzung",
        "estrategia de implementacion",
        "strategia di implementazione",
    ),
}
_STEP1_PHRASES: dict[str, tuple[str, ...]] = {
    "top_issues": (
        "top 3",
        "top three",
        "top issues",
        "top 3 issues",
        "main issues",
        "key issues",
        "biggest problems",
        "main problems",
        "three biggest",
        "issues identified",
        "issues found",
        "what are the top",
    ),
    "first_priority": (
        "first",
        "prioritize first",
        "prioritise first",
        "prioritized first",
        "what to fix first",
        "what to prioritize",
        "fix first",
        "first priority",
        "which issue",
        "which one first",
        "top priority",
        "priority first",
        "tackle first",
        "start with",
        "why first",
    ),
    "more_information": (
        "additional information",
        "more information",
        "more info",
        "additional info",
        "need to know",
        "extra info",
        "information needed",
        "info needed",
        "open questions",
        "questions",
        "what else",
        "data to gather",
        "information to gather",
        "need",
    ),
}
_STEP3_PHRASES: dict[str, tuple[str, ...]] = {
    "technical_approach": (
        "technical approach",
        "technical",
        "approach",
        "tech approach",
        "technologies",
        "methods",
        "approche technique",
        "technischer ansatz",
        "enfoque tecnico",
        "approccio tecnico",
    ),
    "risk_mitigation": (
        "risk mitigation",
        "risks",
        "risk",
        "mitigation",
        "what could go wrong",
        "risk management",
        "risques",
        "attenuation des risques",
        "risiken",
        "risikominderung",
        "riesgos",
        "mitigacion de riesgos",
        "rischi",
    ),
    "success_metrics": (
        "success metrics",
        "success metric",
        "success",
        "metrics",
        "kpis",
        "kpi",
        "measuring success",
        "how to measure",
        "metriques de succes",
        "indicateurs de succes",
        "erfolgsmetriken",
        "erfolgskennzahlen",
        "metricas de exito",
        "metriche di successo",
    ),
    "rollback_plan": (
        "rollback plan",
        "rollback",
        "roll back",
        "rollback strategy",
        "revert",
        "fallback plan",
        "back out",
        "plan de retour arriere",
        "retour arriere",
        "rollback-plan",
        "ruckfallplan",
        "plan de reversion",
        "piano di rollback",
    ),
}
_FIELD_PHRASES: dict[str, tuple[str, ...]] = {
    "issue": ("issue", "problem", "description", "probleme", "problema"),
    "impact": (
        "impact",
        "business impact",
        "technical impact",
        "effect",
        "why it matters",
        "auswirkung",
        "impacto",
        "impatto",
    ),
    "solution": (
        "solution",
        "fix",
        "actions",
        "action",
        "specific actions",
        "remedy",
        "losung",
        "massnahme",
        "solucion",
        "soluzione",
        "solucao",
    ),
    "timeline": (
        "timeline",
        "eta",
        "estimated time",
        "time",
        "when",
        "duration",
        "deadline",
        "delai",
        "calendrier",
        "echeance",
        "zeitplan",
        "zeitrahmen",
        "plazo",
        "cronograma",
        "tempistica",
        "prazo",
    ),
}
# Headings under which learners paste material that is not their answer.
_APPENDIX_RE = re.compile(
    r"^(?:appendix|appendices|annex|annexe|anhang|apendice|allegato|lecture notes|"
    r"reading notes|my notes|unrelated|further reading|bibliography|references)\b"
)
_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "priority": ("priority", "bucket", "level", "severity", "urgency", "prio"),
    **_FIELD_PHRASES,
}

_LABEL_RE = re.compile(r"^([^:.!?]{1,60}?)\s*[:\uff1a]\s*(.*)$", re.S)
_BUCKET_PREFIX_RE = re.compile(
    r"^\s*([a-z0-9]+(?:\s+priority)?)\s*(?:\([^)]*\))?\s*[-:\u2013]\s+(.+)$", re.I | re.S
)
_INLINE_FIELD_RE = re.compile(r"\b(issue|impact|solution|timeline)\s*:\s*", re.I)
_NON_WORD = re.compile(r"[^a-z0-9'% ]+")
_MARKER_CHARS = frozenset(":-\u2013\uff1a")
_PLACEHOLDER_RE = re.compile(r"^\s*\[[^\]]{0,60}\]\s*$")


def _phrase_key(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _NON_WORD.sub(" ", fold_accents(text.lower())).split())


def _build_lexicon() -> Lexicon:
    vocab: set[str] = set()
    for table in (_BUCKET_WORDS, _TOP_PHRASES, _STEP1_PHRASES, _STEP3_PHRASES, _TABLE_COLUMNS):
        for phrases in table.values():
            for phrase in phrases:
                vocab.update(_phrase_key(phrase))
    # Stricter than the scoring lexicon: section words are short and alike ("model"/"moder").
    return Lexicon(vocab, min_length=6, cutoff=85)


_LEX = _build_lexicon()


def _compile_table(table: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(key, ' phrase ') pairs, longest phrase first, for substring search on ' words '."""
    pairs = [(key, " " + " ".join(_phrase_key(p)) + " ") for key, ps in table.items() for p in ps]
    return sorted(pairs, key=lambda kp: -len(kp[1].split()))


_TOP_TABLE = _compile_table(_TOP_PHRASES)
_STEP1_TABLE = _compile_table(_STEP1_PHRASES)
_STEP3_TABLE = _compile_table(_STEP3_PHRASES)
_FIELD_TABLE = _compile_table(_FIELD_PHRASES)
_COLUMN_TABLE = _compile_table(_TABLE_COLUMNS)
_BUCKET_STEMS = {b: frozenset(stem(n) for n in names) for b, names in _BUCKET_WORDS.items()}
_BUCKET_TIME_KEYS = [
    (b, [" " + " ".join(_phrase_key(c)) + " " for c in cues]) for b, cues in _BUCKET_TIME
]


@lru_cache(maxsize=8192)
def _norm_words(text: str) -> tuple[str, ...]:
    """Lower-case, stemmed, typo-corrected words of a label (emoji and punctuation gone)."""
    words = _NON_WORD.sub(" ", fold_accents(clean(text).lower())).split()
    return tuple(_LEX.canonical(stem(w)) for w in words)


def _match_table(words: tuple[str, ...], table: list[tuple[str, str]]) -> str | None:
    """The key whose longest phrase occurs in words."""
    joined = " " + " ".join(words) + " "
    for key, phrase in table:
        if phrase in joined:
            return key
    return None


def _contains(words: tuple[str, ...], phrase: str) -> bool:
    return phrase in " " + " ".join(words) + " "


def _bucket_of(words: tuple[str, ...]) -> str | None:
    """A bucket named by a short label: 'Critical (Fix Immediately)', 'P1', 'Soon (this week)'."""
    if not words or len(words) > 8:
        return None
    for bucket, stems in _BUCKET_STEMS.items():
        if words[0] in stems:
            return bucket
    if "prioriti" in words or "fix" in words or len(words) <= 3:
        for bucket, cues in _BUCKET_TIME_KEYS:
            if any(_contains(words, c) for c in cues):
                return bucket
    return None


@dataclass(slots=True)
class _Marker:
    top: str | None = None  # step1 / matrix / step3
    sub: str | None = None  # a step1/step3 part
    bucket: str | None = None
    field: str | None = None
    body: str = ""


def _classify_heading(text: str) -> _Marker | None:
    """What a heading (or a heading-like label) announces, or None for an ordinary title."""
    words = _norm_words(text)
    if not words:
        return None
    m = _NUMBERED_STEP.match(" ".join(words))
    step = m.group(1) if m else None
    if step is None:
        bucket = _bucket_of(words)
        if bucket:
            return _Marker(top="matrix", bucket=bucket)
    top = {"1": "step1", "2": "matrix", "3": "step3"}.get(step or "") or _match_table(
        words, _TOP_TABLE
    )
    sub3 = _match_table(words, _STEP3_TABLE)
    sub1 = _match_table(words, _STEP1_TABLE)
    if top == "step3" or (top is None and sub3 is not None and len(words) <= 6):
        return _Marker(
            top="step3", sub=sub3 if sub3 != "technical_approach" or top is None else None
        )
    if top == "step1" or (top is None and sub1 is not None and len(words) <= 10):
        return _Marker(top="step1", sub=sub1)
    if top is not None:
        return _Marker(top=top)
    return None


def _classify_label(label: str, top: str | None, in_bucket: bool) -> _Marker | None:
    """A leading label ('**Risk:**', 'Timeline:', 'Top 3:') inside a section."""
    words = _norm_words(label)
    if not words or len(words) > 10:
        return None
    if in_bucket and len(words) <= 3:
        fld = _match_table(words, _FIELD_TABLE)
        if fld is not None:
            return _Marker(top="matrix", field=fld)
    marker = _classify_heading(label)
    if marker is not None and marker.top == "step3" and top not in (None, "step3"):
        # "**Business KPIs.**" in a list of questions is not the start of Step 3; only an
        # unmistakable label such as "Rollback plan:" or "Step 3" is.
        strong = _NUMBERED_STEP.match(" ".join(words)) or any(
            phrase.count(" ") > 2 and _contains(words, phrase)
            for _, phrase in _STEP3_TABLE + [kp for kp in _TOP_TABLE if kp[0] == "step3"]
        )
        if not strong:
            return None
    return marker


def _split_label(line: Line) -> tuple[str, str] | None:
    """Split a line into (label, body) when it starts with a bold run or 'Label:'."""
    raw = line.raw.strip()
    raw = (
        re.sub(r"^[\W_]*?(?=" + BOLD_OPEN + ")", "", raw, count=1) if BOLD_OPEN in raw[:6] else raw
    )
    if raw.startswith(BOLD_OPEN) and BOLD_CLOSE in raw:
        label, _, rest = raw[1:].partition(BOLD_CLOSE)
        label_text = " ".join(label.split())
        rest = rest.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip()
        if label_text.endswith(":"):
            label_text = label_text[:-1]
        rest = rest.lstrip(":\uff1a-\u2013 ").strip()
        m = _LABEL_RE.match(label_text)
        if m and not rest:  # "**Issue: something**"
            return m.group(1), m.group(2)
        return label_text, rest
    m = _LABEL_RE.match(line.text)
    if m and len(m.group(1).split()) <= 6:
        return m.group(1), m.group(2)
    return None


def _looks_like_title(line: Line) -> bool:
    """A standalone line that could be an unmarked heading ('Issue Priority Matrix').

    Plain list items only count when they ask or announce ('What are the top 3 issues?',
    'More info needed:'), so a bullet reading 'Rollback' stays content.
    """
    text = line.text.rstrip()
    words = text.split()
    if not words:
        return False
    if text.endswith(("?", ":")):
        return len(words) <= 12
    return line.kind == "paragraph" and len(words) <= 7 and not re.search(r"[.!,;]$", text)


# --- Building the plan ---------------------------------------------------------------


class _Builder:
    def __init__(self, exercise: Exercise | None) -> None:
        self.exercise = exercise
        self.content: list[str] = []
        self.plan = Plan()
        self.top: str | None = None
        self.sub: str | None = None
        self.bucket: str | None = None
        self.item: Item | None = None
        self.field: str | None = None
        self.item_depth = 0
        self.top_level = 0
        self.other: list[str] = []
        self.appendix_done: list[str] = []
        self.appendix: list[str] | None = None
        self.appendix_level = 0
        self.step1: dict[str, list[str]] = {k: [] for k in STEP1_PARTS}
        self.step3: dict[str, list[str]] = {k: [] for k in STEP3_PARTS}

    # routing -------------------------------------------------------------------------
    def enter(self, marker: _Marker) -> None:
        if marker.top is not None and marker.top != self.top:
            self.top, self.sub = marker.top, None
            self.bucket, self.item, self.field = None, None, None
        if marker.top is not None:
            self.plan.found[marker.top] = True
        if marker.sub is not None:
            self.sub = marker.sub
        if marker.bucket is not None:
            self.bucket, self.item, self.field = marker.bucket, None, None

    def copied(self, text: str) -> bool:
        """Whether text comes from the exercise itself; such text is counted, not kept."""
        if self.exercise and self.exercise.is_copied(text):
            self.plan.copied_words += word_count(text)
            return True
        self.content.append(text)
        return False

    def add_text(self, text: str, line: Line) -> None:
        text = text.strip()
        if not text or self.copied(text):
            return
        if self.top == "matrix" and self.bucket is not None:
            self.add_to_item(text, line)
        elif self.top == "step1":
            self.step1[self.sub or "analysis"].append(text)
        elif self.top == "step3":
            self.step3[self.sub or "other"].append(text)
        else:
            self.other.append(text)

    def new_item(self, line: Line) -> Item:
        assert self.bucket is not None
        self.item = Item(bucket=self.bucket, line=line.line_no)
        self.item_depth = line.depth
        self.plan.matrix[self.bucket].append(self.item)
        self.field = None
        return self.item

    def set_field(self, fld: str, value: str, line: Line) -> None:
        item = self.item
        if item is None or fld == "issue" and item.issue or getattr(item, fld) and fld != "issue":
            item = self.new_item(line)
        if _PLACEHOLDER_RE.match(value):
            self.plan.placeholders += 1
            value = ""
        elif value.strip() and self.copied(value):
            value = ""
        setattr(item, fld, value.strip())
        self.field = fld

    def add_to_item(self, text: str, line: Line) -> None:
        fields = list(_INLINE_FIELD_RE.finditer(text))
        if fields:
            head = text[: fields[0].start()].strip(" .-")
            if head and fields[0].group(1).lower() != "issue":
                self.new_item(line).issue = head
            elif head and self.item is not None and self.field:
                self._append(head)
            for i, m in enumerate(fields):
                end = fields[i + 1].start() if i + 1 < len(fields) else len(text)
                self.set_field(m.group(1).lower(), text[m.end() : end].strip(" .;"), line)
            return
        if self.item is None or (
            line.kind == "item"
            and line.first_in_item
            and line.depth <= self.item_depth
            and self.field is not None
        ):
            self.new_item(line).issue = text
            self.field = "issue"
            return
        self._append(text)

    def _append(self, text: str) -> None:
        assert self.item is not None
        fld = self.field or "issue"
        current = getattr(self.item, fld)
        setattr(self.item, fld, f"{current} {text}".strip())

    # tables --------------------------------------------------------------------------
    def add_table(self, table: TableBlock, line: Line) -> None:
        columns: dict[str, int] = {}
        for i, head in enumerate(table.header):
            key = _match_table(_norm_words(head), _COLUMN_TABLE)
            if key is not None and key not in columns:
                columns[key] = i
        in_bucket = self.top == "matrix" and self.bucket is not None
        if "issue" not in columns or ("priority" not in columns and not in_bucket):
            self.add_text(line.text, line)
            return
        self.plan.found["matrix"] = True
        for row in table.rows:
            bucket = self.bucket
            if "priority" in columns and columns["priority"] < len(row):
                bucket = _bucket_of(_norm_words(row[columns["priority"]])) or bucket
            if bucket is None:
                continue
            item = Item(bucket=bucket, line=line.line_no)
            for fld in FIELDS:
                idx = columns.get(fld)
                if idx is not None and idx < len(row):
                    value = row[idx].replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip()
                    if _PLACEHOLDER_RE.match(value):
                        self.plan.placeholders += 1
                        value = ""
                    elif value and self.copied(value):
                        value = ""
                    setattr(item, fld, value)
            self.plan.matrix[bucket].append(item)
            self.content.append(item.text())
        self.top, self.bucket, self.item = "matrix", None, None

    # lines ---------------------------------------------------------------------------
    def feed(self, line: Line) -> None:
        if self.appendix is not None:
            marker = _classify_heading(line.text) if line.kind == "heading" else None
            if marker is None or line.level > self.appendix_level:
                self.appendix.append(line.text)
                return
            self.appendix_level = 0
            self.appendix_done.append("\n".join(self.appendix))
            self.appendix = None
        if line.kind == "heading" and _APPENDIX_RE.match(" ".join(_norm_words(line.text))):
            self.appendix, self.appendix_level = [], line.level
            self.top, self.sub, self.bucket, self.item, self.top_level = None, None, None, None, 0
            return
        if line.kind == "code":
            grid = ascii_table(line.raw) if "+" in line.raw or "\u253c" in line.raw else None
            if grid is not None:
                self.plan.diagrams += 1
                self.add_table(grid, line)
                return
            found = code_lines(line.info, line.raw)
            if found is not None:
                self.plan.diagrams += 1
                for i, text in enumerate(found):
                    self.feed(Line("paragraph", text, line.line_no + i, depth=line.depth))
                return
        if line.kind == "table" and line.table is not None:
            self.add_table(line.table, line)
            return
        if line.kind == "code":
            kept, copied = self.exercise.copied_part(line.raw) if self.exercise else (line.raw, 0)
            self.plan.copied_words += copied
            self.add_text(" ".join(kept.split()), line)
            return
        if line.kind in ("paragraph", "item"):
            n_words = len(line.text.split())
            self.plan.line_words.append(n_words)
            head = line.text[:60]
            if (
                n_words > 7
                and BOLD_OPEN not in line.raw[:8]
                and not line.text.endswith("?")
                and not _MARKER_CHARS.intersection(head)
            ):
                # A plain sentence: no label, bucket prefix or question can start it.
                self.add_text(line.text, line)
                return
        if line.kind == "heading":
            marker = _classify_heading(line.text)
            if marker is not None:
                if marker.top != self.top or self.top_level == 0:
                    self.top_level = line.level
                self.enter(marker)
            elif self.top is not None and line.level <= self.top_level:
                # An unrelated heading at the same level ends the section ("## Conclusion").
                self.top, self.sub, self.bucket, self.item, self.top_level = (
                    None,
                    None,
                    None,
                    None,
                    0,
                )
            return
        split = _split_label(line)
        if split is not None:
            label, body = split
            marker = _classify_label(label, self.top, self.top == "matrix" and bool(self.bucket))
            if marker is not None and marker.field is not None:
                self.set_field(marker.field, body, line)
                return
            if marker is not None:
                self.enter(marker)
                self.add_text(body, line)
                return
        if self.top == "matrix" or line.kind != "code":
            bm = _BUCKET_PREFIX_RE.match(line.text)
            if bm and len(line.text.split()) > 2:
                bucket = _bucket_of(_norm_words(bm.group(1)))
                if bucket is not None and (self.top in (None, "matrix") or bucket):
                    self.enter(_Marker(top="matrix", bucket=bucket))
                    self.item = None
                    self.add_to_item(bm.group(2), line)
                    return
        if _looks_like_title(line) or line.text.rstrip().endswith("?"):
            marker = _classify_heading(line.text.rstrip("?: "))
            if marker is not None and (marker.bucket is None or _looks_like_title(line)):
                self.enter(marker)
                return
        self.add_text(line.text, line)

    def finish(self, text: str, lines: list[Line]) -> Plan:
        plan = self.plan
        plan.step1 = {k: "\n".join(v) for k, v in self.step1.items()}
        plan.step3 = {k: "\n".join(v) for k, v in self.step3.items()}
        plan.other = "\n".join(self.other)
        if self.appendix is not None:
            self.appendix_done.append("\n".join(self.appendix))
        plan.appendix = "\n".join(self.appendix_done)
        plan.text = "\n".join(self.content)
        plan.has_html = any(line.from_html for line in lines) or bool(_HTML_TAG.search(text))
        plan.word_count = word_count(plan.text)
        for bucket in BUCKETS:
            plan.matrix[bucket] = [i for i in plan.matrix[bucket] if i.text()]
        plan.found["matrix"] = plan.found["matrix"] and bool(plan.items()) or bool(plan.items())
        plan.found["step1"] = plan.found["step1"] and any(plan.step1.values())
        plan.found["step3"] = plan.found["step3"] and any(plan.step3.values())
        plan.warnings = _warnings(plan)
        return plan


def _warnings(plan: Plan) -> list[str]:
    out: list[str] = []
    if not plan.text.strip():
        out.append("the answer has no content of its own")
        if plan.placeholders:
            out.append(f"{plan.placeholders} template placeholders left unfilled")
        return out
    if not plan.found["step1"]:
        out.append("no Step 1 analysis found")
    if not plan.found["matrix"]:
        out.append("no priority matrix found")
    if not plan.found["step3"]:
        out.append("no Step 3 implementation strategy found")
    items = plan.items()
    for fld in FIELDS[1:]:
        missing = sum(1 for i in items if not getattr(i, fld))
        if missing:
            noun = "item" if missing == 1 else "items"
            out.append(f"{fld.capitalize()} missing in {missing} {noun}")
    if plan.found["matrix"]:
        empty = [b.capitalize() for b in BUCKETS[:3] if not plan.matrix[b]]
        if empty:
            out.append("no items in " + ", ".join(empty))
    if plan.found["step3"]:
        for part in STEP3_PARTS[:4]:
            if not plan.step3[part]:
                out.append(f"Step 3 has no {part.replace('_', ' ')}")
    if plan.placeholders:
        out.append(f"{plan.placeholders} template placeholders left unfilled")
    if plan.has_html:
        out.append("raw HTML found: only its text was read")
    return out


# A tag ends at the next ">" before any other "<": linear on runs of "<a".
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n")
_REPEAT_MIN_WORDS = 6


def _drop_repeats(text: str) -> tuple[str, int]:
    """The text with every repeated block (paragraph, list, table) after its first copy left
    out, and the number of words left out: saying a thing twice counts once."""
    blocks = _BLOCK_SPLIT.split(text)
    if len(blocks) < 2:
        return text, 0
    seen: set[str] = set()
    kept: list[str] = []
    dropped = 0
    for block in blocks:
        key = " ".join(block.split()).lower()
        if key in seen and (words := word_count(key)) >= _REPEAT_MIN_WORDS:
            dropped += words
            continue
        seen.add(key)
        kept.append(block)
    return ("\n\n".join(kept), dropped) if dropped else (text, 0)


def parse_plan(markdown: str, *, exercise: Exercise | None = None) -> Plan:
    """Parse an improvement plan written in Markdown (any shape) into a :class:`Plan`.

    Text copied from ``exercise`` still marks sections but is left out of the plan's content.
    """
    text = clean(markdown)
    text, repeated = _drop_repeats(text)
    flat = flatten(text)
    builder = _Builder(exercise if exercise is not None and exercise.overlaps(text) else None)
    for line in flat.lines:
        builder.feed(line)
    plan = builder.finish(text, flat.lines)
    plan.hidden = "\n".join(" ".join(h.split()) for h in flat.hidden if h.strip())
    plan.repeated_words = repeated
    plan.tricks = tricks(markdown)
    return plan
