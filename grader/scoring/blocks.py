"""Flatten Markdown (and any raw HTML in it) into the lines a reader sees, with their shape.

The plan parser does not care whether a learner wrote `### Critical`, `**Critical**`,
`<h3>Critical</h3>` or a table row: it needs each line's text, whether it starts with a bold
label, how deep in a list it sits and where it came from. Inline Markdown is read from
markdown-it-py's own inline tokens (the parse the renderer uses), so bold, links, images and
code spans mean what they mean on the page.

Only what a reader sees becomes a line. Text a reader never sees goes to ``hidden``: HTML
comments, link titles, image alt text, collapsed ``<details>`` blocks and elements hidden by
their attributes (``hidden``, ``display:none``, ``visibility:hidden``, zero font size or
opacity, white text, far off-screen positions). Script, style and embedded frames are
dropped, never executed or echoed.

Long because: the Markdown token walk and the raw-HTML walk must produce the same lines and
hide the same things, so the rules of what a reader sees stay in one module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["Flat", "Line", "LineKind", "TableBlock", "bound_brackets", "flatten"]

LineKind = Literal["heading", "paragraph", "item", "code", "table"]

_SKIP_TAGS = frozenset({"script", "style", "iframe", "noscript", "template", "object", "embed"})
_BOLD_TAGS = frozenset({"b", "strong"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BREAK_TAGS = frozenset({"p", "div", "br", "table", "section", "article", "blockquote", "hr"})
_VOID_TAGS = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "source", "wbr"}
)
# Marks the start and end of bold text inside a line's raw form.
BOLD_OPEN, BOLD_CLOSE = "\x01", "\x02"

_MD = MarkdownIt("commonmark", {"html": True}).enable("table")
# Blocks first; the inline pass runs only on inline content that has markup in it.
_MD_BLOCKS = (
    MarkdownIt("commonmark", {"html": True}).enable("table").disable(["inline", "text_join"])
)
_INLINE_MARKUP = re.compile(r"[*_\[\]!<>`\\&~]| \n")
# Inline content whose only markup is plain **bold** runs (most labels: "**Issue:** ..."):
# read without the inline parser. Both patterns are linear: a bold run cannot contain "*".
# Also plain: "snake_case", "AUC < 0.8", "->", "A & B", "!" not before "[" (CommonMark reads
# none of them as markup; "~" is not markup in this preset).
_SIMPLE_BOLD = re.compile(
    r"(?:[^*_\[\]!<`\\&]|(?<=[^\W_])_+(?=[^\W_])|<(?=[\s\d=-])|&(?=\s)|!(?!\[)"
    r"|\*\*(?=[^\s*])[^*\n]*[^\s*]\*\*)*"
)
_BOLD_RUN = re.compile(r"\*\*([^*\n]+)\*\*")
# markdown-it's link-label scan is quadratic in a run of "[": past this many in one answer
# they are escaped (read as text), which keeps parsing linear. Real answers have a few.
_MAX_BRACKETS = 512
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|font-size\s*:\s*0(?![.\d]*[1-9])"
    r"|opacity\s*:\s*0(?![.\d]*[1-9])|(?<![-\w])color\s*:\s*(?:#f{3}\b|#f{6}\b|white\b"
    r"|rgba?\(\s*255\s*,\s*255\s*,\s*255|transparent)|(?:left|top|right|text-indent)\s*:\s*-\d{3,}"
    r"|(?:width|height|max-height|max-width)\s*:\s*0(?:px)?\s*(?:;|$)",
    re.I,
)
_WHITE = re.compile(r"^\s*(?:#f{3}|#f{6}|white)\s*$", re.I)


@dataclass(slots=True)
class TableBlock:
    header: list[str]
    rows: list[list[str]]


@dataclass(slots=True)
class Line:
    """One logical line of the answer.

    ``raw`` keeps bold markers so a leading bold label can be told apart from bold in the
    middle of a sentence; ``text`` is the plain text. ``depth`` is the list nesting level
    (0 outside lists), ``level`` the heading level (0 for non-headings) and ``info`` a
    code block's language.
    """

    kind: LineKind
    raw: str
    line_no: int
    depth: int = 0
    level: int = 0
    first_in_item: bool = False
    table: TableBlock | None = None
    from_html: bool = False
    info: str = ""
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(self.raw.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").split())


@dataclass(slots=True)
class Flat:
    """An answer's visible lines and the text it hides from readers."""

    lines: list[Line]
    hidden: list[str]


