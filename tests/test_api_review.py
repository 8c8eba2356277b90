"""Review queue, claims, assignments, bulk release, regrade, gradebook, health."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import HEALTH, run_worker_inline


def _graded(app, client, actors, files, who="learner"):
    ids = []
    for i, name in enumerate(files):
        learner = who if isinstance(who, str) else who[i]
        r = client.post(
            "/api/v1/assignments/ml-health-check/submissions",
            data=(HEALTH / name).read_text(),
            headers={
                **actors.h(learner),
                "Content-Type": "text/markdown",
                "Idempotency-Key": f"k-{i}-{name}",
            },
        )
        assert r.status_code == 202
        ids.append(r.get_json()["id"])
        run_worker_inline(app, ids[-1])
    return ids


def _queue(client, actors, **params):
    r = client.get("/api/v1/review-queue", headers=actors.h("instructor"), query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_queue_sorts_least_confident_first_and_filters(app, client, actors, assignment, enqueued):
    ids = _graded(
        app,
        client,
        actors,
        ["sub-010.md", "sub-015.md", "sub-030.md"],
        who=["learner", "learner2", "instructor2"],
    )
    q = _queue(client, actors)
    confidences = [i["confidence"] for i in q["items"]]
    assert confidences == sorted(confidences) and q["total"] == 3
    assert q["items"][0]["id"] == ids[1]  # the keyword list is the least trustworthy grade
    assert [i["id"] for i in _queue(client, actors, flag="contains_html")["items"]] == [ids[2]]
    high = _queue(client, actors, min_total=80)["items"]
    assert [i["id"] for i in high] == [ids[0]]
    assert _queue(client, actors, max_total=10)["items"][0]["id"] == ids[1]
    newest_first = _queue(client, actors, sort="-time")["items"]
    assert [i["id"] for i in newest_first] == sorted(ids, reverse=True)
    page = _queue(client, actors, per_page=2, page=2)
    assert page["pages"] == 2 and len(page["items"]) == 1
    assert _queue(client, actors, status="released")["total"] == 0
    assert _queue(client, actors, assignment="other")["total"] == 0


def test_queue_rejects_bad_parameters(client, actors, assignment):
    for params, field in (
        ({"sort": "bogus"}, "sort"),
        ({"min_total": "x"}, "min_total"),
        ({"status": "weird"}, "status"),
        ({"per_page": "0"}, "per_page"),
        ({"page": "x"}, "page"),
    ):
        r = client.get("/api/v1/review-queue", headers=actors.h("instructor"), query_string=params)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field


def test_claims_hold_a_submission_for_one_instructor(app, client, actors, assignment, enqueued):
    (sid,) = _graded(app, client, actors, ["sub-029.md"])
    r = client.post(f"/api/v1/submissions/{sid}/claim", headers=actors.h("instructor"))
    assert r.status_code == 200 and r.get_json()["claimed_by"] == actors.id("instructor")
    r = client.post(f"/api/v1/submissions/{sid}/claim", headers=actors.h("instructor2"))
    assert r.status_code == 409
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("instructor2"),
        json={"criterion": "prioritization", "points": 20, "reason": "x"},
    )
    assert r.status_code == 409
    assert _queue(client, actors, unclaimed=1)["total"] == 0
    assert (
        client.delete(
            f"/api/v1/submissions/{sid}/claim", headers=actors.h("instructor2")
        ).status_code
        == 409
    )
    assert (
        client.delete(
            f"/api/v1/submissions/{sid}/claim", headers=actors.h("instructor")
        ).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/submissions/{sid}/claim", headers=actors.h("instructor2")).status_code
        == 200
    )


def test_a_claim_holds_a_submission_from_every_release(app, client, actors, assignment, enqueued):
    held, free = _graded(
        app, client, actors, ["sub-029.md", "sub-010.md"], who=["learner", "learner2"]
    )
    r = client.post(f"/api/v1/submissions/{held}/claim", headers=actors.h("instructor"))
    assert r.status_code == 200
    other = actors.h("instructor2")
    r = client.post(f"/api/v1/submissions/{held}/release", headers=other)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "claimed"
    for body in ({"mode": "ids", "ids": [held, free]}, {"mode": "all"}):
        r = client.post("/api/v1/assignments/ml-health-check/release", headers=other, json=body)
        assert r.status_code == 200
        assert r.get_json()["claimed"] == [held] and held not in r.get_json()["released"]
    status = client.get(f"/api/v1/submissions/{held}", headers=other).get_json()["status"]
    assert status == "graded"
    # The claimer may release it.
    r = client.post(f"/api/v1/submissions/{held}/release", headers=actors.h("instructor"))
    assert r.status_code == 200 and r.get_json()["status"] == "released"


def test_claims_expire(app, client, actors, assignment, enqueued, monkeypatch):
    """A claim holds for CLAIM_SECONDS on the operations' clock, then anyone may claim."""
    from datetime import timedelta

    import grader.service.operations.reviews as reviews
    from grader.service.models import utcnow

    (sid,) = _graded(app, client, actors, ["sub-029.md"])
    start = utcnow()
    clock = {"now": start}
    monkeypatch.setattr(reviews, "utcnow", lambda: clock["now"])
    url = f"/api/v1/submissions/{sid}/claim"
    assert client.post(url, headers=actors.h("instructor")).status_code == 200
    held = app.config["CLAIM_SECONDS"]
    clock["now"] = start + timedelta(seconds=held - 1)
    assert client.post(url, headers=actors.h("instructor2")).status_code == 409
    clock["now"] = start + timedelta(seconds=held + 1)
    assert client.post(url, headers=actors.h("instructor2")).status_code == 200


