"""Answer groups: answers the grader read alike share a group (the same answers always give
the same groups), answers the instructors graded far apart never do, and one decision
reaches every member, recorded in each one's history."""

from __future__ import annotations

import csv
import random

from grader.scoring import grade_text, load_rubric
from grader.scoring.groups import Answer, group

from .browser.support import add_web_users, csrf_from, login
from .conftest import ADVERSARIAL, HEALTH, ROOT, graded_answers

SLUG = "ml-health-check"
RUBRIC = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
MAX = {c.id: float(c.points) for c in RUBRIC.criteria}


def _answer(key: int, text: str) -> Answer:
    return Answer.of(key, grade_text(text, RUBRIC).to_dict())


def _human_totals() -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for folder in (HEALTH, ADVERSARIAL):
        lines = (folder / "grades.tsv").read_text().splitlines()
        for row in csv.DictReader(lines, delimiter="\t"):
            out.setdefault(row["file"].removeprefix("answers/"), []).append(
                sum(float(row[c]) for c in MAX)
            )
    return {k: sum(v) / len(v) for k, v in out.items()}


def test_answers_graded_far_apart_never_share_a_group():
    paths = sorted(HEALTH.glob("sub-*.md")) + sorted((ADVERSARIAL / "answers").glob("*.md"))
    answers = [_answer(i, p.read_text()) for i, p in enumerate(paths)]
    human = _human_totals()
    found = group(answers, MAX)
    assert sum(len(g.members) for g in found) == len(paths)
    assert any(len(g.members) >= 3 for g in found)  # alike answers do meet
    for g in found:
        totals = [human[paths[m].name] for m in g.members]
        assert max(totals) - min(totals) <= 20, [paths[m].name for m in g.members]
        assert g.low <= answers[g.representative].total <= g.high
    # Deterministic: the same answers in another order give the same groups.
    shuffled = answers[:]
    random.Random(3).shuffle(shuffled)
    assert group(shuffled, MAX) == found


def _variants(n: int) -> list[str]:
    """n answers that say the same as sub-010, each signed off differently."""
    base = (HEALTH / "sub-010.md").read_text()
    return [base + f"\n\nWritten for review round {i}." for i in range(n)]


