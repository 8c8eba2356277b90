"""A regrade after release never changes a released grade silently: the new grade waits
until an instructor releases it, the learner (and their page, API and gradebook) keeps the
released one, and an instructor's own override still reaches the learner at once."""

from __future__ import annotations

import csv
import io
import shutil

from .browser.support import add_web_users, login
from .conftest import ROOT, graded, run_worker_inline

SLUG = "ml-health-check"
EASIER = ("curve = { zero = 0.36, full = 0.98 }", "curve = { zero = 0.2, full = 0.7 }")


def _regrade_with_an_easier_rubric(app, client, staff, jobs_inline, tmp_path) -> None:
    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app.config["RUBRICS_DIR"] = str(rubrics)
    path.write_text(path.read_text().replace(*EASIER))
    assert client.post(f"/api/v1/assignments/{SLUG}/regrade", headers=staff).status_code == 202
    for sid in list(jobs_inline):
        assert run_worker_inline(app, sid) == "graded"


def _get(client, sid, headers):
    return client.get(f"/api/v1/submissions/{sid}", headers=headers).get_json()


def test_a_regraded_release_waits_for_the_instructor(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    staff, learner = actors.h("instructor"), actors.h("learner")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    released = _get(client, sid, learner)["grade"]
    _regrade_with_an_easier_rubric(app, client, staff, jobs_inline, tmp_path)

    seen = _get(client, sid, staff)
    assert seen["grade"]["total"] > released["total"]
    assert seen["release_pending"] is True and seen["released_total"] == released["total"]
    assert _get(client, sid, learner)["grade"] == released  # nothing changed for the learner
    history = client.get(f"/api/v1/submissions/{sid}/history", headers=staff).get_json()
    assert history["events"][-1]["after"]["waits_for_release"] is True
    # The gradebook's released columns are what the learner has; total is the new grade.
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    (row,) = csv.DictReader(io.StringIO(web.get(f"/dashboard/{SLUG}/grades.csv").text))
    assert float(row["released_total"]) == released["total"]
    assert float(row["total"]) == seen["grade"]["total"]
    # The review page says so and offers the release.
    page = web.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert 'id="release-pending"' in page and "Release the new grade" in page
    dash = web.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    assert 'id="release-pending"' in dash and ">new grade<" in dash

    # An instructor's override reaches the learner at once, on the released grade.
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=staff,
        json={"criterion": "risk_management", "points": 3, "reason": "No rollback plan."},
    )
    assert r.status_code == 201
    mine = _get(client, sid, learner)["grade"]
    rm = next(c for c in mine["criteria"] if c["id"] == "risk_management")
    assert rm["points"] == 3 and mine["rubric_version"] == released["rubric_version"]
    still = _get(client, sid, staff)
    assert still["release_pending"] is True and still["released_total"] == mine["total"]

    # A release of reviewed grades does not take a new grade nobody reviewed; "all" does.
    url = f"/api/v1/assignments/{SLUG}/release"
    assert client.post(url, headers=staff, json={"mode": "reviewed"}).get_json()["released"] == []
    assert client.post(url, headers=staff, json={"mode": "all"}).get_json()["released"] == [sid]
    mine = _get(client, sid, learner)
    assert mine["grade"]["total"] == _get(client, sid, staff)["grade"]["total"]
    assert mine["grade"]["rubric_version"] != released["rubric_version"]
    assert "release_pending" not in _get(client, sid, staff)
    notes = client.get("/api/v1/notifications", headers=learner).get_json()["items"]
    assert "was updated" in notes[0]["subject"]
    last = client.get(f"/api/v1/submissions/{sid}/history", headers=staff).get_json()["events"][-1]
    assert last["action"] == "released" and "replaces" in last["reason"]
    # Nothing more to release.
    assert client.post(url, headers=staff, json={"mode": "all"}).get_json()["released"] == []


def _rubric_copy(app, tmp_path):
    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app.config["RUBRICS_DIR"] = str(rubrics)
    return path