def test_assignments_create_update_and_errors(client, actors, assignment):
    r = client.get("/api/v1/assignments/ml-health-check", headers=actors.h("learner"))
    body = r.get_json()
    assert body["rubric"]["max_total"] == 100 and len(body["rubric"]["criteria"]) == 4
    assert "concepts" not in str(body)  # the answer key is not exposed
    bad = [
        ({"slug": "Bad Slug", "rubric": "ml-health-check.toml"}, 422, "slug"),
        ({"slug": "x", "rubric": "../../etc/passwd"}, 422, "rubric"),
        ({"slug": "x", "rubric": "nope.toml"}, 422, "rubric"),
        ({"slug": "ml-health-check", "rubric": "ml-health-check.toml"}, 409, "slug"),
    ]
    for body, status, field in bad:
        r = client.post("/api/v1/assignments", headers=actors.h("instructor"), json=body)
        assert r.status_code == status and r.get_json()["error"]["field"] == field
    assert (
        client.post(
            "/api/v1/assignments",
            headers=actors.h("learner"),
            json={"slug": "y", "rubric": "ml-health-check.toml"},
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/assignments",
        headers=actors.h("instructor"),
        json={"slug": "tcp", "rubric": "tcp-udp-headers.toml", "title": "TCP"},
    )
    assert r.status_code == 201 and r.get_json()["rubric"]["kind"] == "reference"
    r = client.patch(
        "/api/v1/assignments/tcp", headers=actors.h("instructor"), json={"title": "TCP and UDP"}
    )
    assert r.get_json()["title"] == "TCP and UDP"


def test_invalid_rubric_file_is_reported(tmp_path, db_url, actors):
    from .conftest import ROOT, make_app

    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "broken.toml").write_text('id = "broken"\n[[criteria]]\nid = "c"\npoints = -1\n')
    (rubrics / "ml-health-check.toml").write_text(
        (ROOT / "rubrics" / "ml-health-check.toml").read_text()
    )
    app = make_app(tmp_path, db_url, RUBRICS_DIR=str(rubrics))
    r = app.test_client().post(
        "/api/v1/assignments",
        headers=actors.h("instructor"),
        json={"slug": "b", "rubric": "broken.toml"},
    )
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["field"] == "rubric"
    assert "criteria[0].points: must be greater than 0" in err["message"]


