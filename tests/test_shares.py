"""Splitting the review across instructors: at random (balanced, the same every time) or by
answer group (a group goes whole to one person); each finds their own share in the queue."""

from __future__ import annotations

from .browser.support import add_web_users, csrf_from, login
from .conftest import HEALTH, graded_answers

SLUG = "ml-health-check"


def _mine(client, headers):
    r = client.get(f"/api/v1/review-queue?assignment={SLUG}&reviewer=me", headers=headers)
    assert r.status_code == 200, r.get_json()
    return sorted(i["id"] for i in r.get_json()["items"])


def test_split_at_random_then_by_group(app, client, actors, assignment, enqueued):
    staff, other = actors.h("instructor"), actors.h("instructor2")
    team = [actors.id("instructor"), actors.id("instructor2")]
    base = (HEALTH / "sub-010.md").read_text()
    alike = graded_answers(app, client, [base + f"\n\nRound {i}." for i in range(6)])
    rest = graded_answers(
        app, client, [(HEALTH / n).read_text() for n in ("sub-020.md", "sub-029.md")]
    )
    url = f"/api/v1/assignments/{SLUG}/shares"
    bad = client.post(url, headers=staff, json={"reviewers": [actors.id("learner")]})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "reviewers"
    assert (
        client.post(url, headers=actors.h("learner"), json={"reviewers": team}).status_code == 403
    )

    r = client.post(url, headers=staff, json={"reviewers": team, "mode": "random"})
    assert r.status_code == 200, r.get_json()
    assert sorted(r.get_json()["dealt"].values()) == [4, 4]
    mine, theirs = _mine(client, staff), _mine(client, other)
    assert len(mine) == len(theirs) == 4 and sorted(mine + theirs) == sorted(alike + rest)
    # Dealing again deals nothing new; with reassign, the same answers go the same way.
    again = client.post(url, headers=staff, json={"reviewers": team}).get_json()
    assert sorted(again["dealt"].values()) == [0, 0]
    client.post(url, headers=staff, json={"reviewers": team, "reassign": True})
    assert _mine(client, staff) == mine

    # By group: the six alike answers go whole to one instructor.
    r = client.post(
        url, headers=staff, json={"reviewers": team, "mode": "groups", "reassign": True}
    )
    assert r.status_code == 200
    mine, theirs = _mine(client, staff), _mine(client, other)
    assert set(alike) <= set(mine) or set(alike) <= set(theirs)
    shares = {s["reviewer"]: s for s in client.get(url, headers=staff).get_json()["shares"]}
    assert shares[team[0]]["answers"] + shares[team[1]]["answers"] == 8
    # A reviewed answer counts as done in its reviewer's share.
    first = mine[0]
    assert client.post(f"/api/v1/submissions/{first}/confirm", headers=staff).status_code == 200
    shares = {s["reviewer"]: s for s in client.get(url, headers=staff).get_json()["shares"]}
    assert shares[team[0]]["reviewed"] == 1 and shares[team[0]]["left"] == len(mine) - 1
    bad = client.get("/api/v1/review-queue?reviewer=someone", headers=staff)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "reviewer"


def test_the_dashboard_splits_the_review(app, client, actors, assignment, enqueued):
    graded_answers(app, client, [(HEALTH / n).read_text() for n in ("sub-020.md", "sub-029.md")])
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    assert 'id="split-form"' in page
    r = web.post(
        f"/dashboard/{SLUG}/shares",
        data={"csrf_token": csrf_from(page), "reviewers": [str(people["instructor"].id)]},
    )
    assert r.status_code == 303
    page = web.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    assert 'id="shares-table"' in page and "Iris Instructor" in page
    queue = web.get(f"/review?assignment={SLUG}&reviewer=me").get_data(as_text=True)
    assert queue.count("/review/submissions/") >= 2


def test_splitting_as_answers_arrive_stays_balanced_and_released_ones_count_as_done(
    app, client, actors, assignment, enqueued
):
    staff = actors.h("instructor")
    team = [actors.id("instructor"), actors.id("instructor2")]
    url = f"/api/v1/assignments/{SLUG}/shares"
    base = (HEALTH / "sub-010.md").read_text()
    for i in range(4):  # one answer arrives, the review is split again
        graded_answers(app, client, [base + f"\n\nArrival {i}."])
        assert client.post(url, headers=staff, json={"reviewers": team}).status_code == 200
    shares = {s["reviewer"]: s for s in client.get(url, headers=staff).get_json()["shares"]}
    assert [shares[u]["answers"] for u in team] == [2, 2]
    r = client.post(f"/api/v1/assignments/{SLUG}/release", headers=staff, json={"mode": "all"})
    assert r.status_code == 200
    shares = {s["reviewer"]: s for s in client.get(url, headers=staff).get_json()["shares"]}
    assert all(shares[u]["left"] == 0 for u in team)


def test_the_split_form_refuses_what_is_not_an_id(app, client, actors, assignment, enqueued):
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    token = csrf_from(web.get(f"/dashboard/{SLUG}").get_data(as_text=True))
    for value in ("²", "9" * 5000):
        r = web.post(f"/dashboard/{SLUG}/shares", data={"csrf_token": token, "reviewers": value})
        assert r.status_code == 303
    for query in ("?preview=²",):
        assert web.get(f"/dashboard/{SLUG}{query}").status_code == 404
    r = web.post(f"/dashboard/{SLUG}/release", data={"csrf_token": token, "one": "²"})
    assert r.status_code in (303, 422)
