"""Learners' Markdown as safe HTML, with the grader's evidence quotes highlighted.

Two layers, so one mistake is not enough for script to run: markdown-it-py's ``js-default``
preset (raw HTML off, so ``<script>`` is escaped as text, and ``javascript:`` links are not
linked), then nh3 with a short allow-list of tags, only http/https/mailto URLs and no
relative ones. Highlights are added while rendering, inside text that markdown-it escapes,
so a quote can never inject markup. Images become plain links: an answer must not make the
reviewer's browser fetch anything.

Long because: finding the grader's quotes (whole, cut by ellipses or in pieces) works on
the renderer's own tokens, so it lives beside the rendering it marks.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markupsafe import Markup

from ..scoring.blocks import bound_brackets
from ..scoring.grade import readable_part

SAFE_SCHEMES = ("http://", "https://", "mailto:")
#: Markdown is formatted for this many characters (three times a long answer); the rest is
#: shown as plain text, so that rendering any answer within the size limit stays well under
#: half a second whatever its shape (markdown-it-py costs about 10 us per token).
FORMAT_LIMIT = 16 * 1024
_PLAIN_NOTE = (
    "<p><em>The rest of this answer is shown as plain text: grader formats the first "
    f"{FORMAT_LIMIT // 1024} KB.</em></p>\n"
)
MAX_CRITERIA_COLOURS = 32

_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "mark", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
_ALIGN = {"align-left", "align-right", "align-center"}
_MARK_CLASSES = {"ev"} | {f"ev-{i}" for i in range(MAX_CRITERIA_COLOURS)}


def _safe_attribute(tag: str, name: str, value: str) -> str | None:
    """Drop any link that is not http(s)/mailto, and any id not made by the highlighter."""
    if name == "href" and not value.lower().startswith(SAFE_SCHEMES):
        return None
    if name == "id" and not re.fullmatch(r"ev-\d+-\d+", value):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "mark": {"id", "title"}, "ol": {"start"}},
    attribute_filter=_safe_attribute,
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="nofollow noopener noreferrer",
    allowed_classes={"mark": _MARK_CLASSES, "th": _ALIGN, "td": _ALIGN},
)


def sanitize(html: str) -> str:
    """nh3 with this module's allow-list (also useful on its own in tests)."""
    return _CLEANER.clean(html)


# --- highlighting -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:
    """One piece of evidence to highlight: which criterion, what concept, the quoted text."""

    criterion: int
    label: str
    text: str


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    criterion: int
    label: str
    anchor: str | None = None


@dataclass(slots=True)
class Rendered:
    """The safe HTML, and for each quote (by position) the anchor id of its first mark."""

    html: Markup
    anchors: dict[int, str] = field(default_factory=dict)


_NON_SPACE = re.compile(r"\S+")
_SPACE, _LONG_SPACE = re.compile(r"\s+"), re.compile(r"\s\s+")
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.)\s*")
_MIN_PIECE = 12


