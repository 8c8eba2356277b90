"""Section markers of an improvement plan: which words name Step 1, the matrix and its
buckets, the Step 3 parts, an item's fields and a table's columns, in the languages and
spellings learners use, and how a heading, a bold label or a "Label:" line is classified.

Long because: most of it is vocabulary (the phrase tables for every marker, about 280
lines of data); the classifiers below them read only those tables, so the two stay
together. :mod:`grader.scoring.parse` builds the plan from what these recognise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .blocks import BOLD_CLOSE, BOLD_OPEN, Line
from .text import Lexicon, clean, fold_accents, stem

__all__ = [
    "APPENDIX_RE",
    "BUCKET_PREFIX_RE",
    "COLUMN_TABLE",
    "INLINE_FIELD_RE",
    "MARKER_CHARS",
    "PLACEHOLDER_RE",
    "Marker",
    "bucket_of",
    "classify_heading",
    "classify_label",
    "looks_like_title",
    "match_table",
    "norm_words",
    "split_label",
]

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
APPENDIX_RE = re.compile(
    r"^(?:appendix|appendices|annex|annexe|anhang|apendice|allegato|lecture notes|"
    r"reading notes|my notes|unrelated|further reading|bibliography|references)\b"
)
_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "priority": ("priority", "bucket", "level", "severity", "urgency", "prio"),
    **_FIELD_PHRASES,
}

_LABEL_RE = re.compile(r"^([^:.!?]{1,60}?)\s*[:\uff1a]\s*(.*)$", re.S)
BUCKET_PREFIX_RE = re.compile(
    r"^\s*([a-z0-9]+(?:\s+priority)?)\s*(?:\([^)]*\))?\s*[-:\u2013]\s+(.+)$", re.I | re.S
)
INLINE_FIELD_RE = re.compile(r"\b(issue|impact|solution|timeline)\s*:\s*", re.I)
_NON_WORD = re.compile(r"[^a-z0-9'% ]+")
MARKER_CHARS = frozenset(":-\u2013\uff1a")
PLACEHOLDER_RE = re.compile(r"^\s*\[[^\]]{0,60}\]\s*$")


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
COLUMN_TABLE = _compile_table(_TABLE_COLUMNS)
_BUCKET_STEMS = {b: frozenset(stem(n) for n in names) for b, names in _BUCKET_WORDS.items()}
_BUCKET_TIME_KEYS = [
    (b, [" " + " ".join(_phrase_key(c)) + " " for c in cues]) for b, cues in _BUCKET_TIME
]


@lru_cache(maxsize=8192)
def norm_words(text: str) -> tuple[str, ...]:
    """Lower-case, stemmed, typo-corrected words of a label (emoji and punctuation gone)."""
    words = _NON_WORD.sub(" ", fold_accents(clean(text).lower())).split()
    return tuple(_LEX.canonical(stem(w)) for w in words)


def match_table(words: tuple[str, ...], table: list[tuple[str, str]]) -> str | None:
    """The key whose longest phrase occurs in words."""
    joined = " " + " ".join(words) + " "
    for key, phrase in table:
        if phrase in joined:
            return key
    return None


def _contains(words: tuple[str, ...], phrase: str) -> bool:
    return phrase in " " + " ".join(words) + " "


def bucket_of(words: tuple[str, ...]) -> str | None:
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
class Marker:
    top: str | None = None  # step1 / matrix / step3
    sub: str | None = None  # a step1/step3 part
    bucket: str | None = None
    field: str | None = None
    body: str = ""


def classify_heading(text: str) -> Marker | None:
    """What a heading (or a heading-like label) announces, or None for an ordinary title."""
    words = norm_words(text)
    if not words:
        return None
    m = _NUMBERED_STEP.match(" ".join(words))
    step = m.group(1) if m else None
    if step is None:
        bucket = bucket_of(words)
        if bucket:
            return Marker(top="matrix", bucket=bucket)
    top = {"1": "step1", "2": "matrix", "3": "step3"}.get(step or "") or match_table(
        words, _TOP_TABLE
    )
    sub3 = match_table(words, _STEP3_TABLE)
    sub1 = match_table(words, _STEP1_TABLE)
    if top == "step3" or (top is None and sub3 is not None and len(words) <= 6):
        return Marker(
            top="step3", sub=sub3 if sub3 != "technical_approach" or top is None else None
        )
    if top == "step1" or (top is None and sub1 is not None and len(words) <= 10):
        return Marker(top="step1", sub=sub1)
    if top is not None:
        return Marker(top=top)
    return None


def classify_label(label: str, top: str | None, in_bucket: bool) -> Marker | None:
    """A leading label ('**Risk:**', 'Timeline:', 'Top 3:') inside a section."""
    words = norm_words(label)
    if not words or len(words) > 10:
        return None
    if in_bucket and len(words) <= 3:
        fld = match_table(words, _FIELD_TABLE)
        if fld is not None:
            return Marker(top="matrix", field=fld)
    marker = classify_heading(label)
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


def split_label(line: Line) -> tuple[str, str] | None:
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


def looks_like_title(line: Line) -> bool:
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
