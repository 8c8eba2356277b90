"""Instructors of a large course in real headless Chromium: review a group of 20 similar
answers with one decision; find a learner by email and withdraw a released grade. Every
page visited passes axe-core with no serious violation."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from ..conftest import HEALTH, run_worker_inline
from .a11y import assert_accessible
from .support import WebUser, submit_as

BASE = (HEALTH / "sub-010.md").read_text()


def sign_in(page: Any, user: WebUser) -> None:
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text(user.name)


def _learners(app: Any, n: int) -> list[int]:
    from grader.service.models import Role, User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        users = [User(name=f"Course learner {i:02d}", role=Role.LEARNER) for i in range(n)]
        session.add_all(users)
        session.flush()
        return [u.id for u in users]


def test_an_instructor_reviews_a_group_of_twenty_with_one_decision(app, live, people, new_page):
    ids = []
    for i, learner in enumerate(_learners(app, 20)):
        ids.append(submit_as(app, learner, BASE + f"\n\nSigned off by reviewer {i}."))
        assert run_worker_inline(app, ids[-1]) == "graded"
    odd = submit_as(app, people["learner"].id, (HEALTH / "sub-020.md").read_text())
    run_worker_inline(app, odd)

    staff = new_page()
    sign_in(staff, people["instructor"])
    staff.goto("/dashboard/ml-health-check")
    staff.click("#groups-link")
    assert_accessible(staff)
    group = staff.locator("section.group").first
    expect(group.locator("h2")).to_contain_text("20 answers")
    group.locator("summary").click()
    expect(group.locator("tbody tr")).to_have_count(20)
    group.locator("input[name=action][value=override]").check()
    group.locator("select[name=criterion]").select_option("risk_management")
    group.locator("input[name=points]").fill("12")
    group.locator("input[name=reason]").fill("The rollback plan names no trigger.")
    group.locator("input[name=comment]").fill("Say when you would roll back.")
    group.locator("button[type=submit].primary").click()
    expect(staff.locator(".notice").first).to_contain_text("Overridden: 20 answers")
    assert_accessible(staff)

    from grader.service.models import AuditEvent, Override

    with app.app_context(), app.extensions["db"].session_scope() as session:
        overridden = set(
            session.scalars(select(Override.submission_id).where(Override.points == 12))
        )
        decided = set(
            session.scalars(
                select(AuditEvent.submission_id).where(AuditEvent.action == "group_decision")
            )
        )
    assert overridden == decided == set(ids)
    # The odd answer was not in the group and is untouched.
    assert odd not in overridden


def test_find_a_learner_by_email_then_withdraw_the_grade(app, live, people, new_page):
    mine = submit_as(app, people["learner2"].id, (HEALTH / "sub-029.md").read_text())
    other = submit_as(app, people["learner3"].id, (HEALTH / "sub-009.md").read_text())
    for sid in (mine, other):
        run_worker_inline(app, sid)
    staff = new_page()
    sign_in(staff, people["instructor"])
    staff.goto("/review")
    staff.fill("input[name=learner]", people["learner2"].email.upper())
    staff.locator("form.filters button[type=submit]").click()
    rows = staff.locator("tr[data-row]")
    expect(rows).to_have_count(1)
    assert "learner=" in staff.url  # the search stays in the URL
    assert_accessible(staff)
    rows.first.locator("a").first.click()
    staff.click("#release")
    expect(staff.locator(".notice").first).to_contain_text("Released")
    staff.locator("details.withdraw summary").click()
    staff.fill("#unrelease-reason", "Risk management was graded on the wrong file.")
    staff.locator("#unrelease-form button[type=submit]").click()
    expect(staff.locator(".notice").first).to_contain_text("Withdrawn")
    assert_accessible(staff)

    learner = new_page()
    sign_in(learner, people["learner2"])
    learner.goto(f"/submissions/{mine}")
    expect(learner.locator("#status")).not_to_have_attribute("data-status", "released")
    learner.goto("/notifications")
    expect(learner.locator("main")).to_contain_text("wrong file")


def test_an_instructor_edits_the_rubric_sees_the_diff_and_applies_it(
    app, live, people, new_page, jobs_inline
):
    from grader.service.models import Assignment

    from ..conftest import ROOT

    sid = submit_as(app, people["learner"].id, (HEALTH / "sub-020.md").read_text())
    run_worker_inline(app, sid)
    source = (ROOT / "rubrics" / "ml-health-check.toml").read_text()
    staff = new_page()
    sign_in(staff, people["instructor"])
    staff.goto("/dashboard/ml-health-check")
    staff.click("#rubric-link")
    assert_accessible(staff)
    # A mistake is shown in place, the text kept.
    staff.fill("#rubric-source", source.replace("points = 20", "points = 0", 1))
    staff.click("#rubric-preview")
    expect(staff.locator("#rubric-errors")).to_contain_text("must be greater than 0")
    expect(staff.locator("#rubric-source")).to_have_attribute("aria-invalid", "true")
    assert_accessible(staff)
    staff.fill(
        "#rubric-source",
        source.replace(
            "curve = { zero = 0.36, full = 0.98 }", "curve = { zero = 0.2, full = 0.7 }"
        ),
    )
    staff.click("#rubric-preview")
    expect(staff.locator("#regrade-diff")).to_be_visible()
    expect(staff.locator("#regrade-diff")).to_contain_text(f"{sid}")
    staff.click("#regrade-apply")
    expect(staff.locator(".notice").first).to_contain_text("the worker is sending every")
    assert jobs_inline == [sid]
    assert run_worker_inline(app, sid) == "graded"
    with app.app_context():
        a = app.extensions["db"].session.scalar(select(Assignment))
        assert "zero = 0.2, full = 0.7" in a.rubric.source