def test_anything_the_learner_reads_waits_even_the_rubric_version_alone(
    app, client, actors, assignment, enqueued, tmp_path
):
    """A regrade that leaves the points and feedback alone still changes what the learner
    reads (the rubric version, the interval): it waits like any other."""
    staff, learner = actors.h("instructor"), actors.h("learner")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    released = _get(client, sid, learner)["grade"]
    path = _rubric_copy(app, tmp_path)
    path.write_text(path.read_text().replace("min_words = 60", "min_words = 50"))
    assert client.post(f"/api/v1/assignments/{SLUG}/regrade", headers=staff).status_code == 202
    assert run_worker_inline(app, sid) == "graded"
    seen = _get(client, sid, staff)
    assert seen["release_pending"] is True
    assert seen["grade"]["rubric_version"] != released["rubric_version"]
    assert _get(client, sid, learner)["grade"] == released
    # The learner asks about what they have; the request is checked against it.
    r = client.post(
        f"/api/v1/submissions/{sid}/regrade-requests",
        headers=learner,
        json={"criterion": "risk_management", "message": "Please look at my rollback plan."},
    )
    assert r.status_code == 201, r.get_json()


def test_an_override_after_release_reaches_the_learner_at_once(
    app, client, actors, assignment, enqueued
):
    staff, learner = actors.h("instructor"), actors.h("learner")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=staff,
        json={"criterion": "risk_management", "points": 2, "reason": "No rollback."},
    )
    assert r.status_code == 201
    mine = _get(client, sid, learner)["grade"]
    assert next(c for c in mine["criteria"] if c["id"] == "risk_management")["points"] == 2
    assert "release_pending" not in _get(client, sid, staff)


def test_the_gradebook_keeps_the_released_maximum(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    staff = actors.h("instructor")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    path = _rubric_copy(app, tmp_path)
    text = path.read_text()
    head, tail = text.split("points = 20", 1)  # Risk Management: 20 -> 30 points
    path.write_text(head + "points = 30" + tail)
    assert client.post(f"/api/v1/assignments/{SLUG}/regrade", headers=staff).status_code == 202
    assert run_worker_inline(app, sid) == "graded"
    assert _get(client, sid, staff)["grade"]["max_total"] == 110
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    (row,) = csv.DictReader(io.StringIO(web.get(f"/dashboard/{SLUG}/grades.csv").text))
    assert float(row["released_max_total"]) == 100 and float(row["max_total"]) == 110


def test_a_regrade_after_release_that_never_finishes_keeps_the_released_grade(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    from grader.service.models import Submission

    staff, learner = actors.h("instructor"), actors.h("learner")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    released = _get(client, sid, learner)["grade"]
    path = _rubric_copy(app, tmp_path)
    path.write_text(path.read_text().replace(*EASIER))
    assert client.post(f"/api/v1/assignments/{SLUG}/regrade", headers=staff).status_code == 202
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(Submission, sid).deliveries = 3  # as if it had killed three workers already
    assert run_worker_inline(app, sid) == "failed"
    mine = _get(client, sid, learner)
    assert mine["status"] == "released" and mine["grade"] == released
    trail = client.get(f"/api/v1/submissions/{sid}/history", headers=staff).get_json()
    assert trail["events"][-1]["action"] == "regrade_failed"
    # It is not sent again and again; the next regrade tries it afresh.
    assert run_worker_inline(app, sid) != "graded"
    path.write_text(path.read_text().replace("min_words = 60", "min_words = 50"))
    assert client.post(f"/api/v1/assignments/{SLUG}/regrade", headers=staff).status_code == 202
    assert run_worker_inline(app, sid) == "graded"
    assert _get(client, sid, staff)["release_pending"] is True


def test_withdrawing_ends_the_wait(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    staff, learner = actors.h("instructor"), actors.h("learner")
    sid = graded(app, client, actors, name="sub-020.md", release=True)
    _regrade_with_an_easier_rubric(app, client, staff, jobs_inline, tmp_path)
    assert _get(client, sid, staff)["release_pending"] is True
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease", headers=staff, json={"reason": "New rubric."}
    )
    assert r.status_code == 200
    assert "release_pending" not in _get(client, sid, staff)
    assert _get(client, sid, learner)["grade"] is None
    assert client.post(f"/api/v1/submissions/{sid}/release", headers=staff).status_code == 200
    mine = _get(client, sid, learner)["grade"]
    assert mine["total"] == _get(client, sid, staff)["grade"]["total"]
