"""Property tests: any text parses, points stay in bounds, correct additions never cost."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.scoring import grade_text, load_rubric, parse_plan

from .conftest import RUBRIC_PATH

RUBRIC = load_rubric(RUBRIC_PATH)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_FRAGMENTS = [
    "# ",
    "## ",
    "### Critical",
    "### High",
    "### Medium",
    "**Issue:**",
    "- ",
    "1. ",
    "   - ",
    "| Priority | Issue | Timeline |\n|---|---|---|\n| P0 | drift | 1 day |\n",
    "```\ncode\n```",
    "<h2>Step 1</h2>",
    "<script>x</script>",
    "<ol><li>a",
    "Issue: ",
    "Timeline: 2 days",
    "Step 3",
    "Rollback plan:",
    "AUC 0.78 vs 0.85",
    "\n",
    "\n\n",
    "**",
    "> ",
    "---",
]
markdownish = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=30)), max_size=30
).map("".join)


@SETTINGS
@given(st.one_of(st.text(), markdownish))
def test_any_text_parses(text):
    plan = parse_plan(text)
    assert isinstance(plan.warnings, list)
    plan.to_dict()


@SETTINGS
@given(st.one_of(st.text(max_size=400), markdownish))
def test_points_stay_within_bounds(text):
    grade = grade_text(text, RUBRIC)
    assert 0 <= grade.total <= grade.max_total
    assert 0 <= grade.confidence <= 1
    for c in grade.criteria:
        assert 0 <= c.points <= c.max_points


STEP1 = [
    "The model degraded: AUC is 0.78 against a 0.85 baseline.",
    "Drift detection is disabled while the feature drift score is 0.12.",
    "Data quality is 0.75 with 15% missing values and 3 schema changes.",
    "I would fix the data pipeline first because it is the likely root cause of the AUC drop.",
    "I would need to know when the AUC drop began and which features drifted.",
    "The 2% error rate means about 1,000 failed predictions a day.",
]
ITEMS = [
    (
        "critical",
        "3 schema changes and 15% missing values",
        "broken features, lost revenue",
        "add Great Expectations validation at ingestion, fix the mappings, backfill",
        "4 days",
    ),
    (
        "critical",
        "drift detection disabled (drift 0.12)",
        "silent degradation",
        "enable PSI per feature with Evidently and alert the on-call",
        "2 days",
    ),
    (
        "high",
        "AUC 0.78 vs 0.85",
        "missed churners",
        "retrain on recent clean data, champion/challenger on a time-based holdout",
        "this week",
    ),
    (
        "high",
        "2% error rate",
        "1,000 customers a day unscored",
        "triage the error logs",
        "this week",
    ),
    (
        "medium",
        "15 alerts last week and 92% dashboard uptime",
        "alert fatigue",
        "alert tiers and runbooks, highly available dashboards",
        "3 weeks",
    ),
    (
        "medium",
        "log retention 7 days",
        "cannot debug history",
        "raise retention to 90 days",
        "this month",
    ),
]
STEP3 = [
    "**Risk Mitigation:** validation could be too strict and stop the pipeline, so run it in "
    "warn mode first and test in staging.",
    "**Success Metrics:** AUC at least 0.83, data quality score above 0.9, missing values "
    "below 5%.",
    "**Rollback Plan:** keep the previous model in the model registry and switch back if the "
    "canary error rate rises.",
    "**Technical Approach:** a Great Expectations suite as the first Airflow task.",
]


def _render(step1: list[int], items: list[int], step3: list[int]) -> str:
    out = []
    if step1:
        out.append("## Step 1: System Analysis\n\n" + "\n\n".join(STEP1[i] for i in step1))
    buckets: dict[str, list[str]] = {}
    for i in items:
        bucket, issue, impact, solution, timeline = ITEMS[i]
        buckets.setdefault(bucket, []).append(
            f"- Issue: {issue}\n- Impact: {impact}\n- Solution: {solution}\n- Timeline: {timeline}"
        )
    if buckets:
        out.append("## Issue Priority Matrix")
        for bucket in ("critical", "high", "medium"):
            if bucket in buckets:
                out.append(f"### {bucket.capitalize()}\n\n" + "\n\n".join(buckets[bucket]))
    if step3:
        out.append("## Step 3: Implementation Strategy\n\n" + "\n\n".join(STEP3[i] for i in step3))
    return "\n\n".join(out)


indices = lambda n: st.lists(st.integers(0, n - 1), unique=True).map(sorted)  # noqa: E731


@SETTINGS
@given(indices(len(STEP1)), indices(len(ITEMS)), indices(len(STEP3)), st.data())
def test_adding_a_correct_item_never_lowers_a_criterion(step1, items, step3, data):
    missing = [i for i in range(len(ITEMS)) if i not in items]
    if not missing:
        return
    extra = data.draw(st.sampled_from(missing))
    before = grade_text(_render(step1, items, step3), RUBRIC)
    after = grade_text(_render(step1, sorted([*items, extra]), step3), RUBRIC)
    # One exception by design: piling every issue into one bucket is not a priority order,
    # so the item that completes such a pile may cap Prioritization (no_commitment).
    newly_uncommitted = "no_commitment" in after.flags and "no_commitment" not in before.flags
    for b, a in zip(before.criteria, after.criteria, strict=True):
        if newly_uncommitted and b.id == "prioritization":
            continue
        assert a.points >= b.points, (b.id, b.points, a.points)
