"""The submission API: submit, read, lifecycle, errors, object-level access."""

from __future__ import annotations

import pytest

from .conftest import HEALTH, run_worker_inline

GOOD = (HEALTH / "sub-029.md").read_text()


def _submit(client, actors, who="learner", body=GOOD, **kw):
    headers = {**actors.h(who), "Content-Type": "text/markdown", **kw.pop("headers", {})}
    return client.post(
        "/api/v1/assignments/ml-health-check/submissions", data=body, headers=headers, **kw
    )


def test_submit_markdown_enqueues_after_commit(app, client, actors, assignment, enqueued):
    r = _submit(client, actors)
    assert r.status_code == 202
    body = r.get_json()
    assert body["status"] == "queued" and body["id"] == enqueued[0]
    assert r.headers["Location"] == f"/api/v1/submissions/{body['id']}"
    # The row was committed before the task was sent: a new session sees it.
    with app.app_context():
        from grader.service.models import Submission

        with app.extensions["db"].session_scope() as s:
            assert s.get(Submission, body["id"]).content == GOOD


def test_the_recording_sender_fails_a_send_before_commit(app, actors, assignment):
    """The check the enqueue-after-commit tests rely on can fail: a send from inside the
    transaction that stores the submission is caught."""
    from sqlalchemy import select

    from grader.service.models import Assignment
    from grader.service.operations.submissions import submit

    from .conftest import recording_sender

    with app.app_context():
        session = app.extensions["db"].session
        a = session.scalar(select(Assignment.id))
        sub, _ = submit(session, a, actors.id("learner"), GOOD)
        session.flush()
        with pytest.raises(AssertionError, match="before its commit"):
            recording_sender([])(sub.id)
        session.commit()
        sent: list[int] = []
        recording_sender(sent)(sub.id)
        assert sent == [sub.id]


def test_submit_json_body(client, actors, assignment, enqueued):
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        headers=actors.h("learner"),
        json={"content": GOOD, "metadata": {"lms": "x"}},
    )
    assert r.status_code == 202
    sub = client.get(f"/api/v1/submissions/{r.get_json()['id']}", headers=actors.h("learner"))
    assert sub.get_json()["metadata"] == {"lms": "x"}


def test_full_lifecycle(app, client, actors, assignment, enqueued):
    sid = _submit(client, actors).get_json()["id"]
    learner = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert learner["status"] == "queued" and learner["grade"] is None
    assert run_worker_inline(app, sid) == "graded"
    assert run_worker_inline(app, sid) == "already-graded"  # a redelivery writes nothing
    staff = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert staff["status"] == "graded" and staff["grade"]["total"] > 70
    crit = {c["id"]: c for c in staff["grade"]["criteria"]}
    assert set(crit) == {
        "problem_identification",
        "prioritization",
        "solution_design",
        "risk_management",
    }
    assert all(c["source"] == "grader" for c in crit.values())
    # Before release the learner sees no grade.
    assert (
        client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()["grade"]
        is None
    )
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("instructor"),
        json={"criterion": "risk_management", "points": 20, "reason": "Full marks."},
    )
    assert r.status_code == 201
    assert (
        client.post(
            f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor")
        ).status_code
        == 200
    )
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["status"] == "released"
    rm = next(c for c in mine["grade"]["criteria"] if c["id"] == "risk_management")
    assert rm["points"] == 20 and rm["source"] == "override"
    assert "missing" not in rm and mine["grade"]["source"] == "override"
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()["events"]
    assert [e["action"] for e in history] == ["submitted", "graded", "override", "released"]
    ov = history[2]
    assert ov["actor"]["role"] == "instructor" and ov["reason"] == "Full marks."
    assert ov["after"]["criteria"]["risk_management"] == 20
    assert ov["before"]["criteria"]["risk_management"] != 20


def test_resubmission_supersedes(client, actors, assignment, enqueued):
    first = _submit(client, actors).get_json()
    second = _submit(client, actors, body=GOOD + "\n\nOne more thought.").get_json()
    assert second["version"] == first["version"] + 1
    old = client.get(f"/api/v1/submissions/{first['id']}", headers=actors.h("learner")).get_json()
    assert old["current"] is False and old["superseded_by"] == second["id"]


