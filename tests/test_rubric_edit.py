"""Editing an assignment's rubric as TOML, in the API and the pages: validation errors name
what is wrong (shown in place on the page), the dry run shows the diff without changing a
grade, and applying it regrades with the new version (overrides kept)."""

from __future__ import annotations

from sqlalchemy import select

from .browser.support import add_web_users, csrf_from, login
from .conftest import ROOT, graded, run_worker_inline

SLUG = "ml-health-check"
EASIER = ("curve = { zero = 0.36, full = 0.98 }", "curve = { zero = 0.2, full = 0.7 }")
SOURCE = (ROOT / "rubrics" / "ml-health-check.toml").read_text()


def test_edit_the_rubric_through_the_api(app, client, actors, assignment, enqueued, jobs_inline):
    staff = actors.h("instructor")
    sid = graded(app, client, actors, name="sub-020.md")
    url = f"/api/v1/assignments/{SLUG}/rubric"
    assert client.get(url, headers=actors.h("learner")).status_code == 403
    shown = client.get(url, headers=staff).get_json()
    assert shown["from_file"] is True and shown["source"] == SOURCE
    before = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["grade"]

    r = client.put(url, headers=staff, json={"source": 'title = "x"\npoints = = 3\n'})
    error = r.get_json()["error"]
    assert r.status_code == 422 and error["field"] == "rubric" and "line" in error["message"]
    broken = SOURCE.replace("points = 20", "points = -5", 1)
    r = client.put(url, headers=staff, json={"source": broken})
    assert (
        r.status_code == 422
        and "points: must be greater than 0" in r.get_json()["error"]["message"]
    )
    r = client.put(url, headers=staff, json={"source": "x" * (300 * 1024)})
    assert r.status_code == 422 and "256 KB" in r.get_json()["error"]["message"]
    # Past twice that the body is refused before it is read.
    r = client.put(url, headers=staff, json={"source": "x" * (600 * 1024)})
    assert r.status_code == 413

    easier = SOURCE.replace(*EASIER)
    r = client.put(url + "?dry_run=1", headers=staff, json={"source": easier})
    assert r.status_code == 202, r.get_json()
    job = client.get(r.headers["Location"], headers=staff).get_json()
    assert job["kind"] == "regrade_preview" and job["status"] == "done"
    (change,) = job["result"]["changes"]
    assert change["id"] == sid and change["after"] > change["before"]
    assert job["progress"] == {"done": 1, "total": 1}
    # The diff downloads as CSV.
    diff = client.get(f"/api/v1/jobs/{job['id']}/changes.csv", headers=staff)
    assert diff.status_code == 200 and diff.mimetype == "text/csv"
    header, row = diff.get_data(as_text=True).splitlines()
    assert header.startswith("submission,learner,status,before,after,change,")
    assert row.startswith(f"{sid},") and "risk_management_after" in header
    # The dry run changed nothing.
    assert client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["grade"] == before
    assert client.get(url, headers=staff).get_json()["version"] == shown["version"]

    r = client.put(url, headers=staff, json={"source": easier})
    assert r.status_code == 202 and jobs_inline == [sid]
    regrade = r.headers["Location"]
    assert client.get(regrade, headers=staff).get_json()["progress"] == {"done": 0, "total": 1}
    assert client.get(regrade + "/changes.csv", headers=staff).status_code == 409
    assert run_worker_inline(app, sid) == "graded"
    assert client.get(regrade, headers=staff).get_json()["progress"] == {"done": 1, "total": 1}
    after = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["grade"]
    assert after["total"] == change["after"] and after["rubric_version"] == job["rubric_version"]
    now = client.get(url, headers=staff).get_json()
    assert now["version"] == job["rubric_version"] and now["from_file"] is False
    assert now["source"] == easier


def test_edit_the_rubric_in_the_pages(app, client, actors, assignment, enqueued, jobs_inline):
    from grader.service.models import Assignment

    sid = graded(app, client, actors, name="sub-020.md")
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/dashboard/{SLUG}/rubric").get_data(as_text=True)
    assert 'id="rubric-source"' in page and "ml-health-check" in page
    token = csrf_from(page)
    bad = web.post(
        f"/dashboard/{SLUG}/rubric",
        data={"csrf_token": token, "source": SOURCE.replace("points = 20", "points = 0", 1)},
    )
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="rubric-errors"' in body and 'aria-invalid="true"' in body
    assert "must be greater than 0" in body and "points = 0" in body  # the text is kept
    r = web.post(
        f"/dashboard/{SLUG}/rubric",
        data={"csrf_token": token, "source": SOURCE.replace(*EASIER)},
    )
    assert r.status_code == 303 and "preview=" in r.headers["Location"]
    diff = web.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="regrade-diff"' in diff and 'id="regrade-apply"' in diff
    csv_link = diff.split('id="regrade-csv"')[0].rsplit('href="', 1)[1].split('"')[0]
    download = web.get(csv_link)
    assert download.status_code == 200 and f"\n{sid}," in download.get_data(as_text=True)
    with app.app_context():
        old = app.extensions["db"].session.scalar(select(Assignment.rubric_version))
    version = diff.split('name="version" value="')[1].split('"')[0]
    assert version != old
    r = web.post(
        f"/dashboard/{SLUG}/regrade",
        data={"csrf_token": token, "action": "apply", "version": version},
        follow_redirects=True,
    )
    assert "the worker is sending every current answer" in r.get_data(as_text=True)
    assert jobs_inline == [sid]
    with app.app_context():
        assert app.extensions["db"].session.scalar(select(Assignment.rubric_version)) == version


def test_hostile_rubric_text_is_refused_with_a_reason(
    app, client, actors, assignment, enqueued, jobs_inline
):
    url = f"/api/v1/assignments/{SLUG}/rubric"
    staff = actors.h("instructor")
    cases = {
        "a date": SOURCE.replace(
            'id = "ml-health-check"', 'id = "ml-health-check"\nwhen = 1979-05-27T07:32:00Z', 1
        ),
        "deep nesting": "x = " + "[" * 3000 + "]" * 3000 + "\n",
        "infinite points": SOURCE.replace("points = 20", "points = inf", 1),
        "not a number": SOURCE.replace("points = 20", "points = nan", 1),
        "too many points": SOURCE.replace("points = 20", "points = 1e308", 1),
    }
    for what, source in cases.items():
        r = client.put(url, headers=staff, json={"source": source})
        assert r.status_code == 422, (what, r.get_json())
        assert r.get_json()["error"]["field"] == "rubric", what
    # A rubric as large as the pages take also goes through the API.
    large = SOURCE + "\n" + "# note\n" * 4000
    assert client.put(url + "?dry_run=1", headers=staff, json={"source": large}).status_code == 202
