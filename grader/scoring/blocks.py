"""Flatten Markdown (and any raw HTML in it) into a list of text lines with their shape.

The plan parser does not care whether a learner wrote `### Critical`, `**Critical**`,
`<h3>Critical</h3>` or a table row: it needs each line's text, whether it starts with a bold
label, how deep in a list it sits and where it came from. Raw HTML is reduced to its text;
script, style and embedded frames are dropped, never executed or echoed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

from markdown_it import MarkdownIt

__all__ = ["Line", "LineKind", "TableBlock", "flatten"]

LineKind = Literal["heading", "paragraph", "item", "code", "table"]

_SKIP_TAGS = frozenset({"script", "style", "iframe", "noscript", "template", "object", "embed"})
_BOLD_TAGS = frozenset({"b", "strong"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BREAK_TAGS = frozenset({"p", "div", "br", "tr", "table", "section", "article", "blockquote"})
# Marks the start and end of bold text inside a line's raw form.
BOLD_OPEN, BOLD_CLOSE = "\x01", "\x02"

# Block structure only: the inline forms that matter are read by _inline_raw, which is far
# cheaper than markdown-it's full inline pass.
_MD = MarkdownIt("commonmark", {"html": True}).enable("table").disable(["inline", "text_join"])


@dataclass(slots=True)
class TableBlock:
    header: list[str]
    rows: list[list[str]]


@dataclass(slots=True)
class Line:
    """One logical line of the answer.

    ``raw`` keeps bold markers so a leading bold label can be told apart from bold in the
    middle of a sentence; ``text`` is the plain text. ``depth`` is the list nesting level
    (0 outside lists) and ``level`` the heading level (0 for non-headings).
    """

    kind: LineKind
    raw: str
    line_no: int
    depth: int = 0
    level: int = 0
    first_in_item: bool = False
    table: TableBlock | None = None
    from_html: bool = False
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(self.raw.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").split())


class _HtmlText(HTMLParser):
    """Turns an HTML fragment into lines, keeping headings, list items and bold labels."""

    def __init__(self, line_no: int) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[Line] = []
        self._buf: list[str] = []
        self._kind: LineKind = "paragraph"
        self._level = 0
        self._depth = 0
        self._skip = 0
        self._line_no = line_no

    def _flush(self) -> None:
        raw = "".join(self._buf)
        if raw.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip():
            self.lines.append(
                Line(
                    self._kind,
                    raw.strip(),
                    self._line_no,
                    depth=self._depth,
                    level=self._level,
                    first_in_item=self._kind == "item",
                    from_html=True,
                )
            )
        self._buf = []
        self._kind, self._level = "paragraph", 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _HEADING_TAGS:
            self._flush()
            self._kind, self._level = "heading", int(tag[1])
        elif tag in ("ul", "ol"):
            self._flush()
            self._depth += 1
        elif tag == "li":
            self._flush()
            self._kind = "item"
        elif tag in _BREAK_TAGS:
            self._flush()
        elif tag in _BOLD_TAGS and not self._skip:
            self._buf.append(BOLD_OPEN)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADING_TAGS or tag == "li" or tag in _BREAK_TAGS:
            self._flush()
        elif tag in ("ul", "ol"):
            self._flush()
            self._depth = max(0, self._depth - 1)
        elif tag in _BOLD_TAGS and not self._skip:
            self._buf.append(BOLD_CLOSE)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buf.append(data.replace("\n", " "))

    def close(self) -> None:
        super().close()
        self._flush()


def _html_lines(html: str, line_no: int, depth: int) -> list[Line]:
    parser = _HtmlText(line_no)
    parser.feed(html)
    parser.close()
    for line in parser.lines:
        line.depth += depth
    return parser.lines


_SKIP_BLOCK_RE = re.compile(
    r"<(script|style|iframe|noscript|template|object|embed)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.I | re.S,
)
_BOLD_TAG_RE = re.compile(r"<(/?)(?:b|strong)\b[^>]*>", re.I)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<!--.*?-->", re.S)
_BOLD_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CODE_RE = re.compile(r"(`+)(.+?)\1", re.S)
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _inline_raw(content: str) -> list[str]:
    """Render inline Markdown to raw lines (split on line breaks), bold kept as markers.

    markdown-it-py finds the blocks; the few inline forms grading cares about are read here
    directly: bold (a label's marker), code spans, links (their text), escapes, entities and
    inline HTML (bold and line breaks kept, scripts dropped with their content, other tags
    removed). Nothing here is ever rendered, so no HTML survives into the text.
    """
    text = content
    if "<" in text:
        text = _SKIP_BLOCK_RE.sub("", text)
        text = _BOLD_TAG_RE.sub(lambda m: BOLD_CLOSE if m.group(1) else BOLD_OPEN, text)
        text = _BR_RE.sub("\n", text)
        text = _TAG_RE.sub("", text)
    if "`" in text:
        text = _CODE_RE.sub(lambda m: m.group(2).strip(), text)
    if "*" in text or "__" in text:
        text = _BOLD_RE.sub(lambda m: BOLD_OPEN + m.group(2) + BOLD_CLOSE, text)
    if "[" in text:
        text = _LINK_RE.sub(r"\1", text)
    if "\\" in text:
        text = _ESCAPE_RE.sub(r"\1", text)
    if "&" in text:
        text = html.unescape(text)
    return text.split("\n")


def flatten(markdown: str) -> list[Line]:
    """Parse Markdown with markdown-it-py and return its lines in document order."""
    out: list[Line] = []
    tokens = _MD.parse(markdown)
    depth = 0
    heading_level = 0
    item_first = False
    table: TableBlock | None = None
    row: list[str] | None = None
    table_line = 0
    for tok in tokens:
        t = tok.type
        line_no = tok.map[0] + 1 if tok.map else (out[-1].line_no if out else 1)
        if t in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif t in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif t == "list_item_open":
            item_first = True
        elif t == "heading_open":
            heading_level = int(tok.tag[1])
        elif t == "heading_close":
            heading_level = 0
        elif t == "table_open":
            table, table_line = TableBlock([], []), line_no
        elif t == "tr_open":
            row = []
        elif t == "tr_close" and table is not None and row is not None:
            if not table.header:
                table.header = row
            else:
                table.rows.append(row)
            row = None
        elif t == "table_close" and table is not None:
            raw = " | ".join(table.header) + "\n" + "\n".join(" | ".join(r) for r in table.rows)
            out.append(Line("table", raw, table_line, depth=depth, table=table))
            table = None
        elif t == "inline":
            parts = _inline_raw(tok.content)
            if row is not None:
                row.append(" ".join(p.strip() for p in parts))
                continue
            kind: LineKind = "heading" if heading_level else ("item" if depth else "paragraph")
            for i, raw in enumerate(parts):
                if not raw.strip():
                    continue
                out.append(
                    Line(
                        kind,
                        raw.strip(),
                        line_no + i,
                        depth=depth,
                        level=heading_level,
                        first_in_item=item_first and i == 0,
                    )
                )
            item_first = False
        elif t in ("fence", "code_block"):
            if tok.content.strip():
                out.append(Line("code", tok.content.rstrip("\n"), line_no, depth=depth))
        elif t == "html_block":
            out.extend(_html_lines(tok.content, line_no, depth))
    return out
