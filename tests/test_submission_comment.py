"""The instructor's general comment on an answer: staff set or clear it (API and review
page), the learner reads it only with the released grade, the history keeps each version."""

from __future__ import annotations

from .browser.support import add_web_users, csrf_from, signed_in_client
from .conftest import graded


def test_the_comment_reaches_the_learner_with_the_release(
    app, client, actors, assignment, enqueued
):
    sid = graded(app, client, actors)
    url = f"/api/v1/submissions/{sid}/comment"
    r = client.put(
        url,
        json={"comment": "A clear plan; say more about rollback."},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["comment"].startswith("A clear plan")
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert "comment" not in mine  # not released yet
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["comment"] == "A clear plan; say more about rollback."
    assert client.put(url, json={"comment": "x"}, headers=actors.h("learner")).status_code == 403
    r = client.put(url, json={"comment": "x" * 5001}, headers=actors.h("instructor"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "comment"
    r = client.put(url, json={"comment": None}, headers=actors.h("instructor"))
    assert r.status_code == 200 and "comment" not in r.get_json()
    history = client.get(
        f"/api/v1/submissions/{sid}/history", headers=actors.h("instructor")
    ).get_json()
    assert [e["action"] for e in history["events"]].count("commented") == 2


def test_the_review_page_sets_it_and_the_learner_page_shows_it(
    app, client, actors, assignment, enqueued
):
    people = add_web_users(app)
    from .browser.support import submit_as
    from .conftest import HEALTH, run_worker_inline

    sid = submit_as(app, people["learner"].id, (HEALTH / "sub-029.md").read_text())
    run_worker_inline(app, sid)
    staff = signed_in_client(app, people["instructor"])
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    r = staff.post(
        f"/review/submissions/{sid}/comment",
        data={"csrf_token": csrf_from(page), "comment": "Good <em>work</em> overall."},
    )
    assert r.status_code == 303
    staff.post(f"/review/submissions/{sid}/release", data={"csrf_token": csrf_from(page)})
    learner = signed_in_client(app, people["learner"])
    mine = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert 'id="instructor-comment"' in mine and "Good &lt;em&gt;work&lt;/em&gt; overall." in mine
