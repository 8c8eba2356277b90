"""Rendering learners' Markdown safely, and highlighting the grader's evidence in it."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.service.render import Quote, render_markdown, sanitize
from grader.service.web.charts import histogram

from .conftest import HEALTH


def html(source: str, quotes=()) -> str:
    return str(render_markdown(source, quotes).html)


def test_raw_html_is_shown_as_text():
    out = html("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)> <b onclick=x>b</b>")
    assert "<script" not in out and "<img" not in out and "<b" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(2)&gt;" in out


def test_only_http_https_and_mailto_links_are_links():
    out = html(
        "[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](&#106;avascript:alert(1)) "
        "[d](data:text/html,x) [e](vbscript:x) [f](/logout) [g](#top) [h](file:///etc/passwd) "
        "[ok1](http://example.com/) [ok2](https://example.com/?a=1&b=2) [ok3](mailto:a@b.test) "
        "<javascript:alert(1)> <https://example.org/auto>"
    )
    hrefs = re.findall(r'href="([^"]*)"', out)
    assert hrefs == [
        "http://example.com/",
        "https://example.com/?a=1&amp;b=2",
        "mailto:a@b.test",
        "https://example.org/auto",
    ]
    assert out.count("<a ") == 4
    assert 'rel="nofollow noopener noreferrer"' in out
    assert "<a>" not in out and "<a rel" not in out  # refused links are plain text
    assert " f " in out and " g " in out


def test_images_become_links_and_are_never_loaded():
    out = html("![chart](https://example.com/c.png) ![x](javascript:alert(1)) ![y](/local.png)")
    assert "<img" not in out
    assert '<a href="https://example.com/c.png" rel="nofollow noopener noreferrer">' in out
    assert "[image: chart]" in out and "[image: y]" in out
    assert "![x](javascript:alert(1))" in out  # not even parsed as an image


def test_tables_keep_alignment_as_classes_not_styles():
    out = html("| a | b |\n|--:|:-:|\n| 1 | 2 |")
    assert 'class="align-right"' in out and 'class="align-center"' in out
    assert "style=" not in out


def test_sanitize_is_a_second_line_of_defence():
    dirty = (
        '<p onclick="x" style="color:red" class="c" id="x">p</p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">j</a><a href="/rel">r</a><a href="https://e.test">h</a>'
        '<iframe src="https://e.test"></iframe><img src="https://e.test/i.png">'
        '<mark class="ev ev-1 evil" id="ev-1-2" title="t">m</mark><mark id="main">n</mark>'
        "<style>body{}</style><svg><circle/></svg>"
    )
    out = sanitize(dirty)
    assert "onclick" not in out and "style" not in out and "<script" not in out
    assert "alert" not in out and "<iframe" not in out and "<img" not in out
    assert "<svg" not in out and "body{}" not in out
    assert "javascript" not in out and 'href="/rel"' not in out
    assert '<a href="https://e.test" rel="nofollow noopener noreferrer">h</a>' in out
    assert '<mark class="ev ev-1" id="ev-1-2" title="t">m</mark>' in out
    assert "<mark>n</mark>" in out  # ids other than the highlighter's are dropped
    assert "<p>p</p>" in out


def test_quotes_are_highlighted_across_inline_markup_and_ellipses():
    source = "1. **Drift detection is disabled** - the drift score is 0.12 which shows change."
    r = render_markdown(
        source,
        [
            Quote(0, "Problem: drift", "Drift detection is disabled - the drift score is 0.12…"),
            Quote(1, "Other: change", "WHICH SHOWS   CHANGE"),
            Quote(2, "Never", "not in the answer at all"),
        ],
    )
    out = str(r.html)
    assert '<strong><mark class="ev ev-0" id="ev-0-0"' in out
    assert "0.12</mark>" in out
    assert (
        '<mark class="ev ev-1" id="ev-1-1" title="Other: change">which shows change</mark>' in out
    )
    assert r.anchors == {0: "ev-0-0", 1: "ev-1-1"}


@given(st.text(alphabet="ab D\n\t\u00a0\u2028\u0130\u00df\u03a3.", max_size=40))
@settings(max_examples=300, deadline=None)
def test_the_normalised_text_maps_back_to_every_character(text):
    """Found in the lower-cased, single-spaced copy, a passage maps back to where it is in
    the answer: after long runs of whitespace (any kind), leading space, letters whose lower
    case is longer (the dotted capital I) and a final sigma beside them."""
    from markdown_it.token import Token

    from grader.service.render import _Text

    inline, child = Token("inline", "", 0), Token("text", "", 0)
    child.content, inline.children = text, [child]
    found = _Text([inline])
    raw = text + " "
    assert found.norm == (" ".join(raw.lower().split()) + " " if raw.strip() else "")
    words = found.norm.split()
    # Each word, and each pair of words (a key across a run of whitespace), as a quote.
    for key in {*words, *(" ".join(p) for p in zip(words, words[1:], strict=False))}:
        start, end = found.find(key) or (0, 0)
        assert " ".join(raw[start:end].lower().split()) == key


def test_a_quote_joining_two_fields_is_found_in_pieces():
    source = "- Issue: data quality problems in the pipeline\n- Impact: the model is badly wrong"
    r = render_markdown(
        source, [Quote(0, "c", "data quality problems in the pipeline the model is badly wrong")]
    )
    out = str(r.html)
    assert out.count("<mark") == 2 and r.anchors == {0: "ev-0-0"}


def test_quotes_that_look_like_html_stay_text():
    source = "Use `<script>` tags? No: a < b & c > d."
    r = render_markdown(source, [Quote(0, 'x"><script>alert(1)</script>', "a < b & c > d")])
    out = str(r.html)
    assert "<script" not in out and "&lt;script&gt;" in out
    assert '<mark class="ev ev-0" id="ev-0-0" title="x&quot;&gt;&lt;script&gt;' in out
    assert ">a &lt; b &amp; c &gt; d</mark>" in out


def test_overlapping_quotes_share_their_marks():
    r = render_markdown(
        "alpha beta gamma delta", [Quote(0, "one", "alpha beta gamma"), Quote(1, "two", "beta")]
    )
    out = str(r.html)
    assert '<mark class="ev ev-0 ev-1" id="ev-1-1" title="one; two">beta</mark>' in out
    assert set(r.anchors) == {0, 1}
    same = render_markdown("alpha beta", [Quote(0, "a", "alpha beta"), Quote(1, "b", "alpha beta")])
    assert same.anchors == {0: "ev-0-0", 1: "ev-0-0"}


def test_unmatchable_quotes_in_a_long_answer_do_not_stall_rendering():
    source = "Some words of an answer that goes on. " * 4000
    quotes = [Quote(0, "c", " ".join(f"w{i}x{k} answer" for i in range(30))) for k in range(60)]
    r = render_markdown(source, quotes)
    assert r.anchors == {} and "<mark" not in str(r.html)


def test_every_quote_of_the_sample_answers_is_found():
    from grader.scoring import grade_text, load_rubric

    from .conftest import RUBRIC_PATH

    rubric = load_rubric(RUBRIC_PATH)
    for path in sorted(HEALTH.glob("sub-*.md"))[:8]:
        text = path.read_text()
        grade = grade_text(text, rubric).to_dict()
        quotes = [
            Quote(i, e["concept"], e["quote"])
            for i, c in enumerate(grade["criteria"])
            for e in c["evidence"]
        ]
        r = render_markdown(text, quotes)
        assert len(r.anchors) == len(quotes), path.name


HOSTILE = st.sampled_from(
    [
        "<script>", "</script>", "<img src=x onerror=alert(1)>", "javascript:", "[a](",
        ")", "![", "](", "<", ">", '"', "'", "&#106;", "`", "\n", "\n\n", "|", "---", "*",
        "_", "#", "onload=", "<svg", "data:", "http://x", " ", "a", "<a href=", "&", "\\",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(HOSTILE, max_size=40).map("".join), st.text(max_size=30))
def test_no_input_yields_script_handlers_or_unsafe_urls(source, quote):
    out = html(source, [Quote(0, "c", quote)] if quote.strip() else [])
    assert "<script" not in out.lower() and "<img" not in out and "<svg" not in out
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", out)
    # Links in real tags only: escaped text such as '&lt;a href=""' is not a link.
    for url in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', out):
        assert url.startswith(("http://", "https://", "mailto:")), url


def test_histogram_bins_and_geometry():
    h = histogram([0, 5, 10, 99.9, 100, 100], 100, bins=10)
    assert [b.count for b in h.bars] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert h.n == 6 and h.y_max == 3 and h.median == 54.95
    assert h.bars[-1].height == h.plot_bottom - h.plot_top
    empty = histogram([], 20, bins=5)
    assert empty.n == 0 and empty.mean is None and all(b.height == 0 for b in empty.bars)


def test_a_run_of_brackets_renders_as_text():
    """Past a real answer's few hundred "[", they are escaped before parsing (markdown-it's
    link-label scan is quadratic in them): the page shows the same brackets."""
    from grader.service.render import render_markdown

    html = str(render_markdown("[" * 3000 + " [a link](https://example.com)").html)
    assert html.count("[") >= 3000 and "<a " not in html
    assert "<a " in str(render_markdown("[a link](https://example.com)").html)