def test_one_decision_for_a_group_of_twenty(app, client, actors, assignment, enqueued):
    staff, other = actors.h("instructor"), actors.h("instructor2")
    alike = graded_answers(app, client, _variants(20))
    different = graded_answers(app, client, [(HEALTH / "sub-020.md").read_text()])
    url = f"/api/v1/assignments/{SLUG}/groups"
    assert client.get(url, headers=actors.h("learner")).status_code == 403
    listed = client.get(url, headers=staff).get_json()
    assert listed["answers"] == 21
    top = listed["groups"][0]
    assert top["size"] == 20 and sorted(top["members"]) == sorted(alike)
    assert different[0] not in top["members"] and top["low"] == top["high"]
    # A member the group does not fit is taken out and stands alone (twice is once).
    for _ in range(2):
        r = client.post(url + "/exclusions", headers=staff, json={"submission": alike[3]})
        assert r.status_code == 200
    groups = client.get(url, headers=staff).get_json()["groups"]
    sizes = {tuple(g["members"]): g["size"] for g in groups}
    assert sizes[(alike[3],)] == 1 and groups[0]["size"] == 19
    members = groups[0]["members"]
    # Another instructor holds one member: it is held back.
    assert client.post(f"/api/v1/submissions/{alike[0]}/claim", headers=other).status_code == 200
    body = {
        "members": members,
        "action": "override",
        "criterion": "risk_management",
        "points": 12,
        "reason": "The rollback plan names no trigger.",
        "comment": "Say when you would roll back.",
    }
    bad = client.post(url + "/decision", headers=staff, json={**body, "points": 99})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "points"
    # All or nothing: the refused decision changed no member.
    assert (
        client.get(f"/api/v1/submissions/{alike[1]}", headers=staff).get_json()["reviewed"] is False
    )
    r = client.post(url + "/decision", headers=staff, json=body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["claimed"] == [alike[0]] and r.get_json()["count"] == 18
    decided = [m for m in members if m != alike[0]]
    for sid in decided:
        sub = client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()
        rm = next(c for c in sub["grade"]["criteria"] if c["id"] == "risk_management")
        assert rm["points"] == 12 and rm["override"]["comment"] == body["comment"]
    history = client.get(f"/api/v1/submissions/{decided[0]}/history", headers=staff).get_json()
    actions = [e["action"] for e in history["events"]]
    assert actions[-2:] == ["override", "group_decision"]
    assert history["events"][-1]["after"]["size"] == 19
    # Decided answers leave the groups; the same decision sent again (another instructor
    # working from the same list) is refused, not applied twice.
    left = client.get(url, headers=staff).get_json()
    assert left["answers"] == 3  # the held one, the one taken out, the different one
    again = client.post(url + "/decision", headers=staff, json=body)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reviewed"
    # A decision on members that are not waiting for review is refused whole.
    client.post(f"/api/v1/submissions/{alike[3]}/release", headers=staff)
    r = client.post(
        url + "/decision",
        headers=staff,
        json={"members": [alike[3], different[0]], "action": "confirm"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "members"
    r = client.post(
        url + "/decision", headers=staff, json={"members": different, "action": "confirm"}
    )
    assert r.status_code == 200 and r.get_json()["count"] == 1


def test_the_group_forms_refuse_what_is_not_an_id(app, client, actors, assignment, enqueued):
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    token = csrf_from(web.get(f"/dashboard/{SLUG}/groups").get_data(as_text=True))
    for members in (["²"], ["9" * 5000], ["1"] * 1001):
        r = web.post(
            f"/dashboard/{SLUG}/groups/decision",
            data={"csrf_token": token, "members": members, "action": "confirm"},
        )
        assert r.status_code == 303
    for raw in ("²", "9" * 5000):
        r = web.post(
            f"/dashboard/{SLUG}/groups/exclusions", data={"csrf_token": token, "submission": raw}
        )
        assert r.status_code == 303


def test_the_groups_page_decides_for_a_group(app, client, actors, assignment, enqueued):
    alike = graded_answers(app, client, _variants(4))
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/dashboard/{SLUG}/groups").get_data(as_text=True)
    assert "4 answers" in page and 'id="group-' in page
    token = csrf_from(page)
    r = web.post(
        f"/dashboard/{SLUG}/groups/decision",
        data={"csrf_token": token, "members": [str(i) for i in alike], "action": "confirm"},
    )
    assert r.status_code == 303
    staff = actors.h("instructor")
    assert all(
        client.get(f"/api/v1/submissions/{sid}", headers=staff).get_json()["reviewed"]
        for sid in alike
    )


def test_answers_that_match_nothing_cost_a_bounded_number_of_comparisons(monkeypatch):
    """Same points, different missed concepts: none groups, and each answer is compared
    with at most TRIES leaders (grouping stays linear)."""
    import grader.scoring.groups as groups

    calls = []
    real = groups._alike
    monkeypatch.setattr(groups, "_alike", lambda *a: calls.append(1) or real(*a))
    points = {"a": 15.0, "b": 12.0, "c": 12.0, "d": 11.0}
    top = {"a": 30.0, "b": 25.0, "c": 25.0, "d": 20.0}
    answers = [Answer(i, points, {k: frozenset({f"m{i}"}) for k in top}, 50.0) for i in range(2000)]
    found = groups.group(answers, top)
    assert len(found) == 2000
    assert len(calls) <= 2000 * groups.TRIES


def test_many_criteria_do_not_make_grouping_explode(monkeypatch):
    """The grid is laid over a few criteria (its neighbourhood is 3 ** GRID cells), so a
    rubric of 18 criteria groups like one of four."""
    import grader.scoring.groups as groups

    dims = []
    real = groups.product
    monkeypatch.setattr(
        groups, "product", lambda *a, repeat: dims.append(repeat) or real(*a, repeat=repeat)
    )
    top = {f"c{i:02d}": 10.0 for i in range(18)}
    answers = [
        Answer(i, {c: float(i % 7) for c in top}, {c: frozenset() for c in top}, 18.0 * (i % 7))
        for i in range(300)
    ]
    found = groups.group(answers, top)
    assert sorted(len(g.members) for g in found) == sorted([43] * 6 + [42])
    assert dims and max(dims) <= groups.GRID