def test_bulk_release_modes(app, client, actors, assignment, enqueued):
    ids = _graded(
        app,
        client,
        actors,
        ["sub-010.md", "sub-015.md", "sub-030.md"],
        who=["learner", "learner2", "instructor2"],
    )
    url = "/api/v1/assignments/ml-health-check/release"
    assert client.post(url, headers=actors.h("instructor"), json={}).get_json()["count"] == 0
    client.post(
        f"/api/v1/submissions/{ids[2]}/overrides",
        headers=actors.h("instructor"),
        json={"criterion": "risk_management", "points": 5, "reason": "Reviewed."},
    )
    r = client.post(url, headers=actors.h("instructor"), json={"mode": "reviewed"})
    assert r.get_json()["released"] == [ids[2]]
    # Without min_confidence the AUTO_RELEASE_CONFIDENCE setting (0.8) applies.
    r = client.post(url, headers=actors.h("instructor"), json={"mode": "confidence"})
    assert r.get_json()["released"] == [ids[0]]
    r = client.post(url, headers=actors.h("instructor"), json={"mode": "all"})
    assert r.get_json()["released"] == [ids[1]]
    r = client.post(
        url, headers=actors.h("instructor"), json={"mode": "confidence", "min_confidence": 2}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "min_confidence"


def test_release_by_confidence_never_releases_a_grade_with_review_reasons(
    app, client, actors, assignment, enqueued
):
    ids = _graded(app, client, actors, ["sub-010.md", "sub-015.md"], who=["learner", "learner2"])
    r = client.post(
        "/api/v1/assignments/ml-health-check/release",
        headers=actors.h("instructor"),
        json={"mode": "confidence", "min_confidence": 0},
    )
    assert r.get_json()["released"] == [ids[0]]  # sub-015 carries a penalty reason


def test_regrade_dry_run_then_real_keeps_overrides(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    import shutil

    from .conftest import ROOT

    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", rubrics / "ml-health-check.toml")
    app.config["RUBRICS_DIR"] = str(rubrics)
    (sid,) = _graded(app, client, actors, ["sub-020.md"])
    client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("instructor"),
        json={"criterion": "risk_management", "points": 11, "reason": "Kept."},
    )
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    before = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    url = "/api/v1/assignments/ml-health-check/regrade"
    staff = actors.h("instructor")

    def dry_run() -> dict:
        r = client.post(url + "?dry_run=1", headers=staff)
        assert r.status_code == 202 and r.get_json()["job"]["kind"] == "regrade_preview"
        job = client.get(r.headers["Location"], headers=staff).get_json()
        assert job["status"] == "done", job
        return job["result"]

    first = dry_run()
    assert first["changes"] == [] and first["unchanged"] == 1
    # The instructor changes the rubric: Problem Identification becomes easier to satisfy.
    path = rubrics / "ml-health-check.toml"
    path.write_text(
        path.read_text().replace(
            "curve = { zero = 0.36, full = 0.98 }", "curve = { zero = 0.2, full = 0.7 }"
        )
    )
    dry = dry_run()
    assert len(dry["changes"]) == 1
    change = dry["changes"][0]
    assert change["after"] > change["before"]
    assert change["criteria"]["risk_management"] == {"before": 11, "after": 11}
    unchanged = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor"))
    assert unchanged.get_json()["grade"] == before["grade"]  # dry run wrote nothing
    r = client.post(url, headers=staff)
    assert r.status_code == 202 and jobs_inline == [sid]
    job = client.get(r.headers["Location"], headers=staff).get_json()
    assert job["kind"] == "regrade" and job["result"] == {"queued": 1, "submissions": 1}
    assert run_worker_inline(app, sid) == "graded"
    after = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert after["status"] == "released"
    assert after["grade"]["rubric_version"] == dry["rubric_version"]
    assert after["grade"]["total"] == change["after"]
    rm = next(c for c in after["grade"]["criteria"] if c["id"] == "risk_management")
    assert rm["points"] == 11 and rm["source"] == "override"
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()["events"]
    assert history[-1]["action"] == "regraded"


def test_many_regrades_never_fail_a_healthy_submission(
    app, client, actors, assignment, enqueued, jobs_inline, tmp_path
):
    """Deliveries are counted to stop an answer that keeps killing its worker; a finished
    grading resets the count, so rubric change after rubric change regrades the same answer
    more times than the limit of deliveries without failing it."""
    import shutil

    from grader.service.models import Submission

    from .conftest import ROOT

    rubrics = tmp_path / "rub"
    rubrics.mkdir()
    path = rubrics / "ml-health-check.toml"
    shutil.copy(ROOT / "rubrics" / "ml-health-check.toml", path)
    app.config["RUBRICS_DIR"] = str(rubrics)
    (sid,) = _graded(app, client, actors, ["sub-020.md"])
    url = "/api/v1/assignments/ml-health-check/regrade"
    for zero in (0.30, 0.31, 0.32, 0.33, 0.34):  # five rubric versions, limit is 3
        path.write_text(
            path.read_text().replace("zero = 0.36, full = 0.98", f"zero = {zero}, full = 0.98")
        )
        assert client.post(url, headers=actors.h("instructor")).status_code == 202
        assert jobs_inline[-1] == sid
        assert run_worker_inline(app, sid) == "graded"
        with app.app_context(), app.extensions["db"].session_scope() as s:
            assert s.get(Submission, sid).deliveries == 0
        path.write_text(
            path.read_text().replace(f"zero = {zero}, full = 0.98", "zero = 0.36, full = 0.98")
        )
    body = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert body["status"] == "graded"


def test_gradebook_csv(app, client, actors, assignment, enqueued):
    import grader.service.models as m

    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(m.User, actors.id("learner2")).name = '=HYPERLINK("http://evil")'
    ids = _graded(app, client, actors, ["sub-010.md", "sub-020.md"], who=["learner", "learner2"])
    client.post(f"/api/v1/submissions/{ids[0]}/release", headers=actors.h("instructor"))
    r = client.get("/api/v1/assignments/ml-health-check/grades.csv", headers=actors.h("instructor"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [int(row["submission"]) for row in rows] == ids
    assert rows[0]["status"] == "released" and float(rows[0]["total"]) > 80
    assert {
        "problem_identification",
        "prioritization",
        "solution_design",
        "risk_management",
    } <= set(rows[0])
    assert rows[1]["learner"].startswith("'=")  # no formula injection


def test_a_resubmission_after_release_keeps_the_released_grade_in_the_gradebook(
    app, client, actors, assignment, enqueued
):
    import grader.service.models as m

    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(m.User, actors.id("learner")).email = "lena@example.test"
    (first,) = _graded(app, client, actors, ["sub-010.md"])
    client.post(f"/api/v1/submissions/{first}/release", headers=actors.h("instructor"))
    released = client.get(f"/api/v1/submissions/{first}", headers=actors.h("learner")).get_json()
    # The learner sends a new version, still waiting for its grade.
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=(HEALTH / "sub-020.md").read_text(),
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    second = r.get_json()["id"]
    text = client.get(
        "/api/v1/assignments/ml-health-check/grades.csv", headers=actors.h("instructor")
    ).get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert int(row["submission"]) == second and row["status"] == "queued" and row["total"] == ""
    assert row["email"] == "lena@example.test"
    assert row["released_version"] == "1"
    assert float(row["released_total"]) == released["grade"]["total"]


def test_the_gradebook_counts_the_latest_or_the_best_released_grade(
    app, client, actors, assignment, enqueued
):
    def submit_and_release(name: str) -> float:
        (sid,) = _graded(app, client, actors, [name])
        client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
        mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
        return mine["grade"]["total"]

    def counted() -> tuple[str, float]:
        text = client.get(
            "/api/v1/assignments/ml-health-check/grades.csv", headers=actors.h("instructor")
        ).get_data(as_text=True)
        (row,) = list(csv.DictReader(io.StringIO(text)))
        return row["released_version"], float(row["released_total"])

    good = submit_and_release("sub-010.md")  # version 1, the better answer
    weak = submit_and_release("sub-020.md")  # version 2, released later
    assert good > weak
    assert counted() == ("2", weak)  # the default: the latest released
    r = client.patch(
        "/api/v1/assignments/ml-health-check",
        json={"counted_grade": "best"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["counted_grade"] == "best"
    assert counted() == ("1", good)
    r = client.patch(
        "/api/v1/assignments/ml-health-check",
        json={"counted_grade": "highest"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "counted_grade"


def test_gradebook_export_reads_in_pages_with_the_same_rows(
    app, client, actors, assignment, enqueued
):
    """The export reads a page of submissions at a time (two queries a page, not two a row):
    any page size gives the same rows, overrides included."""
    from sqlalchemy import select

    from grader.service.models import Assignment
    from grader.service.operations.exports import gradebook_csv

    ids = _graded(app, client, actors, ["sub-010.md", "sub-020.md"], who=["learner", "learner2"])
    r = client.post(
        f"/api/v1/submissions/{ids[1]}/overrides",
        json={"criterion": "risk_management", "points": 3, "reason": "rollback plan missing"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 201
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalars(select(Assignment)).one().id
        whole = list(gradebook_csv(s, a))
        paged = list(gradebook_csv(s, a, batch=1))
    assert paged == whole and len(whole) == 3  # the header and two learners
    rows = list(csv.DictReader(io.StringIO("".join(whole))))
    assert [r["source"] for r in rows] == ["grader", "override"]
    assert float(rows[1]["risk_management"]) == 3.0


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readiness_reports_unreachable_broker(tmp_path, db_url):
    from .conftest import make_app

    app = make_app(tmp_path, db_url, BROKER_URL="redis://127.0.0.1:1/0")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["checks"]["broker"].startswith("unreachable")


def test_unknown_routes_use_the_envelope(client, actors):
    r = client.get("/api/v1/nothing-here", headers=actors.h("learner"))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.put("/api/v1/review-queue", headers=actors.h("instructor"))
    assert r.status_code == 405 and r.get_json()["error"]["status"] == 405


def test_review_reasons_reach_staff_and_the_queue_but_not_learners(
    app, client, actors, assignment, enqueued
):
    """A grade's review reasons are stored with it, shown to staff in the submission and
    the queue (which filters by them), and never shown to the learner."""
    ids = _graded(app, client, actors, ["sub-010.md", "sub-015.md"], who=["learner", "learner2"])
    staff = client.get(f"/api/v1/submissions/{ids[1]}", headers=actors.h("instructor"))
    reasons = staff.get_json()["grade"]["review_reasons"]
    assert "penalty" in {r["code"] for r in reasons} and all(r["message"] for r in reasons)
    q = _queue(client, actors, reason="penalty")
    assert [i["id"] for i in q["items"]] == [ids[1]]
    assert "penalty" in q["items"][0]["review_reasons"]
    assert _queue(client, actors, reason="language")["total"] == 0
    clean = next(i for i in _queue(client, actors)["items"] if i["id"] == ids[0])
    assert clean["review_reasons"] == []
    client.post(f"/api/v1/submissions/{ids[1]}/release", headers=actors.h("instructor"))
    mine = client.get(f"/api/v1/submissions/{ids[1]}", headers=actors.h("learner2"))
    assert mine.status_code == 200 and "grade" in mine.get_json()
    assert "review_reasons" not in mine.get_json()["grade"]


def test_csv_cells_are_neutralised_in_every_disguise():
    from grader.service.operations.exports import safe_cell

    for formula in ("=1+1", "\uff1dSUM(A1)", "\u200b=1", " =1", "\u00a0+1", "@x", "-2"):
        assert safe_cell(formula).startswith("'"), formula
    assert safe_cell("Ada Lovelace") == "Ada Lovelace" and safe_cell(3.5) == 3.5


def test_a_dry_run_the_worker_cannot_take_is_a_503_and_a_regrade_still_switches(
    app, client, actors, assignment, enqueued, monkeypatch
):
    import grader.service.api.assignments as assignments_api
    from grader.service.models import Job, JobStatus

    monkeypatch.setattr(assignments_api, "enqueue_job", lambda job_id: False)
    url = "/api/v1/assignments/ml-health-check/regrade"
    r = client.post(url + "?dry_run=1", headers=actors.h("instructor"))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"]["code"] == "worker_unavailable"
    # A regrade is recorded and its version applied; the reconciler sends what lacks a grade.
    r = client.post(url, headers=actors.h("instructor"))
    assert r.status_code == 202 and r.get_json()["job"]["status"] == "failed"
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert [j.status for j in s.query(Job).order_by(Job.id)] == [JobStatus.FAILED] * 2
    # Learners may not see jobs; an unknown job is a 404.
    assert client.get("/api/v1/jobs/1", headers=actors.h("learner")).status_code == 403
    assert client.get("/api/v1/jobs/99", headers=actors.h("instructor")).status_code == 404


@pytest.mark.parametrize("sort", ["confidence", "-confidence", "time", "-time", "total", "-total"])
def test_the_queue_by_cursor_is_the_queue_by_page(app, client, actors, assignment, enqueued, sort):
    """Walking the queue by next_cursor gives exactly the rows of the offset pages, in every
    sort order, ungraded rows (no confidence, no total) included at the end."""
    from sqlalchemy import select

    from grader.service.models import Assignment, Role, User
    from grader.service.operations.submissions import submit

    answers = sorted(HEALTH.glob("sub-0[0-3]*.md"))[:7]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        a = s.scalar(select(Assignment.id).where(Assignment.slug == assignment))
        ids = []
        for i, path in enumerate(answers):
            learner = User(name=f"Walker {i}", email=f"walker{i}@example.org", role=Role.LEARNER)
            s.add(learner)
            s.flush()
            sub, _ = submit(s, a, learner.id, path.read_text())
            ids.append(sub.id)
    for sid in ids[:5]:  # two stay queued: their confidence and total are NULL
        run_worker_inline(app, sid)
    h = actors.h("instructor")
    params = {"status": "all", "sort": sort, "per_page": 2}
    by_page = []
    for page in range(1, 5):
        body = client.get("/api/v1/review-queue", headers=h, query_string={**params, "page": page})
        by_page += [item["id"] for item in body.get_json()["items"]]
    by_cursor, cursor = [], None
    for _ in range(5):
        q = {**params, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/review-queue", headers=h, query_string=q).get_json()
        by_cursor += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(by_page) == sorted(ids) and by_cursor == by_page
    other = "time" if sort.lstrip("-") != "time" else "total"
    first = client.get("/api/v1/review-queue", headers=h, query_string=params).get_json()
    for bad in ("nonsense", "e30", first["next_cursor"]):
        r = client.get(
            "/api/v1/review-queue",
            headers=h,
            query_string={**params, "sort": other, "cursor": bad},
        )
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "cursor"


def test_an_override_comment_reaches_the_learner_instead_of_the_automatic_feedback(
    app, client, actors, assignment, enqueued
):
    (sid,) = _graded(app, client, actors, ["sub-020.md"])
    staff = actors.h("instructor")
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=staff,
        json={
            "criterion": "risk_management",
            "points": 15,
            "reason": "Grader missed the rollback table (audit only).",
            "comment": "Your rollback plan is complete; the metrics are concrete.",
        },
    )
    assert r.status_code == 201
    client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=staff,
        json={"criterion": "prioritization", "points": 20, "reason": "Order is justified."},
    )
    client.post(f"/api/v1/submissions/{sid}/release", headers=staff)
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    by_id = {c["id"]: c for c in mine["grade"]["criteria"]}
    rm, pr = by_id["risk_management"], by_id["prioritization"]
    assert rm["feedback"] == "Your rollback plan is complete; the metrics are concrete."
    assert rm["points"] == 15 and rm["evidence"] == [] and "override" not in rm
    assert pr["feedback"] == "Your instructor reviewed this criterion and set its points."
    assert "audit only" not in str(mine)  # the reason never reaches the learner
    seen = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["grade"]
    staff_rm = next(c for c in seen["criteria"] if c["id"] == "risk_management")
    assert staff_rm["override"]["comment"].startswith("Your rollback plan")
    assert staff_rm["override"]["reason"].startswith("Grader missed")
    too_long = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=staff,
        json={"criterion": "risk_management", "points": 1, "reason": "r", "comment": "x" * 6000},
    )
    assert too_long.status_code == 422 and too_long.get_json()["error"]["field"] == "comment"


def test_gradebook_as_json_lines_has_typed_values_and_the_counted_grade(
    app, client, actors, assignment, enqueued
):
    import json

    import grader.service.models as m

    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(m.User, actors.id("learner")).external_id = "stu-7"
    ids = _graded(app, client, actors, ["sub-010.md", "sub-020.md"], who=["learner", "learner2"])
    client.post(f"/api/v1/submissions/{ids[0]}/release", headers=actors.h("instructor"))
    r = client.get(
        "/api/v1/assignments/ml-health-check/grades.jsonl", headers=actors.h("instructor")
    )
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    rows = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert [row["submission"] for row in rows] == ids
    first, second = rows
    assert first["external_id"] == "stu-7" and first["status"] == "released"
    assert isinstance(first["total"], float) and set(first["points"]) >= {"risk_management"}
    assert first["counted"]["version"] == 1 and first["counted"]["total"] == first["total"]
    assert second["counted"] is None and second["late"] is False
    assert (
        client.get(
            "/api/v1/assignments/ml-health-check/grades.jsonl", headers=actors.h("learner")
        ).status_code
        == 403
    )


def test_the_queue_counts_up_to_its_limit_and_pages_on_past_it(
    app, client, actors, assignment, enqueued, monkeypatch
):
    """Past COUNT_LIMIT matches the count stops (it would otherwise read every matching
    row for each page): total is the limit, total_capped says so, the page says "more
    than", and the cursor still walks every answer."""
    from grader.service.operations import queue

    ids = _graded(
        app,
        client,
        actors,
        ["sub-010.md", "sub-015.md", "sub-030.md"],
        who=["learner", "learner2", "instructor2"],
    )
    assert _queue(client, actors)["total_capped"] is False
    monkeypatch.setattr(queue, "COUNT_LIMIT", 2)
    q = _queue(client, actors, per_page=1, assignment="ml-health-check")
    assert (q["total"], q["total_capped"], q["pages"]) == (2, True, 2)
    seen = [i["id"] for i in q["items"]]
    while q["next_cursor"]:
        q = _queue(client, actors, per_page=1, cursor=q["next_cursor"])
        seen += [i["id"] for i in q["items"]]
    assert sorted(seen) == sorted(ids)
    # Exactly at the limit is exact.
    monkeypatch.setattr(queue, "COUNT_LIMIT", 3)
    assert _queue(client, actors)["total"] == 3 and _queue(client, actors)["total_capped"] is False


@pytest.mark.parametrize("sort", ["confidence", "-confidence", "total", "-time"])
def test_a_cursor_walks_from_the_graded_answers_into_the_ungraded_tail(
    app, client, actors, assignment, enqueued, sort
):
    graded_ids = _graded(
        app, client, actors, ["sub-010.md", "sub-015.md"], who=["learner", "learner2"]
    )
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=(HEALTH / "sub-030.md").read_text(),
        headers={**actors.h("instructor2"), "Content-Type": "text/markdown"},
    )
    queued = r.get_json()["id"]  # not graded: no confidence, no total, at the end
    q = _queue(client, actors, per_page=1, status="all", sort=sort)
    seen = [i["id"] for i in q["items"]]
    while q["next_cursor"]:
        q = _queue(client, actors, per_page=1, status="all", sort=sort, cursor=q["next_cursor"])
        seen += [i["id"] for i in q["items"]]
    assert sorted(seen) == sorted([*graded_ids, queued]) and len(seen) == 3
    if sort != "-time":
        assert seen[-1] == queued
