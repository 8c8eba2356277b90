"""Scoring: agreement with the graders, gaming, determinism, feedback, flags."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from grader.scoring import grade_text, rubric_from_dict
from grader.scoring.compiled import CompiledRubric, compile_rubric
from grader.scoring.confidence import RELEASE_LEVEL
from grader.scoring.layout import Layout
from grader.scoring.parse import parse_plan

from .conftest import GAMING, HEALTH, human_grades

CRITERIA = ("problem_identification", "prioritization", "solution_design", "risk_management")


@pytest.fixture(scope="module")
def graded(rubric):
    human = human_grades()
    return {f: (grade_text((HEALTH / f).read_text(), rubric), human[f]) for f in sorted(human)}


def test_totals_agree_with_graders(graded):
    ours = [g.total for g, _ in graded.values()]
    theirs = [h["total"] for _, h in graded.values()]
    assert np.corrcoef(ours, theirs)[0, 1] >= 0.85


@pytest.mark.parametrize("criterion", CRITERIA)
def test_each_criterion_agrees_with_graders(graded, criterion):
    ours = [next(c.points for c in g.criteria if c.id == criterion) for g, _ in graded.values()]
    theirs = [h[criterion] for _, h in graded.values()]
    assert np.corrcoef(ours, theirs)[0, 1] >= 0.70


@pytest.mark.parametrize("path", sorted(GAMING.glob("*.md")), ids=lambda p: p.name)
def test_gaming_does_not_pay(rubric, path):
    grade = grade_text(path.read_text(), rubric)
    assert grade.total <= 15
    assert set(grade.flags) & {
        "keyword_stuffing",
        "template_pasted",
        "exercise_copied",
        "off_topic",
    }
    # A penalty is never released unseen: it says why and stays below the release level.
    assert grade.confidence < RELEASE_LEVEL
    assert "penalty" in {r["code"] for r in grade.review_reasons}


def test_points_within_bounds_and_total_is_sum(graded):
    for grade, _ in graded.values():
        for c in grade.criteria:
            assert 0 <= c.points <= c.max_points
        assert grade.total == pytest.approx(sum(c.points for c in grade.criteria), abs=0.05)
        assert 0 <= grade.confidence <= 1


def test_deterministic_across_calls_and_fresh_compiles(rubric):
    text = (HEALTH / "sub-027.md").read_text()
    first = json.dumps(grade_text(text, rubric).to_dict(), sort_keys=True)
    assert json.dumps(grade_text(text, rubric).to_dict(), sort_keys=True) == first
    fresh = CompiledRubric(rubric)
    from grader.scoring.score import score_plan

    again = score_plan(parse_plan(text, exercise=fresh.exercise), fresh)
    assert json.dumps(again.to_dict(), sort_keys=True) == first


def test_grades_record_rubric_version(rubric):
    grade = grade_text("drift detection is disabled", rubric)
    assert grade.rubric_version == rubric.version and grade.rubric_id == "ml-health-check"


def test_feedback_quotes_the_answer(rubric):
    text = (HEALTH / "sub-009.md").read_text()
    grade = grade_text(text, rubric)
    flat = " ".join(text.split())
    for c in grade.criteria:
        assert c.evidence, c.id
        for ev in c.evidence:
            words = re.findall(r"\w+", ev["quote"])
            assert " ".join(words[:4]) in " ".join(re.findall(r"\w+", flat)), ev
        assert "\u201c" in c.feedback


def test_answer_key_does_not_leak_by_default(rubric, raw_rubric):
    grade = grade_text((HEALTH / "sub-020.md").read_text(), rubric)
    for c in grade.criteria:
        assert "Not covered" not in c.feedback
        for name in c.missing:
            assert name not in c.feedback
    raw_rubric["feedback"]["reveal_missing"] = True
    revealing = rubric_from_dict(raw_rubric)
    grade = grade_text((HEALTH / "sub-020.md").read_text(), revealing)
    assert any("Not covered" in c.feedback for c in grade.criteria)


def test_placement_costs_prioritization(rubric):
    good = (
        "## Step 1\nFirst: fix the data pipeline, the likely root cause.\n\n"
        "### Critical\n- Issue: schema changes and 15% missing values\n- Timeline: 3 days\n"
        "- Issue: drift detection disabled\n- Timeline: 2 days\n"
        "### High\n- Issue: AUC 0.78\n- Timeline: this week\n"
        "### Medium\n- Issue: dashboard uptime 92% and serving latency 150ms\n"
        "- Timeline: this month\n"
    )
    bad = (
        "## Step 1\nFirst: fix the dashboard uptime.\n\n"
        "### Critical\n- Issue: dashboard uptime 92% and serving latency 150ms\n"
        "- Timeline: 3 days\n### High\n- Issue: AUC 0.78\n- Timeline: this week\n"
        "### Medium\n- Issue: schema changes and 15% missing values\n- Timeline: this month\n"
        "- Issue: drift detection disabled\n- Timeline: 2 weeks\n"
    )
    pri = {
        n: next(c for c in grade_text(t, rubric).criteria if c.id == "prioritization")
        for n, t in (("good", good), ("bad", bad))
    }
    assert pri["good"].points >= pri["bad"].points + 5
    assert "wrong bucket" in pri["bad"].feedback


def test_unrealistic_timelines_are_named(rubric):
    grade = grade_text((HEALTH / "sub-020.md").read_text(), rubric)
    sd = next(c for c in grade.criteria if c.id == "solution_design")
    assert "'6 months' for a Critical item" in sd.feedback


def test_html_is_flagged_not_penalised(rubric):
    text = (HEALTH / "sub-010.md").read_text()
    plain = grade_text(text, rubric)
    with_html = grade_text(text + "\n\n<p>Thanks <script>alert(1)</script></p>\n", rubric)
    assert "contains_html" in with_html.flags and "contains_html" not in plain.flags
    assert with_html.total == pytest.approx(plain.total, abs=1.0)


def test_too_short(rubric):
    grade = grade_text("AUC dropped. Retrain.", rubric)
    assert "too_short" in grade.flags and grade.total <= 5


def test_similarity_vectors_match_scikit_learn(rubric):
    compiled = compile_rubric(rubric)
    assert isinstance(compiled, CompiledRubric)
    plan = parse_plan((HEALTH / "sub-029.md").read_text(), exercise=compiled.exercise)
    layout = Layout(plan, compiled.lexicon)
    matrix, used, starts = compiled.sentence_matrix(layout)
    from grader.scoring.compiled import features

    for row, (a, b) in enumerate(zip(starts, [*starts[1:], len(layout.text)], strict=True)):
        terms = [t for s, t in zip(layout.starts, layout.terms, strict=True) if a <= s < b]
        expected = compiled.vectorizer_.transform([features(terms)]).toarray()[0]
        assert np.allclose(matrix[row], expected[used])
        assert np.isclose(np.abs(expected).sum(), np.abs(matrix[row]).sum())


def test_reference_rubric_kind():
    from grader.scoring.rubric import reference_rubric

    rubric = reference_rubric(
        ["The UDP header is 8 bytes and fixed; the TCP header is 20 to 60 bytes and variable."],
        question="How do UDP and TCP headers differ?",
        points=2,
    )
    good = grade_text("UDP header: fixed 8 bytes. TCP header: variable, 20-60 bytes.", rubric)
    bad = grade_text("I like pizza.", rubric)
    assert good.total > 1.0 and bad.total == 0 and "off_topic" in bad.flags
    assert good.criteria[0].evidence and good.max_total == 2
