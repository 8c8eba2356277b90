"""Bounded work: grading reads at most READ_LIMIT characters and rendering formats at most
FORMAT_LIMIT, so no answer within the size limit can hold a worker or a web process.

These tests check the bounds structurally (what each stage is given), never by timing;
``bench/hostile.py`` prints the times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import grader.scoring.grade as grade_module
from grader.scoring import grade_text, load_rubric
from grader.scoring.confidence import RELEASE_LEVEL
from grader.scoring.grade import READ_LIMIT, readable_part
from grader.scoring.rubric import reference_rubric
from grader.service import render as render_module
from grader.service.render import FORMAT_LIMIT, Quote, render_markdown

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
STRONG = (ROOT / "tests" / "data" / "health-check" / "sub-010.md").read_text()
MAX_BYTES = 256 * 1024
# The shapes bench/hostile.py found slowest before the limits (delimiter runs, nesting,
# long lines, tables, headings).
SHAPES = ["[", "![", "**x ", "__x ", "<a", "<", "  - x\n", "# x\n", "|a|\n|-|\n", "a", "\\"]


def _fill(shape: str, size: int = MAX_BYTES) -> str:
    return (shape * (size // len(shape) + 1))[:size]


def test_readable_part_cuts_at_a_line_end_near_the_limit():
    text = ("word " * 20 + "\n") * 2000
    head, unread = readable_part(text)
    assert len(head) <= READ_LIMIT and head.endswith("\n") and len(head) > READ_LIMIT - 200
    assert unread == len(text) - len(head) and text.startswith(head)
    # One long line: cut at the limit itself.
    head, unread = readable_part("x" * (READ_LIMIT + 10))
    assert len(head) == READ_LIMIT and unread == 10
    assert readable_part("short") == ("short", 0)


@pytest.mark.parametrize("shape", SHAPES)
def test_grading_reads_no_more_than_the_limit_of_any_shape(shape, monkeypatch):
    seen: list[int] = []
    real = grade_module.parse_plan

    def spy(text: str, **kwargs):
        seen.append(len(text))
        return real(text, **kwargs)

    monkeypatch.setattr(grade_module, "parse_plan", spy)
    grade = grade_text(_fill(shape), RUBRIC)
    assert seen and max(seen) <= READ_LIMIT
    assert "unread" in {r["code"] for r in grade.review_reasons}
    assert grade.confidence < RELEASE_LEVEL


@pytest.mark.parametrize("shape", SHAPES)
def test_rendering_formats_no_more_than_the_limit_of_any_shape(shape, monkeypatch):
    seen: list[int] = []
    real = render_module._MD.parse

    def spy(src: str, env=None):
        seen.append(len(src))
        return real(src, env)

    monkeypatch.setattr(render_module._MD, "parse", spy)
    out = str(render_markdown(_fill(shape)).html)
    # bound_brackets may escape each "[" past the first 512 (one backslash each).
    assert seen and max(seen) <= 2 * FORMAT_LIMIT
    assert "shown as plain text" in out


def test_text_past_the_read_limit_earns_nothing_and_asks_for_review():
    alone = grade_text(STRONG, RUBRIC)
    assert not any(r["code"] == "unread" for r in alone.review_reasons)
    filler = "This line is filler that says nothing about the system at all.\n"
    buried = grade_text(filler * (READ_LIMIT // len(filler) + 1) + STRONG, RUBRIC)
    assert buried.total < alone.total / 2
    reason = next(r for r in buried.review_reasons if r["code"] == "unread")
    assert f"{len(STRONG):,}"[:2] in reason["message"] and buried.confidence < RELEASE_LEVEL
    # The reference kind reads the same part.
    ref = reference_rubric(["TCP is connection-oriented; UDP is connectionless."])
    long_ref = grade_text("UDP is connectionless. " * 2000, ref)
    assert [r["code"] for r in long_ref.review_reasons] == ["unread"]
    assert long_ref.confidence < RELEASE_LEVEL


def test_the_unformatted_rest_is_escaped_and_still_highlighted():
    head = "Some **bold** text about the model.\n" * (FORMAT_LIMIT // 36 + 10)
    tail = "then <script>alert(1)</script> and **drift detection** was disabled\n"
    rendered = render_markdown(head + tail, [Quote(0, "Drift", "drift detection** was disabled")])
    out = str(rendered.html)
    assert "<script" not in out and "&lt;script&gt;" in out
    assert out.count("<strong>") < FORMAT_LIMIT // 36 + 10  # the rest is not formatted
    assert '<mark class="ev ev-0" id="ev-0-0"' in out and rendered.anchors == {0: "ev-0-0"}
    # Short answers are formatted whole, with no note.
    assert "plain text" not in str(render_markdown(STRONG).html)
