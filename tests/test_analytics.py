"""Grading analytics: grader vs final points per criterion, overrides by instructor (the
consistency between graders), the most missed concepts, and how the confidence held."""

from __future__ import annotations

from .browser.support import add_web_users, signed_in_client
from .conftest import graded

URL = "/api/v1/assignments/ml-health-check/analytics"


def _override(client, actors, sid, who, criterion, points):
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        json={"criterion": criterion, "points": points, "reason": "checked"},
        headers=actors.h(who),
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_analytics_compare_the_grader_with_the_instructors(
    app, client, actors, assignment, enqueued
):
    a = graded(app, client, actors, "learner", "sub-029.md")
    b = graded(app, client, actors, "learner2", "sub-020.md")
    before = client.get(URL, headers=actors.h("instructor")).get_json()
    assert before["answers"] == 2 and before["instructors"] == []
    rm = next(c for c in before["criteria"] if c["id"] == "risk_management")
    assert rm["grader_mean"] == rm["final_mean"]
    grader_a = {
        c["id"]: c["points"]
        for c in client.get(f"/api/v1/submissions/{a}", headers=actors.h("instructor")).get_json()[
            "grade"
        ]["criteria"]
    }
    _override(client, actors, a, "instructor", "risk_management", 0)
    _override(client, actors, b, "instructor2", "risk_management", 20)
    after = client.get(URL, headers=actors.h("instructor")).get_json()
    rm = next(c for c in after["criteria"] if c["id"] == "risk_management")
    assert rm["final_mean"] != rm["grader_mean"]
    rows = {(r["instructor_id"], r["criterion"]): r for r in after["instructors"]}
    mine = rows[(actors.id("instructor"), "risk_management")]
    assert mine["overrides"] == 1 and mine["mean_change"] == round(-grader_a["risk_management"], 2)
    assert rows[(actors.id("instructor2"), "risk_management")]["mean_change"] > 0
    # The distribution moves with the overrides: the final points land in the bottom and
    # top bands of Risk Management, wherever the grader put them.
    bands = rm["distribution"]
    assert [b["low"] for b in bands] == [0, 4, 8, 12, 16] and bands[-1]["high"] == 20
    assert sum(b["grader"] for b in bands) == sum(b["final"] for b in bands) == 2
    assert bands[0]["final"] == 1 and bands[-1]["final"] == 1
    # The weak answer misses concepts: they are counted per criterion.
    assert any(c["most_missed"] for c in after["criteria"])
    # Both answers are labels now (overridden after their grade): the confidence table has them.
    assert sum(b["answers"] for b in after["confidence"]) == 2
    assert client.get(URL, headers=actors.h("learner")).status_code == 403


def test_the_analytics_page(app, client, actors, assignment, enqueued):
    people = add_web_users(app)
    sid = graded(app, client, actors)
    _override(client, actors, sid, "instructor", "prioritization", 3)
    staff = signed_in_client(app, people["instructor"])
    page = staff.get("/dashboard/ml-health-check/analytics").get_data(as_text=True)
    assert 'id="criteria-table"' in page and 'id="instructors-table"' in page
    assert 'id="distribution-prioritization"' in page
    assert "Instructor Person" in page and "<svg" in page
    assert (
        signed_in_client(app, people["learner"])
        .get("/dashboard/ml-health-check/analytics")
        .status_code
        == 403
    )


def test_the_analytics_download_as_csv(app, client, actors, assignment, enqueued):
    import csv
    import io

    people = add_web_users(app)
    sid = graded(app, client, actors)
    _override(client, actors, sid, "instructor", "prioritization", 3)
    staff = signed_in_client(app, people["instructor"])
    r = staff.get("/dashboard/ml-health-check/analytics.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    sections = {row[0] for row in rows if row and row[0] != "section"}
    assert sections == {"criteria", "distribution", "instructors", "confidence"}
    assert sum(1 for row in rows if row and row[0] == "distribution") == 4 * 5
    assert any(row[:3] == ["instructors", "Instructor Person", "prioritization"] for row in rows)
    learner = signed_in_client(app, people["learner"])
    assert learner.get("/dashboard/ml-health-check/analytics.csv").status_code == 403
