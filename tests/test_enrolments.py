"""Courses: a restricted assignment exists only for its enrolled learners (API, pages,
submitting), staff manage who is in it, and platforms' webhook learners are not held back."""

from __future__ import annotations

from .browser.support import add_assignment, add_web_users, csrf_from, login

SLUG = "ml-health-check"
SUBMIT = f"/api/v1/assignments/{SLUG}/submissions"


def _restrict(client, actors, on=True):
    r = client.patch(
        f"/api/v1/assignments/{SLUG}", json={"restricted": on}, headers=actors.h("instructor")
    )
    assert r.status_code == 200 and r.get_json()["restricted"] is on


def _email(app, actors, who, email):
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        session.get(User, actors.id(who)).email = email


def test_a_restricted_assignment_exists_only_for_its_learners(
    app, client, actors, assignment, enqueued
):
    _email(app, actors, "learner", "lena@course.example")
    _email(app, actors, "learner2", "leo@course.example")
    _restrict(client, actors)
    r = client.post(
        f"/api/v1/assignments/{SLUG}/learners",
        json={"emails": ["LENA@course.example", "lena@course.example"]},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200
    assert [u["email"] for u in r.get_json()["added"]] == ["lena@course.example"]
    # Enrolled: sees it and submits. Not enrolled: it does not exist.
    listed = client.get("/api/v1/assignments", headers=actors.h("learner")).get_json()
    assert [a["slug"] for a in listed["items"]] == [SLUG]
    assert client.get("/api/v1/assignments", headers=actors.h("learner2")).get_json() == {
        "items": []
    }
    assert (
        client.get(f"/api/v1/assignments/{SLUG}", headers=actors.h("learner2")).status_code == 404
    )
    headers = {"Content-Type": "text/markdown"}
    ok = client.post(SUBMIT, data="## Step 1\nAUC 0.78", headers={**actors.h("learner"), **headers})
    assert ok.status_code == 202
    no = client.post(
        SUBMIT, data="## Step 1\nAUC 0.78", headers={**actors.h("learner2"), **headers}
    )
    assert no.status_code == 404 and no.get_json()["error"]["code"] == "not_found"
    # Staff always see it.
    assert client.get(f"/api/v1/assignments/{SLUG}", headers=actors.h("admin")).status_code == 200
    # Unknown or non-learner addresses refuse the whole request.
    r = client.post(
        f"/api/v1/assignments/{SLUG}/learners",
        json={"emails": ["leo@course.example", "ghost@course.example"]},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and "ghost@course.example" in r.get_json()["error"]["message"]
    course = client.get(f"/api/v1/assignments/{SLUG}/learners", headers=actors.h("instructor"))
    assert course.get_json()["total"] == 1
    # Taken out: gone again for them; their submission stays theirs to read.
    sid = ok.get_json()["id"]
    r = client.delete(
        f"/api/v1/assignments/{SLUG}/learners/{actors.id('learner')}",
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["total"] == 0
    assert client.get(f"/api/v1/assignments/{SLUG}", headers=actors.h("learner")).status_code == 404
    assert client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).status_code == 200
    assert (
        client.delete(
            f"/api/v1/assignments/{SLUG}/learners/{actors.id('learner')}",
            headers=actors.h("instructor"),
        ).status_code
        == 404
    )
    # Learners manage nothing here.
    assert (
        client.post(
            f"/api/v1/assignments/{SLUG}/learners",
            json={"emails": ["leo@course.example"]},
            headers=actors.h("learner"),
        ).status_code
        == 403
    )
    # Open again: everyone.
    _restrict(client, actors, False)
    assert (
        client.get(f"/api/v1/assignments/{SLUG}", headers=actors.h("learner2")).status_code == 200
    )


def test_the_course_page_manages_learners_and_the_pages_respect_it(app):
    add_assignment(app)
    people = add_web_users(app)
    staff = app.test_client()
    assert login(staff, people["instructor"]).status_code == 303

    def token(path=f"/dashboard/{SLUG}/learners"):
        return csrf_from(staff.get(path).get_data(as_text=True))

    r = staff.post(f"/dashboard/{SLUG}/restricted", data={"csrf_token": token(), "restricted": "1"})
    assert r.status_code == 303
    r = staff.post(
        f"/dashboard/{SLUG}/learners",
        data={"csrf_token": token(), "emails": f"{people['learner'].email}, nobody@x.example"},
    )
    assert r.status_code == 422 and "nobody@x.example" in r.get_data(as_text=True)
    assert "Nobody was added" in r.get_data(as_text=True)
    r = staff.post(
        f"/dashboard/{SLUG}/learners",
        data={"csrf_token": token(), "emails": people["learner"].email},
    )
    assert r.status_code == 303
    page = staff.get(f"/dashboard/{SLUG}/learners").get_data(as_text=True)
    assert people["learner"].email in page and "(1)" in page

    inside, outside = app.test_client(), app.test_client()
    login(inside, people["learner"])
    login(outside, people["learner2"])
    assert "ML System Health Check" in inside.get("/").get_data(as_text=True)
    assert "ML System Health Check" not in outside.get("/").get_data(as_text=True)
    assert inside.get(f"/assignments/{SLUG}").status_code == 200
    assert outside.get(f"/assignments/{SLUG}").status_code == 404
    csrf = csrf_from(outside.get("/notifications").get_data(as_text=True))
    r = outside.post(
        f"/assignments/{SLUG}/submit", data={"csrf_token": csrf, "content": "## Step 1\nx"}
    )
    assert r.status_code == 404  # the assignment does not exist for them: nothing stored
    learner_id = people["learner"].id
    r = staff.post(f"/dashboard/{SLUG}/learners/{learner_id}/remove", data={"csrf_token": token()})
    assert r.status_code == 303
    assert inside.get(f"/assignments/{SLUG}").status_code == 404


def test_the_too_large_page_does_not_show_a_restricted_assignment(app):
    import io

    add_assignment(app)
    people = add_web_users(app)
    staff = app.test_client()
    login(staff, people["instructor"])
    csrf = csrf_from(staff.get(f"/dashboard/{SLUG}/learners").get_data(as_text=True))
    staff.post(f"/dashboard/{SLUG}/restricted", data={"csrf_token": csrf, "restricted": "1"})
    app.config["MAX_SUBMISSION_BYTES"] = 2048
    outside = app.test_client()
    login(outside, people["learner2"])
    token = csrf_from(outside.get("/notifications").get_data(as_text=True))
    r = outside.post(
        f"/assignments/{SLUG}/submit",
        data={"csrf_token": token, "upload": (io.BytesIO(b"x" * 200_000), "a.md")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 413
    assert "ML System Health Check" not in r.get_data(as_text=True)


def test_odd_ids_are_404_not_500(client, actors, assignment):
    for ident in ("99999999999999999999", "4294967296"):
        r = client.delete(
            f"/api/v1/assignments/{SLUG}/learners/{ident}", headers=actors.h("instructor")
        )
        assert r.status_code == 404
    r = client.post(
        f"/api/v1/assignments/{SLUG}/learners",
        json={"emails": ["a\u0000@x.example"]},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422
