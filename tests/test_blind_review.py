"""Blind review: with the assignment's setting on, reviewers see no learner names or ids
until the grade is released (queue, submission, review and groups pages, copy hints), and
a search by learner finds nothing it would reveal; the learner still sees their own."""

from __future__ import annotations

from .browser.support import add_web_users, login
from .conftest import graded

SLUG = "ml-health-check"


def test_reviewers_see_no_names_until_release(app, client, actors, assignment, enqueued):
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        session.get(User, actors.id("learner")).name = "Émile Ortiz"
    staff = actors.h("instructor")
    r = client.patch(f"/api/v1/assignments/{SLUG}", json={"blind_review": "yes"}, headers=staff)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "blind_review"
    r = client.patch(f"/api/v1/assignments/{SLUG}", json={"blind_review": True}, headers=staff)
    assert r.status_code == 200 and r.get_json()["blind_review"] is True
    sid = graded(app, client, actors)

    seen = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()
    assert seen["learner"] == {"id": None, "name": f"Anonymous #{sid}"}
    mine = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("learner")).get_json()
    assert mine["learner"] == {"id": actors.id("learner"), "name": "Émile Ortiz"}
    queue = client.get("/api/v1/review-queue", headers=staff).get_json()
    assert [i["learner"] for i in queue["items"]] == [{"id": None, "name": f"Anonymous #{sid}"}]
    # Searching by the learner would tell who wrote it: it finds nothing while hidden.
    found = client.get("/api/v1/review-queue?learner=ortiz", headers=staff).get_json()
    assert found["items"] == []
    groups = client.get(f"/api/v1/assignments/{SLUG}/groups", headers=staff).get_json()
    assert groups["groups"][0]["learners"] == [f"Anonymous #{sid}"]
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    for page in (
        f"/review/submissions/{sid}",
        f"/review?assignment={SLUG}",
        f"/dashboard/{SLUG}",
        f"/dashboard/{SLUG}/groups",
        f"/submissions/{sid}",
    ):
        html = web.get(page).get_data(as_text=True)
        assert "Ortiz" not in html, page
    for export in (f"/dashboard/{SLUG}/grades.csv", f"/api/v1/assignments/{SLUG}/grades.jsonl"):
        body = (web if export.endswith("csv") else client).get(export, headers=staff).text
        assert "Ortiz" not in body and f"Anonymous #{sid}" in body, export
    assert f"Anonymous #{sid}" in web.get(f"/review/submissions/{sid}").get_data(as_text=True)
    trail = client.get(f"/api/v1/submissions/{sid}/history", headers=staff).get_json()
    assert "Ortiz" not in str(trail) and trail["events"][0]["actor"]["id"] is None

    # Once released, the name is no secret any more.
    assert client.post(f"/api/v1/submissions/{sid}/release", headers=staff).status_code == 200
    seen = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()
    assert seen["learner"] == {"id": actors.id("learner"), "name": "Émile Ortiz"}
    found = client.get("/api/v1/review-queue?learner=ortiz&status=all", headers=staff).get_json()
    assert [i["id"] for i in found["items"]] == [sid]


def test_nothing_links_a_hidden_answer_to_its_learner(
    app, client, actors, assignment, enqueued, jobs_inline
):
    """The regrade's dry run, the list of submissions by learner, the links between a
    learner's versions and the gradebook's order tell nobody who wrote a hidden answer."""
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        session.get(User, actors.id("learner")).name = "Émile Ortiz"
    staff = actors.h("instructor")
    client.patch(f"/api/v1/assignments/{SLUG}", json={"blind_review": True}, headers=staff)
    other = graded(app, client, actors, who="learner2", name="sub-029.md")
    first = graded(app, client, actors, release=True)  # named from now on
    second = graded(app, client, actors, name="sub-020.md")  # the same learner, hidden

    # The regrade's dry run (kept with its job) names the hidden answer as reviewers see it.
    import tomllib

    from grader.scoring import rubric_from_dict
    from grader.service.models import Submission
    from grader.service.operations.grades import regrade_preview

    from .conftest import ROOT

    easier = (
        (ROOT / "rubrics" / "ml-health-check.toml")
        .read_text()
        .replace("curve = { zero = 0.36, full = 0.98 }", "curve = { zero = 0.2, full = 0.7 }")
    )
    with app.app_context(), app.extensions["db"].session_scope() as session:
        change = regrade_preview(
            session, session.get(Submission, second), rubric_from_dict(tomllib.loads(easier))
        )
    assert change is not None and change["learner"] == f"Anonymous #{second}"
    mine = client.get(
        f"/api/v1/submissions?learner={actors.id('learner')}", headers=staff
    ).get_json()
    assert [s["id"] for s in mine["items"]] == [first]  # the hidden one is not listed
    v1 = client.get(f"/api/v1/submissions/{first}", headers=staff).get_json()
    assert "superseded_by" not in v1 and v1["current"] is False
    trail = client.get(f"/api/v1/submissions/{first}/history", headers=staff).get_json()
    assert all(e["after"] is None for e in trail["events"] if e["action"] == "superseded")
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/review/submissions/{second}").get_data(as_text=True)
    assert 'id="versions-hidden"' in page and f"/review/submissions/{first}" not in page
    rows = web.get(f"/dashboard/{SLUG}/grades.csv").text.splitlines()[1:]
    assert [int(r.split(",")[3]) for r in rows] == sorted([other, second])  # by submission
    # The hidden row does not carry the learner's earlier, released grade either.
    import csv
    import io

    table = list(csv.DictReader(io.StringIO(web.get(f"/dashboard/{SLUG}/grades.csv").text)))
    hidden = next(r for r in table if int(r["submission"]) == second)
    assert hidden["learner"] == f"Anonymous #{second}" and hidden["released_version"] == ""
    # Nor does the learner's own page, as staff open it, list and link their versions.
    page = web.get(f"/submissions/{second}").get_data(as_text=True)
    assert f"/submissions/{first}" not in page
