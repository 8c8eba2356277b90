"""LTI inside a real LMS-style iframe, in headless Chromium: a course page on one origin
(the simulated platform, 127.0.0.1) frames grader on another (localhost). The login, the
platform's auto-submitted form post, the launch, the learner's answer and its page all
happen inside the iframe: frame-ancestors, the SameSite=None; Secure; Partitioned cookies
and the CSRF checks as a browser applies them. A page that must not be framed is refused."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import HEALTH, make_app
from ..lti_platform import Person, Platform, Served
from .a11y import assert_accessible
from .support import LiveServer, add_assignment

GOOD = (HEALTH / "sub-029.md").read_text()


@pytest.fixture()
def app(tmp_path, db_url):
    from grader.service.lti.ags import TOKENS
    from grader.service.lti.launch import JWKS_CACHE

    TOKENS.clear()
    JWKS_CACHE.clear()
    return make_app(tmp_path, db_url, WEBHOOK_ALLOWED_HOSTS="127.0.0.1,localhost")


def test_the_lti_pages_pass_axe(browser: Any, app: Any) -> None:
    """The admin's LTI page (with a request waiting) and the instructor's link pages, at the
    top level, pass axe-core with no serious violation."""
    from .support import add_web_users
    from .test_browser_pages import sign_in

    add_assignment(app)
    users = add_web_users(app)
    lms = Platform()
    lms.people = {"ida": Person("sub-ida", "Ida Instructor", "instructor")}
    served = Served(lms)
    try:
        with LiveServer(app) as live:
            app.config["PUBLIC_URL"] = live.url
            context = browser.new_context(
                base_url=live.url, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(15_000)
            try:
                page = context.new_page()
                sign_in(page, users["admin"])
                page.goto("/admin/lti")
                page.fill("#issuer", lms.issuer)
                page.fill("#client_id", lms.client_id)
                page.fill("#deployment_ids", lms.deployment_id)
                page.fill("#auth_url", f"{lms.base}/auth")
                page.fill("#token_url", f"{lms.base}/token")
                page.fill("#jwks_url", f"{lms.base}/jwks")
                page.click("#add-platform")
                page.get_by_text("is registered").wait_for()
                assert_accessible(page)
                # An instructor's launch waits for approval; the page lists it.
                launcher = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                from ..lti_platform import login_query

                launcher.goto(f"{live.url}/lti/login?{login_query(lms, 'ida')}")
                launcher.get_by_text("must approve you first").wait_for()
                assert_accessible(launcher)
                page.goto("/admin/lti")
                page.locator("#instructor-requests").wait_for()
                assert_accessible(page)
                page.locator("#instructor-requests button[value=approve]").click()
                page.get_by_text("is a grader instructor now").wait_for()
                launcher.goto(f"{live.url}/lti/login?{login_query(lms, 'ida')}")
                launcher.get_by_text("Set up this activity").wait_for()
                assert_accessible(launcher)
            finally:
                context.close()
    finally:
        served.close()


def test_a_learner_answers_inside_the_lms_iframe(browser: Any, app: Any) -> None:
    from grader.service.auth import issue_token
    from grader.service.models import Role, User

    add_assignment(app)
    lms = Platform(custom={"assignment": "ml-health-check"})
    lms.people = {
        "ann": Person("sub-ann", "Ann Learner", "learner"),
        "ida": Person("sub-ida", "Ida Instructor", "instructor"),
    }
    served = Served(lms)
    lms.return_url = f"{lms.base}/course"
    try:
        with LiveServer(app) as live:
            tool = live.url.replace("127.0.0.1", "localhost")  # another site than the LMS
            app.config["PUBLIC_URL"] = tool
            with app.app_context(), app.extensions["db"].session_scope() as s:
                admin = User(name="Ada Admin", role=Role.ADMIN)
                s.add(admin)
                s.flush()
                token = issue_token(s, admin, "admin")
            client = app.test_client()
            r = client.post(
                "/api/v1/lti/platforms",
                headers={"Authorization": f"Bearer {token}"},
                json=lms.urls() | {"trust_instructors": True},
            )
            assert r.status_code == 201, r.get_json()
            lms.tool_jwks = client.get("/lti/jwks").get_json()

            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            try:
                page = context.new_page()
                # The instructor's launch attaches the link (its custom parameter).
                page.goto(f"{lms.base}/course?hint=ida&tool={tool}")
                frame = page.frame_locator("#tool")
                frame.locator("#open-dashboard").wait_for()
                assert frame.locator("nav").count() == 0  # no links to unframeable pages

                learner = context.browser.new_context(viewport={"width": 1280, "height": 900})
                learner.set_default_timeout(15_000)
                try:
                    lpage = learner.new_page()
                    lpage.goto(f"{lms.base}/course?hint=ann&tool={tool}")
                    lframe = lpage.frame_locator("#tool")
                    lframe.locator("textarea#content").fill(GOOD)
                    lframe.locator("form:has(textarea#content) button[type=submit]").click()
                    lframe.get_by_text("Waiting to be graded").first.wait_for()
                    inner = lpage.frame(url=lambda u: "/submissions/" in u)
                    assert inner is not None and inner.url.startswith(tool)
                    # A staff page asked for in the same iframe is refused by the browser.
                    refused = learner.new_page()
                    refused.set_content(
                        f'<iframe id="x" src="{tool}/review" width="600" height="300"></iframe>'
                    )
                    refused.wait_for_timeout(1500)
                    assert [f.url for f in refused.frames[1:]] == ["chrome-error://chromewebdata/"]
                finally:
                    learner.close()
            finally:
                context.close()
        from sqlalchemy import select

        from grader.service.lti.models import LtiLearner, ScorePost
        from grader.service.models import Submission

        with app.app_context(), app.extensions["db"].session_scope() as s:
            sub = s.scalars(select(Submission)).one()
            assert sub.content.startswith(GOOD[:40])
            learner_row = s.scalars(select(LtiLearner)).one()
            assert learner_row.user_id == sub.learner_id and learner_row.sub == "sub-ann"
            assert s.scalars(select(ScorePost.kind)).all() == ["received"]
    finally:
        served.close()
