"""The parser reads every shape learners write plans in."""

from __future__ import annotations

from grader.scoring.copying import Exercise
from grader.scoring.parse import parse_plan

from .conftest import HEALTH


def _issues(plan, bucket):
    return [i.issue for i in plan.matrix[bucket]]


def test_template_shape():
    plan = parse_plan(
        "## Step 1: System Analysis\n\nTop 3 issues:\n1. AUC dropped\n2. drift off\n\n"
        "## Issue Priority Matrix\n\n### Critical (Fix Immediately)\n- Issue: drift off\n"
        "- Impact: silent decay\n- Solution: enable PSI\n- Timeline: 2 days\n\n"
        "### High Priority (Fix This Week)\n- Issue: AUC\n- Impact: churn\n- Solution: retrain\n"
        "- Timeline: 1 week\n\n### Medium Priority (Fix This Month)\n- Issue: logs\n"
        "- Impact: debugging\n- Solution: 90 days\n- Timeline: 3 weeks\n\n"
        "## Step 3: Implementation Strategy\n1. **Technical Approach**: Evidently\n"
        "2. **Risk Mitigation**: shadow mode\n3. **Success Metrics**: AUC 0.83\n"
        "4. **Rollback Plan**: previous model\n"
    )
    assert plan.found == {"step1": True, "matrix": True, "step3": True}
    item = plan.matrix["critical"][0]
    assert (item.issue, item.impact, item.solution, item.timeline) == (
        "drift off",
        "silent decay",
        "enable PSI",
        "2 days",
    )
    assert _issues(plan, "high") == ["AUC"] and _issues(plan, "medium") == ["logs"]
    assert plan.step3["risk_mitigation"] == "shadow mode"
    assert plan.step3["rollback_plan"] == "previous model"
    assert "AUC dropped" in plan.step1["top_issues"]
    assert plan.warnings == []


def test_heading_levels_do_not_matter():
    for hashes in ("#", "##", "###", "####"):
        plan = parse_plan(
            f"{hashes} Critical\n- Issue: a\n- Timeline: 1 day\n{hashes} Medium\n- Issue: b\n"
        )
        assert _issues(plan, "critical") == ["a"] and _issues(plan, "medium") == ["b"]


def test_bold_labels_instead_of_headings():
    plan = parse_plan(
        "**Critical (Fix Immediately)**\n\n- **Issue:** drift\n- **Impact:** blind\n"
        "\n**High Priority**\n\n- **Issue:** AUC\n\n**Rollback plan:** keep v1"
    )
    assert _issues(plan, "critical") == ["drift"] and plan.matrix["critical"][0].impact == "blind"
    assert _issues(plan, "high") == ["AUC"]
    assert plan.step3["rollback_plan"] == "keep v1"


def test_numbered_and_nested_lists():
    plan = parse_plan(
        "1. **Critical (Fix Immediately)**\n   1. Issue: data pipeline\n"
        "   2. Impact: bad inputs\n   3. Solution: validation\n   4. Timeline: 1 week\n"
        "2. **High Priority (Fix This Week)**\n   1. Issue: drift disabled\n"
    )
    item = plan.matrix["critical"][0]
    assert (item.issue, item.solution, item.timeline) == ("data pipeline", "validation", "1 week")
    assert _issues(plan, "high") == ["drift disabled"]


def test_gfm_table_as_matrix():
    plan = parse_plan(
        "## Issue Priority Matrix\n\n| Priority | Issue | Impact | Solution | Timeline |\n"
        "|---|---|---|---|---|\n| Critical | schema changes | broken | GE | 3 days |\n"
        "| High | **AUC 0.78** | churn | retrain | this week |\n"
        "| Medium | logs 7 days | history | 90 days | this month |\n"
    )
    assert _issues(plan, "critical") == ["schema changes"]
    assert _issues(plan, "high") == ["AUC 0.78"]
    assert plan.matrix["medium"][0].timeline == "this month"


def test_table_under_a_bucket_heading_without_priority_column():
    plan = parse_plan("### High\n\n| Issue | Solution |\n|---|---|\n| drift | PSI |\n")
    assert _issues(plan, "high") == ["drift"] and plan.matrix["high"][0].solution == "PSI"


