"""Regrade requests and notifications through the API: who may ask and answer, when, the
queue's filter, the history, platform events and the in-app notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from .conftest import HEALTH, graded, run_worker_inline

SUBMIT = "/api/v1/assignments/ml-health-check/submissions"


def _released(app, client, actors, who="learner", name="sub-029.md", key="k1") -> int:
    return graded(app, client, actors, who, name, key=key, release=True)


def _ask(
    client,
    actors,
    sid,
    criterion="risk_management",
    message="Please look at step 3.",
    who="learner",
):
    return client.post(
        f"/api/v1/submissions/{sid}/regrade-requests",
        headers=actors.h(who),
        json={"criterion": criterion, "message": message},
    )


def _notes(client, actors, who):
    r = client.get("/api/v1/notifications", headers=actors.h(who))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_learner_asks_instructor_answers_and_both_are_told(
    app, client, actors, assignment, enqueued
):
    sid = _released(app, client, actors)
    released = _notes(client, actors, "learner")
    assert released["unread"] == 1
    assert released["items"][0]["kind"] == "grade_released"
    assert released["items"][0]["link"] == f"/submissions/{sid}"

    r = _ask(client, actors, sid)
    assert r.status_code == 201, r.get_json()
    req = r.get_json()
    assert req["status"] == "open" and req["outcome"] is None

    # The instructor hears of it and finds it in the queue's filter, flagged.
    staff = _notes(client, actors, "instructor")
    assert staff["unread"] == 1 and staff["items"][0]["kind"] == "regrade_requested"
    assert "Please look at step 3." in staff["items"][0]["body"]
    queue = client.get(
        "/api/v1/review-queue",
        headers=actors.h("instructor"),
        query_string={"status": "released", "requests": "open"},
    ).get_json()
    assert [i["id"] for i in queue["items"]] == [sid]
    assert queue["items"][0]["open_requests"] == 1

    # Asking twice about the same criterion of the same version is refused.
    again = _ask(client, actors, sid)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_requested"

    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "changed", "reply": "You did plan a rollback: 18 points.", "points": 18},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["outcome"] == "changed"

    # The learner sees the new points with the reply as the instructor's comment.
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    rm = next(c for c in mine["grade"]["criteria"] if c["id"] == "risk_management")
    assert rm["points"] == 18 and rm["source"] == "override"
    assert "rollback" in rm["feedback"]
    listed = client.get(
        f"/api/v1/submissions/{sid}/regrade-requests", headers=actors.h("learner")
    ).get_json()
    assert listed["items"][0]["reply"] == "You did plan a rollback: 18 points."
    assert listed["window_closes_at"] is not None
    learner = _notes(client, actors, "learner")
    assert learner["unread"] == 2 and learner["items"][0]["kind"] == "regrade_answered"

    # No longer open: out of the filter; the whole exchange is in the history.
    queue = client.get(
        "/api/v1/review-queue",
        headers=actors.h("instructor"),
        query_string={"status": "released", "requests": "open"},
    ).get_json()
    assert queue["items"] == []
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()
    actions = [e["action"] for e in history["events"]]
    assert actions[-3:] == ["regrade_requested", "override", "regrade_answered"]

    # Answered once only.
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "kept", "reply": "again"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_answered"


def test_kept_answer_changes_nothing_but_tells_the_learner(
    app, client, actors, assignment, enqueued
):
    sid = _released(app, client, actors)
    before = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    req = _ask(client, actors, sid, "prioritization").get_json()
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("instructor2"),
        json={"outcome": "kept", "reply": "Drift comes first in the guide."},
    )
    assert r.status_code == 200
    after = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert after["grade"]["total"] == before["grade"]["total"]
    # Points with "kept" are a contradiction, not silently ignored.
    req2 = _ask(client, actors, sid, "solution_design").get_json()
    r = client.post(
        f"/api/v1/regrade-requests/{req2['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "kept", "reply": "fine", "points": 3},
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "points"
    r = client.post(
        f"/api/v1/regrade-requests/{req2['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "changed", "reply": "fine"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "points_required"
    r = client.post(
        f"/api/v1/regrade-requests/{req2['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "changed", "reply": "fine", "points": 999},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_points"


def test_who_may_ask_and_when(app, client, actors, assignment, enqueued):
    r = client.post(
        SUBMIT,
        data=(HEALTH / "sub-029.md").read_text(),
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    sid = r.get_json()["id"]
    run_worker_inline(app, sid)
    # Not released yet.
    r = _ask(client, actors, sid)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_released"
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    # Another learner cannot see it at all; staff do not ask; platforms neither.
    assert _ask(client, actors, sid, who="learner2").status_code == 404
    assert _ask(client, actors, sid, who="instructor").status_code == 403
    # Bad fields name themselves.
    r = _ask(client, actors, sid, criterion="nope")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "criterion"
    r = _ask(client, actors, sid, message="   ")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "message"
    r = _ask(client, actors, sid, message="x" * 5001)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "message"
    r = client.post(
        f"/api/v1/submissions/{sid}/regrade-requests",
        headers=actors.h("learner"),
        json={"criterion": "risk_management", "message": "hi", "extra": 1},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_field"
    # Learners cannot answer; an unknown request is 404.
    req = _ask(client, actors, sid).get_json()
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("learner"),
        json={"outcome": "kept", "reply": "I agree with myself"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/regrade-requests/99999999999/answer",
        headers=actors.h("instructor"),
        json={"outcome": "kept", "reply": "x"},
    )
    assert r.status_code == 404
    assert (
        client.get(
            f"/api/v1/submissions/{sid}/regrade-requests", headers=actors.h("learner2")
        ).status_code
        == 404
    )


def test_window_closes_and_superseded_answers_are_refused(
    app, client, actors, assignment, enqueued
):
    sid = _released(app, client, actors)
    from grader.service.models import Submission

    with app.app_context():
        with app.extensions["db"].session_scope() as session:
            sub = session.get(Submission, sid)
            sub.released_at = sub.released_at - timedelta(days=15)
    r = _ask(client, actors, sid)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "request_window_closed"
    # A newer answer replaces this one: ask about that one.
    r = client.post(
        SUBMIT,
        data=(HEALTH / "sub-010.md").read_text(),
        headers={**actors.h("learner"), "Content-Type": "text/markdown", "Idempotency-Key": "k2"},
    )
    assert r.status_code == 202
    r = _ask(client, actors, sid)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "superseded"


def test_an_open_request_stays_in_the_queue_after_a_resubmission(
    app, client, actors, assignment, enqueued
):
    sid = _released(app, client, actors)
    req = _ask(client, actors, sid).get_json()
    r = client.post(
        SUBMIT,
        data=(HEALTH / "sub-010.md").read_text(),
        headers={**actors.h("learner"), "Content-Type": "text/markdown", "Idempotency-Key": "k2"},
    )
    assert r.status_code == 202
    queue = client.get(
        "/api/v1/review-queue",
        headers=actors.h("instructor"),
        query_string={"status": "all", "requests": "open"},
    ).get_json()
    assert [i["id"] for i in queue["items"]] == [sid]
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "kept", "reply": "Answered on the version you asked about."},
    )
    assert r.status_code == 200


def test_the_instructors_notification_links_to_the_review_page(
    app, client, actors, assignment, enqueued
):
    from .browser.support import add_web_users, signed_in_client

    sid = _released(app, client, actors)
    _ask(client, actors, sid)
    note = client.get("/api/v1/notifications", headers=actors.h("instructor")).get_json()
    assert note["items"][0]["link"] == f"/review/submissions/{sid}"
    people = add_web_users(app)
    staff = signed_in_client(app, people["instructor"])
    assert staff.get(note["items"][0]["link"]).status_code == 200


def test_a_reply_as_long_as_allowed_changes_the_points_too(
    app, client, actors, assignment, enqueued
):
    sid = _released(app, client, actors)
    req = _ask(client, actors, sid).get_json()
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        headers=actors.h("instructor"),
        json={"outcome": "changed", "reply": "y" * 5000, "points": 10},
    )
    assert r.status_code == 200, r.get_json()


def test_two_answers_to_one_request_change_the_grade_once(app, actors, assignment, enqueued):
    """Two instructors answer the same request at the same moment (two sessions that both
    read it open): the second is refused, and the count of open requests stays right."""
    from grader.service.errors import APIError
    from grader.service.models import Override, RegradeRequest, Submission, User
    from grader.service.operations import regrade_requests

    client = app.test_client()
    sid = _released(app, client, actors)
    _ask(client, actors, sid, "risk_management")
    _ask(client, actors, sid, "prioritization")
    db = app.extensions["db"]
    with app.app_context():
        one, two = db.sessionmaker(), db.sessionmaker()
        req1 = one.scalars(select(RegradeRequest).order_by(RegradeRequest.id)).first()
        req2 = two.get(RegradeRequest, req1.id)
        regrade_requests.answer(
            one, req1, one.get(User, actors.id("instructor")), "changed", "a", 18
        )
        one.commit()
        try:
            regrade_requests.answer(
                two, req2, two.get(User, actors.id("instructor2")), "changed", "b", 2
            )
            raise AssertionError("the second answer went through")
        except APIError as exc:
            assert exc.code == "already_answered"
            two.rollback()
        check = db.sessionmaker()
        assert check.scalar(select(func.count()).select_from(Override)) == 1
        assert check.get(Submission, sid).open_requests == 1
        for s in (one, two, check):
            s.close()


@pytest.mark.parametrize("body", [None, {"ids": []}])
def test_notifications_are_read_per_user(app, client, actors, assignment, enqueued, body):
    sid = _released(app, client, actors)
    _released(app, client, actors, who="learner2", key="k9")
    first = _notes(client, actors, "learner")
    assert first["unread"] == 1
    note_id = first["items"][0]["id"]
    # Another user's ids are not theirs to mark.
    r = client.post(
        "/api/v1/notifications/read", headers=actors.h("learner2"), json={"ids": [note_id]}
    )
    assert r.get_json() == {"marked": 0, "unread": 1}
    kwargs = {} if body is None else {"json": body}
    r = client.post("/api/v1/notifications/read", headers=actors.h("learner"), **kwargs)
    assert r.status_code == 200
    expected = {"marked": 1, "unread": 0} if body is None else {"marked": 0, "unread": 1}
    assert r.get_json() == expected
    unread = client.get(
        "/api/v1/notifications", headers=actors.h("learner"), query_string={"unread": "1"}
    ).get_json()
    assert len(unread["items"]) == expected["unread"]
    assert (
        client.get(
            "/api/v1/notifications", headers=actors.h("learner"), query_string={"unread": "2"}
        ).status_code
        == 422
    )
    r = client.post("/api/v1/notifications/read", headers=actors.h("learner"), json={"ids": ["x"]})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "ids"
    assert sid
