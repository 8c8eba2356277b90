"""Parse a learner's Markdown improvement plan into its parts.

Learners rarely follow the template, so the parser reads section markers wherever they
appear: headings of any level, bold labels, "Label:" prefixes, list items that name a bucket,
table columns, HTML headings, misspelled or emoji-decorated titles, in any order. What it
cannot find is reported as a warning, never as an exception.

Long because: the builder is one state machine over the answer's lines (which step,
bucket, item and field it is in), and its transitions read and reset each other's state;
the markers it recognises live in :mod:`grader.scoring.markers`, the input shapes in
:mod:`grader.scoring.blocks` and :mod:`grader.scoring.formats`.

>>> plan = parse_plan("## Critical\\n- Issue: drift off\\n- Timeline: 2 days")
>>> plan.matrix["critical"][0].issue, plan.matrix["critical"][0].timeline
('drift off', '2 days')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .blocks import BOLD_CLOSE, BOLD_OPEN, Line, TableBlock, flatten
from .copying import Exercise
from .formats import ascii_table, code_lines
from .markers import (
    APPENDIX_RE,
    BUCKET_PREFIX_RE,
    COLUMN_TABLE,
    INLINE_FIELD_RE,
    MARKER_CHARS,
    PLACEHOLDER_RE,
    Marker,
    bucket_of,
    classify_heading,
    classify_label,
    looks_like_title,
    match_table,
    norm_words,
    split_label,
)
from .text import clean, tricks, word_count

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
    def enter(self, marker: Marker) -> None:
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
        if PLACEHOLDER_RE.match(value):
            self.plan.placeholders += 1
            value = ""
        elif value.strip() and self.copied(value):
            value = ""
        setattr(item, fld, value.strip())
        self.field = fld

    def add_to_item(self, text: str, line: Line) -> None:
        fields = list(INLINE_FIELD_RE.finditer(text))
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
            key = match_table(norm_words(head), COLUMN_TABLE)
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
                bucket = bucket_of(norm_words(row[columns["priority"]])) or bucket
            if bucket is None:
                continue
            item = Item(bucket=bucket, line=line.line_no)
            for fld in FIELDS:
                idx = columns.get(fld)
                if idx is not None and idx < len(row):
                    value = row[idx].replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip()
                    if PLACEHOLDER_RE.match(value):
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
            marker = classify_heading(line.text) if line.kind == "heading" else None
            if marker is None or line.level > self.appendix_level:
                self.appendix.append(line.text)
                return
            self.appendix_level = 0
            self.appendix_done.append("\n".join(self.appendix))
            self.appendix = None
        if line.kind == "heading" and APPENDIX_RE.match(" ".join(norm_words(line.text))):
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
                and not MARKER_CHARS.intersection(head)
            ):
                # A plain sentence: no label, bucket prefix or question can start it.
                self.add_text(line.text, line)
                return
        if line.kind == "heading":
            marker = classify_heading(line.text)
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
        split = split_label(line)
        if split is not None:
            label, body = split
            marker = classify_label(label, self.top, self.top == "matrix" and bool(self.bucket))
            if marker is not None and marker.field is not None:
                self.set_field(marker.field, body, line)
                return
            if marker is not None:
                self.enter(marker)
                self.add_text(body, line)
                return
        if self.top == "matrix" or line.kind != "code":
            bm = BUCKET_PREFIX_RE.match(line.text)
            if bm and len(line.text.split()) > 2:
                bucket = bucket_of(norm_words(bm.group(1)))
                if bucket is not None and (self.top in (None, "matrix") or bucket):
                    self.enter(Marker(top="matrix", bucket=bucket))
                    self.item = None
                    self.add_to_item(bm.group(2), line)
                    return
        if looks_like_title(line) or line.text.rstrip().endswith("?"):
            marker = classify_heading(line.text.rstrip("?: "))
            if marker is not None and (marker.bucket is None or looks_like_title(line)):
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