class _Text:
    """The answer's visible text as one string, with where each text token's content sits.

    Blocks are joined with a space; matching ignores case and runs of whitespace, as the
    grader's quotes are taken from plain text with the Markdown syntax removed.
    """

    def __init__(self, tokens: Sequence[Token]):
        parts: list[str] = []
        self.segments: list[tuple[Token, int]] = []  # (text/code_inline token, start)
        pos = 0
        for tok in tokens:
            if tok.type != "inline" or not tok.children:
                continue
            for child in tok.children:
                if child.type in ("text", "code_inline"):
                    self.segments.append((child, pos))
                    parts.append(child.content)
                    pos += len(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
                    pos += 1
                elif child.type == "image":
                    # Rendered as a link, not highlighted; keep the offsets honest.
                    parts.append("\x00")
                    pos += 1
            parts.append(" ")
            pos += 1
        raw = "".join(parts)
        # A normalised copy (lower case, single spaces) and where its characters were: as
        # (start in the copy, shift to the raw text) at each place the shift changes (only
        # after a run of whitespace longer than one), built in C (a list per character
        # was most of a page's rendering time).
        low = raw.lower()
        self._starts: list[int] = [0]
        self._shifts: list[int] = [0]
        self._index: list[int] | None = None
        if len(low) != len(raw):  # lower() changed the length (rare): map every character
            self.norm, self._index = _normalise_each(raw)
        else:
            lead = len(low) - len(low.lstrip())
            self._shifts[0] = lead
            for m in _LONG_SPACE.finditer(low, lead):
                start, end = m.span()
                shift = self._shifts[-1]
                self._starts.append(start - shift + 1)
                self._shifts.append(shift + end - start - 1)
            self.norm = _SPACE.sub(" ", low[lead:])
        # Piecewise matching (below) is quadratic in a quote's words: cap the searches per
        # answer so a long answer with unmatchable quotes still renders at once.
        self.piece_budget = 3000

    def find(self, needle: str) -> tuple[int, int] | None:
        """The (start, end) in the raw text of the first occurrence of needle, if any."""
        key = " ".join(needle.lower().split())
        if not key:
            return None
        at = self.norm.find(key)
        if at < 0:
            return None
        return self._raw(at), self._raw(at + len(key) - 1) + 1

    def _raw(self, at: int) -> int:
        """Where the normalised copy's character ``at`` was in the raw text."""
        if self._index is not None:
            return self._index[at]
        return at + self._shifts[bisect_right(self._starts, at) - 1]


def _normalise_each(raw: str) -> tuple[str, list[int]]:
    """The normalised copy and, for each of its characters, where it was, run by run (for
    text whose lower case is longer: the dotted capital I)."""
    norm: list[str] = []
    index: list[int] = []
    end = -1
    for m in _NON_SPACE.finditer(raw):
        if end >= 0:
            norm.append(" ")
            index.append(end)
        start, end = m.span()
        # The run lowered at once (a final sigma lowers as it does in a quote); each
        # character's own lower case says how many of the copy's characters it became.
        norm.append(m.group().lower())
        for i, ch in enumerate(m.group(), start):
            index.extend([i] * len(ch.lower()))
    if 0 <= end < len(raw):
        norm.append(" ")
        index.append(end)
    return "".join(norm), index


def _locate(text: _Text, quote: str) -> list[tuple[int, int]]:
    """Where a quote appears. Quotes may be cut with an ellipsis, or join two fields of a
    matrix item; what is not found whole is matched as long runs of words."""
    found: list[tuple[int, int]] = []
    for fragment in _ELLIPSIS.split(quote.strip()):
        fragment = fragment.strip()
        if len(fragment) < 3:
            continue
        whole = text.find(fragment)
        if whole is not None:
            found.append(whole)
            continue
        words = fragment.split()
        i = 0
        while i < len(words):
            best: tuple[int, tuple[int, int]] | None = None
            for j in range(len(words), i, -1):
                piece = " ".join(words[i:j])
                if len(piece) < _MIN_PIECE or text.piece_budget <= 0:
                    break
                text.piece_budget -= 1
                hit = text.find(piece)
                if hit is not None:
                    best = (j, hit)
                    break
            if best is None:
                i += 1
                continue
            i = best[0]
            found.append(best[1])
    return found


def _pieces(content: str, start: int, spans: Iterable[_Span]) -> list[tuple[str, list[_Span]]]:
    """content split where highlights begin and end, each piece with the spans covering it."""
    end = start + len(content)
    inside = [s for s in spans if s.start < end and s.end > start]
    if not inside:
        return [(content, [])]
    cuts = {start, end}
    for s in inside:
        cuts.add(min(max(s.start, start), end))
        cuts.add(min(max(s.end, start), end))
    bounds = sorted(cuts)
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        if a == b:
            continue
        out.append((content[a - start : b - start], [s for s in inside if s.start <= a < s.end]))
    return out


def _mark(text: str, spans: list[_Span], alias: dict[str, str]) -> str:
    """One highlighted piece. It carries the id of the first quote that starts here; other
    quotes starting here too link to that id (``alias``)."""
    if not spans:
        return escapeHtml(text)
    crits = sorted({s.criterion % MAX_CRITERIA_COLOURS for s in spans})
    classes = " ".join(["ev", *(f"ev-{c}" for c in crits)])
    title = "; ".join(dict.fromkeys(s.label for s in spans))
    chosen = None
    for s in spans:
        if s.anchor and s.anchor not in alias:
            chosen = chosen or s.anchor
            alias[s.anchor] = chosen
    anchor = f' id="{chosen}"' if chosen else ""
    return f'<mark class="{classes}"{anchor} title="{escapeHtml(title)}">{escapeHtml(text)}</mark>'


# --- rendering ----------------------------------------------------------------------------


def _markdown() -> MarkdownIt:
    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})

    def text(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        start = env.get("starts", {}).get(id(tok))
        if start is None:
            return escapeHtml(tok.content)
        return "".join(
            _mark(t, s, env["alias"]) for t, s in _pieces(tok.content, start, env["spans"])
        )

    def code_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        return f"<code>{text(self, tokens, idx, options, env)}</code>"

    def image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        alt = escapeHtml(self.renderInlineAsText(tok.children or [], options, env) or "image")
        src = str(tok.attrGet("src") or "")
        if not src.lower().startswith(SAFE_SCHEMES):
            return f"[image: {alt}]"
        return f'<a href="{escapeHtml(src)}">[image: {alt}]</a>'

    def cell(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        # Alignment as a class: the CSP allows no inline style attributes.
        tok = tokens[idx]
        style = str(tok.attrGet("style") or "")
        align = style.removeprefix("text-align:") if style.startswith("text-align:") else ""
        attrs = f' class="align-{align}"' if align in ("left", "right", "center") else ""
        return f"<{tok.tag}{attrs}>"

    def link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        # A link to anything but http(s)/mailto (relative ones included) stays plain text.
        href = str(tokens[idx].attrGet("href") or "")
        safe = href.lower().startswith(SAFE_SCHEMES)
        env.setdefault("links", []).append(safe)
        return self.renderToken(tokens, idx, options, env) if safe else ""

    def link_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        stack = env.get("links") or [True]
        return self.renderToken(tokens, idx, options, env) if stack.pop() else ""

    md.add_render_rule("text", text)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    md.add_render_rule("code_inline", code_inline)
    md.add_render_rule("image", image)
    md.add_render_rule("th_open", cell)
    md.add_render_rule("td_open", cell)
    return md


_MD = _markdown()


def _plain_tokens(text: str) -> list[Token]:
    """The unformatted rest of an answer as a ``<pre>`` of escaped text (still highlighted)."""
    note = Token("html_block", "", 0, content=_PLAIN_NOTE)
    inline = Token("inline", "", 0, content=text, children=[Token("text", "", 0, content=text)])
    return [
        note,
        Token("plain_open", "pre", 1, block=True),
        inline,
        Token("plain_close", "pre", -1, block=True),
    ]


def evidence_quotes(criteria: Sequence[dict[str, Any]]) -> tuple[list[Quote], list[list[int]]]:
    """Quotes to highlight, and per criterion the positions of its quotes in that list."""
    quotes: list[Quote] = []
    positions: list[list[int]] = []
    for i, c in enumerate(criteria):
        mine = []
        for e in c.get("evidence") or []:
            if isinstance(e, dict) and isinstance(e.get("quote"), str) and e["quote"].strip():
                mine.append(len(quotes))
                quotes.append(Quote(i, f"{c['name']}: {e.get('concept', '')}", e["quote"]))
            else:
                mine.append(-1)
        positions.append(mine)
    return quotes, positions


def render_for_grade(source: str, criteria: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The columns a grade row keeps its rendered answer in (``answer_html`` with the
    grade's evidence marked, ``answer_anchors``): rendered once, by the worker, never per view.
    """
    rendered = render_markdown(source, evidence_quotes(criteria)[0])
    return {
        "answer_html": str(rendered.html),
        "answer_anchors": {str(n): a for n, a in rendered.anchors.items()},
    }


def stored_render(html: str, anchors: dict[str, str] | None, *, marks: bool) -> Rendered:
    """A grade row's rendered answer; without ``marks`` (a learner before release) the
    evidence highlights are taken out. A learner's own text can never contain a literal
    ``<mark`` (markdown-it escapes it), so every tag removed here is one the highlighter made.
    """
    if marks:
        return Rendered(Markup(html), {int(n): a for n, a in (anchors or {}).items()})
    return Rendered(Markup(_MARK_TAG.sub("", html)), {})


@lru_cache(maxsize=64)
def rendered_task(source: str) -> Markup:
    """An assignment's task (the rubric's exercise) as safe HTML, by the answers' rules."""
    return render_markdown(source).html


def plain_answer(source: str) -> Rendered:
    """An answer not rendered yet (not graded, or grading failed) as escaped text."""
    return Rendered(Markup(f'<pre class="plain">{escapeHtml(source)}</pre>'))


_MARK_TAG = re.compile(r"</?mark\b[^>]*>")


def render_markdown(source: str, quotes: Sequence[Quote] = ()) -> Rendered:
    """Safe HTML for an answer; each quote found in it is wrapped in ``<mark>``.

    The first mark of quote number i gets the id ``ev-<criterion>-<i>`` (returned in
    ``anchors``) so the criterion's evidence list can link to it.
    """
    head, unformatted = readable_part(source, FORMAT_LIMIT)
    tokens = _MD.parse(bound_brackets(head))
    formatted = len(tokens)
    if unformatted:
        tokens.extend(_plain_tokens(source[len(head) :]))
    env: dict[str, Any] = {"spans": [], "starts": {}, "alias": {}}
    anchors: dict[int, str] = {}
    if quotes:
        text = _Text(tokens)
        env["starts"] = {id(tok): start for tok, start in text.segments}
        spans: list[_Span] = []
        located: dict[str, list[tuple[int, int]]] = {}
        for n, q in enumerate(quotes):
            if q.text not in located:
                located[q.text] = _locate(text, q.text)
            for k, (a, b) in enumerate(located[q.text]):
                anchor = f"ev-{q.criterion}-{n}" if k == 0 else None
                if anchor:
                    anchors[n] = anchor
                spans.append(_Span(a, b, q.criterion, q.label, anchor))
        env["spans"] = spans
    clean = sanitize(_MD.renderer.render(tokens[:formatted], _MD.options, env))
    if unformatted:
        # Escaped text and our own marks only: safe as it is, so nh3 need not reparse it.
        clean += _MD.renderer.render(tokens[formatted:], _MD.options, env)
    # Quotes that start where another does share its mark; an anchor is only kept if its
    # mark survived rendering.
    resolved = {n: env["alias"].get(a, a) for n, a in anchors.items()}
    anchors = {n: a for n, a in resolved.items() if f'id="{a}"' in clean}
    return Rendered(Markup(clean), anchors)
