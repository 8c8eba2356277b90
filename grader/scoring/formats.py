"""Read answers written inside code blocks: a matrix as YAML or JSON, Mermaid or ASCII diagrams.

Learners put real content in code blocks: the priority matrix as a YAML or JSON document,
the plan as a Mermaid flowchart, boxes drawn in ASCII. :func:`code_lines` turns such a block
into the plain lines a reader takes from it ("critical:", "Issue: ...", a node's label), so
the plan parser reads them like any other lines. Program code is left alone (None).

>>> code_lines("yaml", "critical:\\n  - issue: drift off\\n    timeline: 2 days")
['critical:', 'issue: drift off', 'timeline: 2 days']
>>> code_lines("mermaid", "graph TD\\n A[Fix the pipeline] --> B(Enable drift checks)")
['Fix the pipeline', 'Enable drift checks']
"""

from __future__ import annotations

import json
import re
from typing import Any

from .blocks import TableBlock

__all__ = ["ascii_table", "code_lines"]

# Structured blocks larger than this are read as plain text: parsing stays cheap and bounded.
_MAX_STRUCTURED = 32_768
_MAX_DEPTH = 8
_YAML_KEY = re.compile(r"^\s*[-\w ]{2,40}:\s*(?:\S.*)?$", re.M)
_YAML_REFS = re.compile(r"(?:^|[\s\[{,])[&*!][\w!]")
_MERMAID_LABEL = re.compile(
    r"\[\[?\(?/?\"?([^\[\]\"]+?)\"?/?\)?\]?\]|\(\(?\[?\"?([^()\"]+?)\"?\]?\)?\)|\{\{?\"?([^{}\"]+?)\"?\}?\}"
    r"|>\"?([^\]\"]+?)\"?\]|\|\"?([^|\"]+?)\"?\||^\s*subgraph\s+(.+)$|:\s*([^:\n]{3,})$",
    re.M,
)
_MERMAID_KINDS = re.compile(
    r"^\s*(?:graph|flowchart|sequenceDiagram|classDiagram|stateDiagram|gantt|mindmap|"
    r"quadrantChart|timeline|journey|erDiagram|pie|block-beta)\b",
    re.M,
)
_BOX = re.compile(r"[\u2500-\u257f\u2580-\u259f|+]")
_RULE = re.compile(r"^[\s\u2500-\u257f\u2580-\u259f|+\-=_*#~.:<>v^]*$")
_ARROW = re.compile(r"\s*(?:-{2,}>|={2,}>|<-{2,}|\u2192|\u2193|\u2191|\u2190|\u25bc|\u25b6)\s*")
_CELL_SPLIT = re.compile(r"\s*[\u2502\u2503\u2551|]\s*")
_WORDS = re.compile(r"[^\W\d_]{2,}")
_PROGRAM = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|SELECT |select |for |if |return |#!|\$ |"
    r"[a-z_][\w.]*\s*=|[a-z_][\w.]*\(|}|\)|//|/\*)",
    re.M,
)


def _walk(value: Any, out: list[str], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict | list):
                out.append(f"{key}:")
                _walk(inner, out, depth + 1)
            elif inner is not None and str(inner).strip():
                out.append(f"{key}: {inner}")
    elif isinstance(value, list):
        for inner in value:
            if isinstance(inner, dict | list):
                _walk(inner, out, depth + 1)
            elif inner is not None and str(inner).strip():
                out.append(f"- {inner}")
    elif value is not None and str(value).strip():
        out.append(str(value))


_MATRIX_KEYS = re.compile(
    r"^(?:critical|high|medium|low|p[0-3]|urgent|priority|issue_priority_matrix|matrix|"
    r"issues?|buckets?)\b",
    re.I,
)


def _keys(value: Any, depth: int = 0) -> list[str]:
    if depth > 2:
        return []
    if isinstance(value, dict):
        return [str(k) for k in value] + [k for v in value.values() for k in _keys(v, depth + 1)]
    if isinstance(value, list):
        return [k for v in value[:20] for k in _keys(v, depth + 1)]
    return []


def _matrix_like(data: Any) -> bool:
    """A priority matrix names buckets (or issues) among its keys; a config file does not."""
    return any(_MATRIX_KEYS.match(k) for k in _keys(data))


# A key naming a bucket or an issue somewhere in the text: without one, nothing is parsed.
_MATRIX_KEY_TEXT = re.compile(
    r"""^[\s\-{\[,"']*(?:critical|high|medium|low|p[0-3]|urgent|priority|matrix|issues?)\b""",
    re.I | re.M,
)