def test_idempotency_key(client, actors, assignment, enqueued):
    h = {"Idempotency-Key": "abc-123"}
    a = _submit(client, actors, headers=h)
    b = _submit(client, actors, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.get_json()["id"] == b.get_json()["id"] and enqueued == [a.get_json()["id"]]
    c = _submit(client, actors, headers=h, body="something else entirely")
    assert c.status_code == 409 and c.get_json()["error"]["field"] == "Idempotency-Key"
    # Another learner may use the same key independently.
    d = _submit(client, actors, who="learner2", headers=h)
    assert d.status_code == 202 and d.get_json()["id"] != a.get_json()["id"]


def _error(r):
    return r.get_json()["error"]


def test_bad_inputs_get_clear_errors_and_store_nothing(app, client, actors, assignment, enqueued):
    cases = [
        (_submit(client, actors, body=b"\xff\xfe bad"), 422, "body"),
        (_submit(client, actors, body="   \n"), 422, "content"),
        (_submit(client, actors, body="x" * (256 * 1024 + 1)), 413, "body"),
        (
            client.post(
                "/api/v1/assignments/ml-health-check/submissions",
                data="{bad",
                headers={**actors.h("learner"), "Content-Type": "application/json"},
            ),
            422,
            "body",
        ),
        (
            client.post(
                "/api/v1/assignments/ml-health-check/submissions",
                json={"content": 3},
                headers=actors.h("learner"),
            ),
            422,
            "content",
        ),
        (
            client.post(
                "/api/v1/assignments/ml-health-check/submissions",
                data="x",
                headers={**actors.h("learner"), "Content-Type": "image/png"},
            ),
            415,
            "Content-Type",
        ),
    ]
    for r, status, field in cases:
        assert r.status_code == status, r.get_json()
        assert _error(r)["field"] == field and _error(r)["message"]
    r = client.post(
        "/api/v1/assignments/nope/submissions",
        data=GOOD,
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    assert r.status_code == 404 and _error(r)["code"] == "not_found"
    assert enqueued == []
    listed = client.get("/api/v1/submissions", headers=actors.h("learner")).get_json()
    assert listed["items"] == []


def test_size_limit_is_configurable(tmp_path, db_url, actors):
    from .conftest import make_app

    app = make_app(tmp_path, db_url, MAX_SUBMISSION_BYTES=1000)
    client = app.test_client()
    r = client.post(
        "/api/v1/assignments",
        headers=actors.h("instructor"),
        json={"slug": "ml-health-check", "rubric": "ml-health-check.toml"},
    )
    assert r.status_code in (201, 409)
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data="y" * 1001,
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    assert r.status_code == 413


def test_auth_and_roles(client, actors, assignment, enqueued):
    assert client.get("/api/v1/submissions").status_code == 401
    r = client.get("/api/v1/submissions", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    sid = _submit(client, actors).get_json()["id"]
    # Another learner cannot read, and cannot tell it exists.
    other = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner2"))
    assert other.status_code == 404
    assert client.get("/api/v1/submissions/999999", headers=actors.h("learner2")).status_code == 404
    # Learners cannot use staff endpoints.
    for method, url in (
        ("get", "/api/v1/review-queue"),
        ("get", f"/api/v1/submissions/{sid}/history"),
        ("post", f"/api/v1/submissions/{sid}/release"),
        ("get", "/api/v1/assignments/ml-health-check/grades.csv"),
    ):
        r = getattr(client, method)(url, headers=actors.h("learner"))
        assert r.status_code == 403 and _error(r)["code"] == "forbidden"
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("learner"),
        json={"criterion": "prioritization", "points": 25, "reason": "me"},
    )
    assert r.status_code == 403


def test_revoked_token_is_refused(app, client, actors, assignment):
    from grader.service.models import ApiToken, utcnow

    with app.app_context(), app.extensions["db"].session_scope() as s:
        for t in s.query(ApiToken).filter(ApiToken.user_id == actors.id("learner")):
            t.revoked_at = utcnow()
    assert client.get("/api/v1/submissions", headers=actors.h("learner")).status_code == 401


def test_override_validation(app, client, actors, assignment, enqueued):
    sid = _submit(client, actors).get_json()["id"]
    url = f"/api/v1/submissions/{sid}/overrides"
    r = client.post(
        url,
        headers=actors.h("instructor"),
        json={"criterion": "prioritization", "points": 3, "reason": "x"},
    )
    assert r.status_code == 409 and _error(r)["code"] == "not_graded"
    run_worker_inline(app, sid)
    for body, field in (
        ({"criterion": "prioritization", "points": 30, "reason": "x"}, "points"),
        ({"criterion": "prioritization", "points": -1, "reason": "x"}, "points"),
        ({"criterion": "nope", "points": 1, "reason": "x"}, "criterion"),
        ({"criterion": "prioritization", "points": 1}, "reason"),
        ({"criterion": "prioritization", "points": 1, "reason": "  "}, "reason"),
        ({"criterion": "prioritization", "points": "1", "reason": "x"}, "points"),
    ):
        r = client.post(url, headers=actors.h("instructor"), json=body)
        assert r.status_code == 422 and _error(r)["field"] == field, (body, r.get_json())
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()["events"]
    assert [e["action"] for e in history] == ["submitted", "graded"]


def test_release_rules(app, client, actors, assignment, enqueued):
    sid = _submit(client, actors).get_json()["id"]
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 409 and _error(r)["code"] == "not_releasable"
    run_worker_inline(app, sid)
    assert (
        client.post(
            f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor")
        ).status_code
        == 200
    )
    # Releasing twice is harmless.
    assert (
        client.post(
            f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor")
        ).status_code
        == 200
    )


def test_audit_trail_is_append_only(app, client, actors, assignment, enqueued):
    import pytest

    from grader.service.models import AuditEvent

    sid = _submit(client, actors).get_json()["id"]
    with app.app_context(), app.extensions["db"].sessionmaker() as s:
        event = s.query(AuditEvent).filter_by(submission_id=sid).first()
        event.reason = "tampered"
        with pytest.raises(ValueError, match="append-only"):
            s.flush()
        s.rollback()
        with pytest.raises(ValueError, match="append-only"):
            s.delete(s.query(AuditEvent).filter_by(submission_id=sid).first())
            s.flush()
        s.rollback()


def test_one_cleanup_for_every_route(app, client, actors, assignment, enqueued):
    """A byte-order mark and CRLF line ends are gone whichever way the answer came, so the
    same answer gets the same grade; a body that is only a BOM is empty."""
    from grader.service.models import Submission

    plain = _submit(client, actors, body=GOOD).get_json()["id"]
    marked = _submit(
        client,
        actors,
        who="learner2",
        body=("\ufeff" + GOOD.replace("\n", "\r\n")).encode(),
        headers={"Content-Type": "text/markdown; charset=utf-8"},
    ).get_json()["id"]
    with app.app_context():
        session = app.extensions["db"].session
        assert session.get(Submission, plain).content == session.get(Submission, marked).content
    for sid in (plain, marked):
        assert run_worker_inline(app, sid) == "graded"
    totals = [
        client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()[
            "grade"
        ]["total"]
        for sid in (plain, marked)
    ]
    assert totals[0] == totals[1]
    r = _submit(client, actors, body="\ufeff".encode())
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "empty_content"


def test_learners_never_see_why_grading_failed_inside(app, client, actors, assignment, enqueued):
    from grader.service.models import Status, Submission

    sid = _submit(client, actors).get_json()["id"]
    with app.app_context():
        session = app.extensions["db"].session
        sub = session.get(Submission, sid)
        sub.status, sub.failure_reason = Status.FAILED, "grading raised KeyError: 'secret'"
        session.commit()
    learner = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert "KeyError" not in learner["failure_reason"] and learner["failure_reason"]
    staff = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    assert "KeyError" in staff["failure_reason"]


def test_nul_overflow_recursion_and_surrogates_get_4xx_naming_the_field(
    app, client, actors, assignment, enqueued
):
    """Inputs that used to give 500 (on PostgreSQL especially) are refused at the edge."""
    from grader.service.models import Submission

    h = actors.h("instructor")
    r = client.post("/api/v1/webhooks/%00/submissions", data="{}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "path"
    r = client.get("/api/v1/review-queue?flag=a%00b", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "flag"
    r = client.post("/login", data={"email": "a\x00@b.c", "password": "x"})
    assert r.status_code == 400
    sid = _submit(client, actors).get_json()["id"]
    run_worker_inline(app, sid)
    url = f"/api/v1/submissions/{sid}/overrides"
    r = client.post(
        url,
        headers={**h, "Content-Type": "application/json"},
        data='{"criterion": "prioritization", "points": 1' + "0" * 400 + ', "reason": "x"}',
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "points"
    deep = '{"content": ' + "[" * 5000 + "]" * 5000 + "}"
    r = _submit(client, actors, body=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "body"
    r = _submit(
        client, actors, body='{"content": "\\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "body"
    r = client.post(
        "/api/v1/assignments", headers=h, json={"slug": "long", "rubric": "a" * 300 + ".toml"}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "rubric"
    with app.app_context():
        assert app.extensions["db"].session.query(Submission).count() == 1  # nothing stored
