"""Calibration from instructors through the API: confirm and override as labels, the dry
run's figures, applying it as a regrade that keeps overrides and released grades, and the
interval every grade carries."""

from __future__ import annotations

from sqlalchemy import select

from .conftest import ADVERSARIAL, HEALTH, graded_answers, learner_tokens, run_worker_inline

SLUG = "ml-health-check"
ANSWERS = (
    sorted(HEALTH.glob("sub-*.md"))[:12] + sorted((ADVERSARIAL / "answers").glob("o*.md"))[:12]
)


def _submit_all(app, client):
    """Each answer from its own learner: the submission ids and the learners' tokens."""
    tokens = learner_tokens(app, len(ANSWERS))
    return graded_answers(app, client, [p.read_text() for p in ANSWERS], tokens=tokens), tokens


def test_calibrate_from_reviews_then_apply_as_a_regrade(
    app, client, actors, assignment, enqueued, jobs_inline, monkeypatch
):
    staff = actors.h("instructor")
    ids, tokens = _submit_all(app, client)
    first = client.get(f"/api/v1/submissions/{ids[0]}", headers=staff).get_json()["grade"]
    # Before any calibration, the interval comes from the rubric's held-out answers.
    assert first["interval"]["source"] == "held-out answers"
    assert first["interval"]["low"] <= first["total"] <= first["interval"]["high"]
    url = f"/api/v1/assignments/{SLUG}/calibration"
    assert client.post(url + "?dry_run=1", headers=staff).get_json()["error"]["code"] == (
        "no_labels"
    )
    # The instructors find Risk Management under-credited by about 4 points everywhere: they
    # override it on most answers and confirm the rest as they are.
    for sid in ids[:20]:
        grade = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["grade"]
        rm = next(c for c in grade["criteria"] if c["id"] == "risk_management")
        r = client.post(
            f"/api/v1/submissions/{sid}/overrides",
            headers=staff,
            json={
                "criterion": "risk_management",
                "points": min(20, rm["points"] + 4),
                "reason": "rollback and metrics deserve more",
            },
        )
        assert r.status_code == 201
        assert client.post(f"/api/v1/submissions/{sid}/confirm", headers=staff).status_code == 200
    history = client.get(f"/api/v1/submissions/{ids[0]}/history", headers=staff).get_json()
    confirmed = [e for e in history["events"] if e["action"] == "confirmed"]
    assert confirmed and confirmed[-1]["actor"]["role"] == "instructor"
    assert "risk_management" in confirmed[-1]["after"]["criteria"]
    state = client.get(url, headers=staff).get_json()
    assert (state["current"], state["labels"]) == (None, 20)
    risk = {r["level"]: r for r in state["release_risk"]}
    assert risk[0.5]["reviewed"] >= risk[0.95]["reviewed"] and risk[0.5]["mean_error"] > 0
    # The risk table's lean read (no per-criterion JSON) finds what the labels' read finds.
    from grader.service.models import Assignment
    from grader.service.operations.calibrations import reviewed

    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment))
        full = [(i, g.id, sum(k.values())) for i, g, k in reviewed(s, a)]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment))
        lean = [(i, g.id, sum(k.values())) for i, g, k in reviewed(s, a, points=False)]
    assert len(full) == 20 and [(i, g, round(t, 6)) for i, g, t in lean] == [
        (i, g, round(t, 6)) for i, g, t in full
    ]
    # The risk table reads only the newest reviewed answers, newest first, across pages.
    from grader.service.operations import calibrations

    monkeypatch.setattr(calibrations, "_PAGE", 3)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment))
        newest = [(i, g.id) for i, g, _ in reviewed(s, a, points=False, newest=7)]
        from grader.service.models import Submission

        waiting = [
            sub.confidence
            for sub in s.scalars(select(Submission).where(Submission.status == "graded"))
            if sub.current and sub.review_codes == ","
        ]
    assert newest == [(i, g) for i, g, _ in reversed(full)][:7]
    for level, row in risk.items():  # counted in SQL, as Python counts them
        assert row["would_release"] == sum(1 for c in waiting if c is not None and c >= level)
    assert any(row["would_release"] for row in risk.values())
    # A learner may not calibrate.
    assert client.post(url + "?dry_run=1", headers=actors.h("learner")).status_code == 403

    dry = client.post(url + "?dry_run=1", headers=staff)
    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    cal = report["calibration"]
    assert cal["labels"] == 20
    rm = next(c for c in cal["criteria"] if c["id"] == "risk_management")
    assert rm["applied"] and rm["mae_after"] < rm["mae_before"]
    assert report["would_change"]["submissions"] >= 1  # the four unreviewed answers
    assert (
        client.get(url, headers=staff).get_json()["current"] is None
    )  # the dry run stored nothing

    # One grade is released before the calibration is applied: its learner keeps it until
    # the instructor releases the new one.
    released = ids[-1]
    client.post(f"/api/v1/submissions/{released}/release", headers=staff)
    before_release = client.get(f"/api/v1/submissions/{released}", headers=staff).get_json()
    learner = {"Authorization": f"Bearer {tokens[-1]}"}
    learner_before = client.get(f"/api/v1/submissions/{released}", headers=learner).get_json()
    assert learner_before["grade"]["total"] == before_release["grade"]["total"]
    applied = client.post(url, headers=staff)
    assert applied.status_code == 202, applied.get_json()
    body = applied.get_json()
    assert body["job"]["kind"] == "recalibrate" and body["calibration"]["version"] == cal["version"]
    assert sorted(jobs_inline) == sorted(ids)
    outcomes = {sid: run_worker_inline(app, sid) for sid in ids}
    assert all(outcome == "graded" for outcome in outcomes.values())
    state = client.get(url, headers=staff).get_json()
    assert state["current"]["version"] == cal["version"]
    # The dashboard draws the calibration's out-of-fold errors, two bars a criterion.
    from .browser.support import add_web_users, login

    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    chart = page[page.index('id="calibration-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count('class="bar before"') == chart.count('class="bar after"') == 4
    unreviewed = client.get(f"/api/v1/submissions/{ids[21]}", headers=staff).get_json()["grade"]
    assert unreviewed["calibration_version"] == cal["version"]
    assert unreviewed["interval"]["level"] == 0.9
    # 20 labels: an interval per criterion too, around its points.
    for c in unreviewed["criteria"]:
        bounds = unreviewed["interval"]["criteria"][c["id"]]
        assert bounds["low"] <= c["points"] <= bounds["high"]
    # Its confidence is now the measured chance of being within 15 points.
    assert 0 < unreviewed["confidence"] < 1
    assert unreviewed["confidence"] != first["confidence"] or ids[21] != ids[0]
    # Overrides are kept through the regrade.
    kept = client.get(f"/api/v1/submissions/{ids[0]}", headers=staff).get_json()["grade"]
    rm = next(c for c in kept["criteria"] if c["id"] == "risk_management")
    assert rm["source"] == "override"
    # The instructor's points carry no uncertainty.
    assert kept["interval"]["criteria"]["risk_management"] == {
        "low": rm["points"],
        "high": rm["points"],
    }
    after_release = client.get(f"/api/v1/submissions/{released}", headers=staff).get_json()
    assert after_release["grade"]["calibration_version"] == cal["version"]
    # The calibration raises Risk Management: the new grade waits, staff see it, the
    # learner still has the released one until the instructor releases it.
    assert after_release["grade"]["total"] > before_release["grade"]["total"]
    assert after_release["release_pending"] is True
    assert after_release["released_total"] == before_release["grade"]["total"]
    mine = client.get(f"/api/v1/submissions/{released}", headers=learner).get_json()
    assert mine["grade"] == learner_before["grade"] and "release_pending" not in mine
    r = client.post(f"/api/v1/submissions/{released}/release", headers=staff)
    assert r.status_code == 200
    mine = client.get(f"/api/v1/submissions/{released}", headers=learner).get_json()
    assert mine["grade"]["total"] == after_release["grade"]["total"]
    assert (
        "release_pending"
        not in client.get(f"/api/v1/submissions/{released}", headers=staff).get_json()
    )
    history = client.get(f"/api/v1/submissions/{released}/history", headers=staff).get_json()
    assert [e["action"] for e in history["events"]].count("regraded") == 1
    # The same answer, rubric version and calibration version: the same grade.
    assert run_worker_inline(app, ids[21]) == "already-graded"
    # The regrade put calibrated points on the confirmed answers' grades, but the labels
    # are still what the instructors saw and kept: fitting again gives the same calibration.
    again = client.post(url + "?dry_run=1", headers=staff).get_json()["calibration"]
    assert again["version"] == cal["version"] and again["labels"] == 20

    # A lost recalibration task is found by the reconciler (released answers too).
    from datetime import timedelta

    from grader.service.models import Assignment, Submission, utcnow
    from grader.service.operations.submissions import stuck_submissions

    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.scalar(select(Assignment)).calibration_version = "f" * 12  # as if never sent
        for sub in s.scalars(select(Submission)):
            sub.updated_at = utcnow() - timedelta(hours=1)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert set(stuck_submissions(s, stuck_after=60)) == set(ids)


def test_a_rubric_change_ends_the_calibration(app, client, actors, assignment, enqueued, tmp_path):
    import shutil

    from grader.service.models import Assignment

    from .conftest import ROOT

    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", rubrics / "ml-health-check.toml")
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", rubrics / "other.toml")
    path = rubrics / "other.toml"
    path.write_text(path.read_text().replace("min_words = 60", "min_words = 50"))
    app.config["RUBRICS_DIR"] = str(rubrics)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.scalar(select(Assignment)).calibration_version = "a" * 12
    r = client.patch(
        f"/api/v1/assignments/{SLUG}", json={"rubric": "other.toml"}, headers=actors.h("instructor")
    )
    assert r.status_code == 200
    with app.app_context():
        a = app.extensions["db"].session.scalar(select(Assignment))
        assert a.calibration_version is None  # it was fitted on the old rubric's grades


def test_confirm_needs_a_grade_and_respects_claims(app, client, actors, assignment, enqueued):
    staff, other = actors.h("instructor"), actors.h("instructor2")
    r = client.post(
        f"/api/v1/assignments/{SLUG}/submissions",
        data=(HEALTH / "sub-029.md").read_text(),
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    sid = r.get_json()["id"]
    assert client.post(f"/api/v1/submissions/{sid}/confirm", headers=staff).status_code == 409
    run_worker_inline(app, sid)
    assert client.post(f"/api/v1/submissions/{sid}/claim", headers=other).status_code == 200
    assert client.post(f"/api/v1/submissions/{sid}/confirm", headers=staff).status_code == 409
    assert client.post(f"/api/v1/submissions/{sid}/confirm", headers=other).status_code == 200
    sub = client.get(f"/api/v1/submissions/{sid}", headers=other).get_json()
    assert sub["reviewed"] is True