def _structured(info: str, content: str) -> list[str] | None:
    if len(content) > _MAX_STRUCTURED or not _MATRIX_KEY_TEXT.search(content):
        return None
    data: Any = None
    stripped = content.lstrip()
    if info == "json" or stripped[:1] in "{[":
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            data = None
    if data is None and (info in ("yaml", "yml") or len(_YAML_KEY.findall(content)) >= 3):
        if _YAML_REFS.search(content):  # anchors, aliases and tags: not a learner's matrix
            return None
        try:
            import yaml

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(content, Loader=loader)  # noqa: S506 - a safe loader
        except Exception:  # any malformed YAML is simply read as text
            return None
    if not isinstance(data, dict | list) or not _matrix_like(data):
        return None
    out: list[str] = []
    _walk(data, out)
    return out or None


def _mermaid(content: str) -> list[str]:
    out: list[str] = []
    for line in content.splitlines():
        if line.strip().startswith("%%") or _MERMAID_KINDS.match(line):
            continue
        for m in _MERMAID_LABEL.finditer(line):
            label = next((g for g in m.groups() if g), "")
            for part in re.split(r"<br\s*/?>|\\n", label):
                part = " ".join(part.split())
                if len(_WORDS.findall(part)) >= 1:
                    out.append(part)
    return out


def _ascii(content: str) -> list[str]:
    out: list[str] = []
    for line in content.splitlines():
        if _RULE.match(line):
            continue
        line = _ARROW.sub(" ", line)
        for cell in _CELL_SPLIT.split(line):
            cell = _BOX.sub(" ", cell)
            cell = " ".join(cell.split())
            if _WORDS.search(cell):
                out.append(cell)
    return out


def code_lines(info: str, content: str) -> list[str] | None:
    """The lines a reader takes from a code block, or None when it holds program code."""
    info = info.lower()
    if info == "mermaid" or (not info and _MERMAID_KINDS.search(content)):
        return _mermaid(content)
    if info in ("yaml", "yml", "json", "") and (found := _structured(info, content)):
        return found
    if info in ("", "text", "txt", "ascii", "plaintext", "plain", "diagram", "markdown", "md"):
        if info in ("markdown", "md"):
            return [line for line in content.splitlines() if line.strip()]
        if _BOX.search(content) and not _PROGRAM.search(content):
            return _ascii(content)
    return None


# Box-drawing characters read as the ASCII ones a grid table is drawn with.
_BOX_TO_ASCII = str.maketrans(
    {
        **dict.fromkeys("\u2500\u2501\u2550", "-"),
        **dict.fromkeys("\u2502\u2503\u2551", "|"),
        **dict.fromkeys(
            "\u253c\u254b\u256c\u251c\u2524\u252c\u2534\u250c\u2510\u2514\u2518"
            "\u2554\u2557\u255a\u255d\u2560\u2563\u2566\u2569",
            "+",
        ),
    }
)
_MAX_GRID_COLUMNS = 12
_GRID_RULE = re.compile(r"^\s*\+[-=:+]+\+\s*$")
_GRID_ROW = re.compile(r"^\s*\|.*\|\s*$")


def ascii_table(content: str) -> TableBlock | None:
    """A grid table drawn in ASCII (or box-drawing) characters, as header and rows, with
    each cell's text joined across the lines of its row; None when content is not one.

    >>> grid = ["+----+-----+", "| Pr | Iss |", "+====+=====+", "| P0 | dq  |", "|    | 0.7 |"]
    >>> t = ascii_table("\\n".join([*grid, "+----+-----+"]))
    >>> t.header, t.rows
    (['Pr', 'Iss'], [['P0', 'dq 0.7']])
    """
    lines = content.translate(_BOX_TO_ASCII).splitlines()
    rules = [line for line in lines if _GRID_RULE.match(line)]
    if len(rules) < 2 or len(content) > _MAX_STRUCTURED * 4:
        return None
    first = rules[0]
    cuts = [i for i, ch in enumerate(first) if ch == "+"]
    # A matrix has a handful of columns; bounding them keeps the reading linear.
    if not 3 <= len(cuts) <= _MAX_GRID_COLUMNS + 1:
        return None
    groups: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in lines:
        if _GRID_RULE.match(line):
            if current is not None:
                groups.append(current)
            current = None
        elif _GRID_ROW.match(line):
            if current is None:
                current = [[] for _ in cuts[:-1]]
            for k, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
                cell = line[a + 1 : b].strip(" |")
                if cell:
                    current[k].append(cell)
        elif line.strip():
            return None
    if current is not None:
        groups.append(current)
    table = [[" ".join(cell) for cell in group] for group in groups]
    if len(table) < 2:
        return None
    return TableBlock(table[0], table[1:])