def test_p0_p1_p2_and_urgent_names():
    plan = parse_plan("### P0\n- Issue: a\n### P1\n- Issue: b\n### P2\n- Issue: c\n")
    assert [_issues(plan, b) for b in ("critical", "high", "medium")] == [["a"], ["b"], ["c"]]
    plan = parse_plan(
        "### Urgent (fix now)\n- Issue: a\n### Soon (this week)\n- Issue: b\n"
        "### Later (this month)\n- Issue: c\n### Immediate\n- Issue: d\n"
    )
    assert _issues(plan, "critical") == ["a", "d"]
    assert _issues(plan, "high") == ["b"] and _issues(plan, "medium") == ["c"]


def test_misspelled_and_emoji_headings():
    plan = parse_plan(
        "# 🔎 Step 1 - Analsyis\nTop 3 isues: drift\n\n## 🔴 Critical (Fix Immediately)\n"
        "- **Issue:** drift\n\n# 🛠️ Implemntation Strategy\n**Rollbak:** revert\n"
    )
    assert plan.found["step1"] and _issues(plan, "critical") == ["drift"]
    assert plan.step3["rollback_plan"] == "revert"


def test_sections_in_another_order():
    plan = parse_plan((HEALTH / "sub-016.md").read_text())
    assert plan.found == {"step1": True, "matrix": True, "step3": True}
    assert plan.step3["technical_approach"].startswith("Add a validation stage")
    assert len(plan.matrix["critical"]) == 1 and len(plan.matrix["high"]) == 2
    assert "AUC dropped from 0.85 to 0.78" in plan.step1["top_issues"]


def test_prose_without_headings():
    plan = parse_plan((HEALTH / "sub-021.md").read_text())
    assert not any(plan.found.values())
    assert "data pipeline first" in plan.other
    assert "no priority matrix found" in plan.warnings


def test_inline_bucket_lines():
    plan = parse_plan(
        "Critical - improve monitoring. impact: blind. solution: alerts. timeline: asap\n\n"
        "High - data quality. impact: bad model. solution: clean. timeline: 1 week\n"
    )
    item = plan.matrix["critical"][0]
    assert (item.issue, item.impact, item.solution, item.timeline) == (
        "improve monitoring",
        "blind",
        "alerts",
        "asap",
    )
    assert plan.matrix["high"][0].timeline == "1 week"


def test_code_blocks_are_content_not_structure():
    plan = parse_plan(
        "## Step 3: Implementation\n**Technical approach:** config below\n\n"
        "```yaml\n# Critical\nthreshold: 0.2\n```\n"
    )
    assert not plan.items()
    assert "threshold: 0.2" in plan.step3["technical_approach"]


def test_raw_html_is_read_as_text_and_scripts_dropped():
    plan = parse_plan((HEALTH / "sub-030.md").read_text())
    assert plan.has_html
    # Script bodies and event-handler attributes are gone; a rejected javascript: link
    # stays as the literal text the learner typed.
    assert "xss test" not in plan.text and "document.cookie" not in plan.text
    assert "<script" not in plan.text and "onerror" not in plan.text
    assert "AUC dropped from 0.85 to 0.78" in plan.step1["top_issues"]
    assert _issues(plan, "critical") == ["drift detection disabled"]
    assert any("raw HTML" in w for w in plan.warnings)


def test_inline_html_script_is_dropped():
    plan = parse_plan("Drift is off <script>alert('x')</script> and <b>AUC</b> fell.")
    assert "alert" not in plan.text and "AUC fell" in plan.text.replace("  ", " ")


def test_warnings_name_missing_parts():
    plan = parse_plan((HEALTH / "sub-032.md").read_text())
    assert "Timeline missing in 6 items" in plan.warnings
    assert "no Step 3 implementation strategy found" in plan.warnings


def test_placeholders_and_copied_text_are_not_content():
    exercise = Exercise((HEALTH.parent / "gaming" / "copied-exercise.md").read_text())
    plan = parse_plan((HEALTH / "sub-004.md").read_text(), exercise=exercise)
    assert plan.placeholders == 12 and plan.text == ""
    copied = parse_plan(
        (HEALTH.parent / "gaming" / "copied-exercise.md").read_text(), exercise=exercise
    )
    assert copied.copied_words > 100 and copied.word_count < 40


def test_questions_as_markers():
    plan = parse_plan((HEALTH / "sub-039.md").read_text())
    assert plan.step1["first_priority"].startswith("The error rate")
    assert "source code" in plan.step1["more_information"]


def test_to_dict_is_json_able():
    import json

    plan = parse_plan((HEALTH / "sub-010.md").read_text())
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["matrix"]["critical"][0]["timeline"].startswith("3")
    assert set(data) >= {"step1", "matrix", "step3", "warnings", "found"}
