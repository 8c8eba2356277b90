"""Deadlines: an assignment's opening and due times and its late policy, the same rule on
every way of submitting (API, pages, platform webhook)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from grader.service.models import utcnow

from .conftest import HEALTH

SLUG = "ml-health-check"
SUBMIT = f"/api/v1/assignments/{SLUG}/submissions"
ANSWER = (HEALTH / "sub-029.md").read_text()


def _times(client, actors, **times):
    body = {k: (v.isoformat() if v is not None else None) for k, v in times.items()}
    r = client.patch(f"/api/v1/assignments/{SLUG}", json=body, headers=actors.h("instructor"))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _submit(client, actors, key=None, who="learner"):
    headers = {**actors.h(who), "Content-Type": "text/markdown"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(SUBMIT, data=ANSWER, headers=headers)


def test_before_the_opening_answers_are_refused_and_say_when(client, actors, assignment, enqueued):
    opens = utcnow() + timedelta(days=1)
    shown = _times(client, actors, opens_at=opens)
    assert shown["opens_at"].startswith(opens.isoformat()[:16]) and shown["due_at"] is None
    r = _submit(client, actors)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_open"
    assert opens.strftime("%Y-%m-%d %H:%M") in r.get_json()["error"]["message"]
    _times(client, actors, opens_at=None)  # reopened at once in this process
    assert _submit(client, actors).status_code == 202


def test_late_answers_are_marked_or_refused_by_the_policy(client, actors, assignment, enqueued):
    on_time = _submit(client, actors, key="first").get_json()["id"]
    _times(client, actors, due_at=utcnow() - timedelta(minutes=1))  # policy: accept
    late = _submit(client, actors, who="learner2").get_json()["id"]
    staff = actors.h("instructor")
    assert client.get(f"/api/v1/submissions/{late}", headers=staff).get_json()["late"] is True
    assert "late" not in client.get(f"/api/v1/submissions/{on_time}", headers=staff).get_json()
    text = client.get(f"/api/v1/assignments/{SLUG}/grades.csv", headers=staff).get_data(
        as_text=True
    )
    rows = {int(r["submission"]): r for r in csv.DictReader(io.StringIO(text))}
    assert rows[late]["late"] == "yes" and rows[on_time]["late"] == ""
    r = client.patch(f"/api/v1/assignments/{SLUG}", json={"late_policy": "refuse"}, headers=staff)
    assert r.get_json()["late_policy"] == "refuse"
    refused = _submit(client, actors, key="again")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "past_due"
    # The request stored in time, repeated after the deadline, still gets its answer.
    replay = _submit(client, actors, key="first")
    assert replay.status_code == 202 and replay.get_json()["id"] == on_time


def test_times_need_a_zone_and_an_order(client, actors, assignment):
    staff = actors.h("instructor")
    url = f"/api/v1/assignments/{SLUG}"
    naive = client.patch(url, json={"due_at": "2026-12-24T18:00:00"}, headers=staff)
    assert naive.status_code == 422 and naive.get_json()["error"]["field"] == "due_at"
    backwards = client.patch(
        url,
        json={"opens_at": "2026-12-25T00:00:00Z", "due_at": "2026-12-24T00:00:00Z"},
        headers=staff,
    )
    assert (
        backwards.status_code == 422
        and "after opens_at" in backwards.get_json()["error"]["message"]
    )
    client.patch(url, json={"opens_at": "2026-12-25T00:00:00Z"}, headers=staff)
    # A due time before the stored opening is refused too.
    r = client.patch(url, json={"due_at": "2026-12-24T00:00:00Z"}, headers=staff)
    assert r.status_code == 422
    policy = client.patch(url, json={"late_policy": "sometimes"}, headers=staff)
    assert policy.get_json()["error"]["code"] == "invalid_late_policy"


def test_the_assignment_page_says_when_and_closes_the_form(app):
    from .browser.support import add_assignment, add_web_users
    from .test_web import _client

    add_assignment(app)
    people = add_web_users(app)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        from sqlalchemy import select

        from grader.service.models import Assignment

        a = s.scalar(select(Assignment).where(Assignment.slug == SLUG))
        a.due_at = utcnow() - timedelta(hours=1)
        a.late_policy = "refuse"
    learner = _client(app, people, "learner")
    page = learner.get(f"/assignments/{SLUG}").get_data(as_text=True)
    assert 'id="window"' in page and "late answers are not accepted" in page
    assert 'id="closed"' in page and 'id="submit-form"' not in page
    r = learner.post(
        f"/assignments/{SLUG}/submit",
        data={"content": ANSWER, "csrf_token": _token_of(learner, SLUG)},
    )
    assert r.status_code == 409 and "takes no late answers" in r.get_data(as_text=True)


def _token_of(client, slug):
    from .browser.support import csrf_from

    return csrf_from(client.get(f"/assignments/{slug}").get_data(as_text=True))
