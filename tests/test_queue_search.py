"""Searching the review queue: by learner (name, email, platform id) and by text in the
answer, in the API and on the page (kept in the URL); wildcards are plain characters."""

from __future__ import annotations

from .conftest import HEALTH, run_worker_inline


def _submit(app, client, actors, who, text):
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=text,
        headers={**actors.h(who), "Content-Type": "text/markdown"},
    )
    sid = r.get_json()["id"]
    run_worker_inline(app, sid)
    return sid


def _ids(client, actors, **params):
    r = client.get("/api/v1/review-queue", headers=actors.h("instructor"), query_string=params)
    assert r.status_code == 200, r.get_json()
    return [i["id"] for i in r.get_json()["items"]]


def test_queue_search_by_learner_and_answer_text(app, client, actors, assignment, enqueued):
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        lena = session.get(User, actors.id("learner"))
        lena.name, lena.email, lena.external_id = (
            "Émile Lena Ortiz",
            "lena@course.example",
            "stu-042",
        )
    a = _submit(app, client, actors, "learner", (HEALTH / "sub-029.md").read_text())
    b = _submit(
        app,
        client,
        actors,
        "learner2",
        "## Step 1\n\nWe use Great_Expectations at 100% coverage, ÜBER alles.",
    )
    assert _ids(client, actors, learner="ortiz") == [a]
    assert _ids(client, actors, learner="ÉMILE") == [a]  # letters fold beyond ASCII too
    assert _ids(client, actors, learner="LENA@COURSE") == [a]
    assert _ids(client, actors, learner="stu-042") == [a]
    assert _ids(client, actors, learner="stu-04") == []  # platform ids match whole
    assert _ids(client, actors, text="great_expectations") == [b]
    assert _ids(client, actors, text="100%") == [b]  # % and _ are not wildcards
    assert _ids(client, actors, text="über") == [b]
    assert _ids(client, actors, text="1_0%") == []
    assert sorted(_ids(client, actors, text="  ")) == sorted([a, b])  # blank: no filter
    r = client.get(
        "/api/v1/review-queue", headers=actors.h("instructor"), query_string={"text": "x" * 201}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "text"


def test_the_queue_page_keeps_the_search_in_the_url(app, client, actors, assignment, enqueued):
    from .browser.support import add_web_users, login

    people = add_web_users(app)
    sid = _submit(app, client, actors, "learner", (HEALTH / "sub-029.md").read_text())
    staff = app.test_client()
    login(staff, people["instructor"])
    page = staff.get("/review?learner=Learner&text=drift").get_data(as_text=True)
    assert f'href="/review/submissions/{sid}?pos=0&amp;learner=Learner&amp;text=drift"' in page
    assert 'value="drift"' in page
    assert "Nothing to review" in staff.get("/review?text=no+such+words+here").get_data(
        as_text=True
    )