def _hides(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element's attributes keep its content from a reader."""
    for name, value in attrs:
        if name == "hidden":
            return True
        if name == "style" and value and _HIDING_STYLE.search(value):
            return True
        if tag == "font" and name == "color" and value and _WHITE.match(value):
            return True
        if tag == "font" and name == "size" and value and value.strip() in ("0", "-7"):
            return True
    return False


class _Visibility:
    """Which open elements hide their content, shared by inline and block HTML."""

    def __init__(self, hidden: list[str], depth: int = 0) -> None:
        self.hidden = hidden
        self.stack: list[tuple[str, bool]] = []
        self.carried = depth  # hidden elements opened by an earlier block
        self.hidden_open = 0  # hiding elements in stack
        self.skip = 0

    @property
    def hiding(self) -> bool:
        return self.carried > 0 or self.hidden_open > 0

    def open(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
            return
        if tag in _VOID_TAGS:
            if tag == "img":
                self.hidden.extend(v for k, v in attrs if k in ("alt", "title") and v)
            return
        collapsed = tag == "details" and not any(k == "open" for k, _ in attrs)
        hides = collapsed or _hides(tag, attrs)
        self.stack.append((tag, hides))
        self.hidden_open += hides
        for name, value in attrs:
            if name == "title" and value:
                self.hidden.append(value)

    def close(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                self.hidden_open -= sum(1 for _, h in self.stack[i:] if h)
                del self.stack[i:]
                return
        if tag == "details" or self.carried:
            self.carried = max(0, self.carried - 1)

    def summary_visible(self) -> bool:
        """A collapsed <details> still shows its <summary>."""
        return (
            bool(self.stack)
            and self.stack[-1][0] == "summary"
            and self.carried == 0
            and all(h for t, h in self.stack if t == "details")
            and not any(h for t, h in self.stack if t not in ("details", "summary"))
        )

    def unclosed_hiding(self) -> int:
        return self.carried + self.hidden_open


class _HtmlText(HTMLParser):
    """Turns an HTML fragment into lines, keeping headings, list items, tables and bold labels."""

    def __init__(self, line_no: int, vis: _Visibility) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[Line] = []
        self.vis = vis
        self._buf: list[str] = []
        self._kind: LineKind = "paragraph"
        self._level = 0
        self._depth = 0
        self._line_no = line_no
        self._table: TableBlock | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

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

    def _sink(self) -> list[str]:
        return self._cell if self._cell is not None else self._buf

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.vis.open(tag, attrs)
        if self.vis.skip or self.vis.hiding and not self.vis.summary_visible():
            return
        if tag == "table":
            self._flush()
            self._table = TableBlock([], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in _HEADING_TAGS:
            self._flush()
            self._kind, self._level = "heading", int(tag[1])
        elif tag in ("ul", "ol"):
            self._flush()
            self._depth += 1
        elif tag == "li":
            self._flush()
            self._kind = "item"
        elif tag in _BREAK_TAGS or tag == "summary":
            if self._cell is None:
                self._flush()
        elif tag in _BOLD_TAGS:
            self._sink().append(BOLD_OPEN)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        visible = not (self.vis.skip or self.vis.hiding and not self.vis.summary_visible())
        self.vis.close(tag)
        if not visible:
            return
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            if any(c.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip() for c in self._row):
                if not self._table.header:
                    self._table.header = self._row
                else:
                    self._table.rows.append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self._emit_table()
        elif tag in _HEADING_TAGS or tag in ("li", "summary") or tag in _BREAK_TAGS:
            if self._cell is None:
                self._flush()
        elif tag in ("ul", "ol"):
            self._flush()
            self._depth = max(0, self._depth - 1)
        elif tag in _BOLD_TAGS:
            self._sink().append(BOLD_CLOSE)

    def _emit_table(self) -> None:
        table, self._table = self._table, None
        if table is None or not table.header:
            return
        raw = " | ".join(table.header) + "\n" + "\n".join(" | ".join(r) for r in table.rows)
        self.lines.append(Line("table", raw, self._line_no, depth=self._depth, table=table))

    def handle_data(self, data: str) -> None:
        if self.vis.skip:
            return
        if self.vis.hiding and not self.vis.summary_visible():
            if data.strip():
                self.vis.hidden.append(data)
            return
        self._sink().append(data.replace("\n", " "))

    def handle_comment(self, data: str) -> None:
        if data.strip():
            self.vis.hidden.append(data)

    def close(self) -> None:
        super().close()
        if self._table is not None:
            self._emit_table()
        self._flush()


_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)([^>]*?)(/?)\s*>", re.S)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")


def _attrs(text: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for m in _ATTR.finditer(text):
        value = m.group(2)
        if value is not None and value[:1] in "\"'":
            value = value[1:-1]
        out.append((m.group(1).lower(), value))
    return out


def _inline_raw(children: list[Token], vis: _Visibility) -> list[str]:
    """The visible text of an inline token, split on line breaks, bold kept as markers.

    Link titles, image alt text and anything inside hidden inline HTML go to ``vis.hidden``.
    """
    out: list[str] = []
    hidden = vis.hidden
    for child in children:
        t = child.type
        quiet = vis.skip > 0 or vis.hiding
        if t in ("text", "code_inline"):
            if not vis.skip:
                (hidden if quiet else out).append(child.content)
        elif t in ("softbreak", "hardbreak"):
            out.append("\n")
        elif t == "strong_open":
            out.append(BOLD_OPEN)
        elif t == "strong_close":
            out.append(BOLD_CLOSE)
        elif t == "link_open":
            title = child.attrGet("title")
            if title:
                hidden.append(str(title))
        elif t == "image":
            alt = "".join(c.content for c in child.children or [])
            title = child.attrGet("title")
            hidden.extend(str(v) for v in (alt, title) if v)
        elif t == "html_inline":
            content = child.content
            if content.startswith("<!--"):
                hidden.append(content[4:].removesuffix("-->"))
                continue
            m = _TAG.match(content)
            if m is None:
                continue
            closing, tag, rest, selfclose = m.groups()
            tag = tag.lower()
            if closing:
                vis.close(tag)
                if tag in _BOLD_TAGS and not quiet:
                    out.append(BOLD_CLOSE)
                continue
            vis.open(tag, _attrs(rest))
            if selfclose and tag not in _VOID_TAGS:
                vis.close(tag)
            if tag == "br" and not quiet:
                out.append("\n")
            elif tag in _BOLD_TAGS and not quiet:
                out.append(BOLD_OPEN)
    return "".join(out).split("\n")


def bound_brackets(markdown: str) -> str:
    """markdown with its "[" escaped when it has more than a real answer's few hundred:
    markdown-it's link-label scan is quadratic in a run of them, and escaped they read (and
    render) as the same text."""
    if markdown.count("[") > _MAX_BRACKETS:
        markdown = re.sub(r"(?<!\\)\[", r"\\[", markdown)
    return markdown


def flatten(markdown: str) -> Flat:
    """Parse Markdown with markdown-it-py and return its visible lines in document order."""
    out: list[Line] = []
    hidden: list[str] = []
    vis = _Visibility(hidden)
    env: dict = {}
    tokens = _MD_BLOCKS.parse(bound_brackets(markdown), env)
    depth = 0
    heading_level = 0
    item_first = False
    table: TableBlock | None = None
    row: list[str] | None = None
    table_line = 0
    for tok in tokens:
        t = tok.type
        line_no = tok.map[0] + 1 if tok.map else (out[-1].line_no if out else 1)
        if t == "html_block":
            content = tok.content
            # An unclosed comment hides the rest (as in a browser). Cut it here: Python's
            # HTMLParser rescans an unclosed "<!--" to the end each time (quadratic).
            last_close = content.rfind("-->")
            unclosed = content.find("<!--", last_close + 3 if last_close >= 0 else 0)
            if unclosed >= 0:
                hidden.append(content[unclosed + 4 :])
                content = content[:unclosed]
            parser = _HtmlText(line_no, vis)
            parser.feed(content)
            parser.close()
            for line in parser.lines:
                line.depth += depth
            out.extend(parser.lines)
            # Whatever the block left open and hiding hides the blocks that follow it.
            vis = _Visibility(hidden, vis.unclosed_hiding())
            continue
        if vis.hiding:
            if t == "inline":
                hidden.append(tok.content)
            elif t in ("fence", "code_block"):
                hidden.append(tok.content)
            continue
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
            content = tok.content
            if not _INLINE_MARKUP.search(content):
                parts = content.split("\n")
            elif " \n" not in content and _SIMPLE_BOLD.fullmatch(content):
                parts = _BOLD_RUN.sub(BOLD_OPEN + r"\1" + BOLD_CLOSE, content).split("\n")
            else:
                children: list[Token] = []
                _MD.inline.parse(content, _MD, env, children)
                parts = _inline_raw(children, vis)
            if row is not None:
                row.append(" ".join(p.strip() for p in parts))
                continue
            kind: LineKind = "heading" if heading_level else ("item" if depth else "paragraph")
            for i, raw in enumerate(parts):
                if not raw.replace(BOLD_OPEN, "").replace(BOLD_CLOSE, "").strip():
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
                info = tok.info.strip().split()[0].lower() if tok.info.strip() else ""
                out.append(Line("code", tok.content.rstrip("\n"), line_no, depth=depth, info=info))
    return Flat(out, hidden)
