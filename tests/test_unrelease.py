"""Withdrawing a released grade (with a reason the learner is told) and release embargoes."""

from __future__ import annotations

from datetime import timedelta

from grader.service.models import utcnow

from .conftest import graded


def _graded(app, client, actors) -> int:
    return graded(app, client, actors)


def test_a_withdrawn_grade_is_hidden_again_and_the_learner_is_told(
    app, client, actors, assignment, enqueued
):
    sid = _graded(app, client, actors)
    assert client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease", json={"reason": " "}, headers=actors.h("instructor")
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease",
        json={"reason": "Risk management was graded on the wrong answer."},
        headers=actors.h("learner"),
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease",
        json={"reason": "Risk management was graded on the wrong answer."},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["status"] == "graded"
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["grade"] is None and mine["released_at"] is None
    notes = client.get("/api/v1/notifications", headers=actors.h("learner")).get_json()
    assert notes["items"][0]["kind"] == "grade_unreleased"
    assert "graded on the wrong answer" in notes["items"][0]["body"]
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()
    last = history["events"][-1]
    assert last["action"] == "unreleased" and "wrong answer" in last["reason"]
    # Only a released grade can be withdrawn; it can be released again.
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease", json={"reason": "x"}, headers=actors.h("instructor")
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_released"
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 200 and r.get_json()["status"] == "released"


def test_an_embargo_holds_every_release_until_its_time(app, client, actors, assignment, enqueued):
    sid = _graded(app, client, actors)
    later = (utcnow() + timedelta(days=1)).isoformat()
    r = client.patch(
        "/api/v1/assignments/ml-health-check",
        json={"release_after": later},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["release_after"]
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "embargoed"
    r = client.post(
        "/api/v1/assignments/ml-health-check/release",
        json={"mode": "all"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "embargoed"
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["status"] == "graded" and mine["grade"] is None
    client.patch(
        "/api/v1/assignments/ml-health-check",
        json={"release_after": None},
        headers=actors.h("instructor"),
    )
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 200


def test_the_review_page_withdraws_with_a_reason(app, client, actors, assignment, enqueued):
    from .browser.support import add_web_users, csrf_from, login

    people = add_web_users(app)
    sid = _graded(app, client, actors)
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    staff = app.test_client()
    login(staff, people["instructor"])
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert 'id="unrelease-form"' in page
    r = staff.post(
        f"/review/submissions/{sid}/unrelease",
        data={"csrf_token": csrf_from(page), "reason": "Wrong rubric version."},
    )
    assert r.status_code == 303
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert "Withdrawn" in page and 'id="unrelease-form"' not in page


def test_a_withdrawn_grade_is_not_released_again_unseen(app, client, actors, assignment, enqueued):
    sid = _graded(app, client, actors)
    client.post(f"/api/v1/submissions/{sid}/confirm", headers=actors.h("instructor"))
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    client.post(
        f"/api/v1/submissions/{sid}/unrelease",
        json={"reason": "graded on the wrong answer"},
        headers=actors.h("instructor"),
    )
    r = client.post(
        "/api/v1/assignments/ml-health-check/release",
        json={"mode": "reviewed"},
        headers=actors.h("instructor2"),
    )
    assert r.status_code == 200 and sid not in r.get_json().get("released", [])
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["status"] == "graded"
    # NUL characters in free text are a clear 422 (PostgreSQL cannot store them).
    r = client.post(
        f"/api/v1/submissions/{sid}/unrelease",
        json={"reason": "a\u0000b"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
