"""LTI 1.3 against a simulated platform served on loopback (tests/lti_platform.py).

The tool runs in the test client over https (its PUBLIC_URL), the platform over real HTTP
on 127.0.0.1 (allowlisted). Score deliveries run the Celery task's body in the test
process, with the retry schedule compressed to nothing.
"""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from .conftest import HEALTH, make_app, run_worker_inline
from .lti_platform import Person, Platform, Served, login_query, new_key

TOOL = "https://grader.test"


@pytest.fixture()
def lms():
    platform = Platform()
    platform.people = {
        "hint-ann": Person("sub-ann", "Ann Learner", "learner"),
        "hint-bob": Person("sub-bob", "Bob Learner", "learner"),
        "hint-ida": Person("sub-ida", "Ida Instructor", "instructor"),
    }
    served = Served(platform)
    yield platform
    served.close()


@pytest.fixture()
def app(tmp_path, db_url):
    from grader.service.lti.ags import TOKENS
    from grader.service.lti.launch import JWKS_CACHE

    TOKENS.clear()
    JWKS_CACHE.clear()
    return make_app(
        tmp_path,
        db_url,
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        WEBHOOK_RETRY_SCALE=0.0,
        PUBLIC_URL=TOOL,
    )


class Browser:
    """The test client over https, as the browser inside the LMS's iframe."""

    def __init__(self, app) -> None:
        self.c = app.test_client()

    def get(self, path: str, **kw: Any):
        return self.c.get(path, base_url=TOOL, **kw)

    def post(self, path: str, **kw: Any):
        return self.c.post(path, base_url=TOOL, **kw)


def register(client, actors, lms, **extra) -> dict:
    r = client.post("/api/v1/lti/platforms", headers=actors.h("admin"), json=lms.urls() | extra)
    assert r.status_code == 201, r.get_json()
    lms.tool_jwks = client.get("/lti/jwks").get_json()
    return r.get_json()


@pytest.fixture()
def registered(client, actors, lms) -> dict:
    """The platform, its instructors trusted (approval has tests of its own)."""
    return register(client, actors, lms, trust_instructors=True)


def start_login(browser: Browser, lms: Platform, hint: str, link: str = "rl-1"):
    r = browser.get("/lti/login?" + login_query(lms, hint, lti_message_hint=link))
    assert r.status_code == 302, r.get_data(as_text=True)
    return r


def platform_answer(location: str) -> tuple[str, str]:
    """The platform's authorization endpoint, for real: (id_token, state) of its form post."""
    with urllib.request.urlopen(location, timeout=10) as response:
        html = response.read().decode()
    token = re.search(r'name="id_token" value="([^"]+)"', html)
    state = re.search(r'name="state" value="([^"]+)"', html)
    assert token and state, html
    return token.group(1), state.group(1)


def launch(browser: Browser, lms: Platform, hint: str, link: str = "rl-1"):
    r = start_login(browser, lms, hint, link)
    token, state = platform_answer(r.headers["Location"])
    return browser.post("/lti/launch", data={"id_token": token, "state": state})


def drive_scores(app, timeout: float = 20.0) -> None:
    """Run the score task for every due score until none is pending."""
    from grader.service.lti import tasks
    from grader.service.lti.models import ScorePost, ScoreStatus
    from grader.service.models import utcnow

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            with app.extensions["db"].session_scope() as s:
                pending = s.scalars(
                    select(ScorePost).where(ScorePost.status == ScoreStatus.PENDING)
                ).all()
                due = [p.id for p in pending if p.next_attempt_at <= utcnow()]
                if not pending:
                    return
            for score_id in due:
                tasks.send_score.run(score_id)
            time.sleep(0.01)
    raise AssertionError("scores still pending")


def counts(app) -> dict[str, int]:
    from grader.service.lti.models import LtiAccount, LtiLearner, LtiLink
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as s:
        return {
            m.__name__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (User, LtiAccount, LtiLink, LtiLearner)
        }


def submit(browser: Browser, slug: str, text: str) -> int:
    page = browser.get(f"/assignments/{slug}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    key = re.search(r'name="submit_key" value="([^"]+)"', page).group(1)
    r = browser.post(
        f"/assignments/{slug}/submit",
        data={"csrf_token": csrf, "submit_key": key, "content": text},
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return int(r.headers["Location"].rsplit("/", 1)[1])


def set_up_link(app, lms, slug: str = "ml-health-check") -> Browser:
    """The instructor's first launch: pick the assignment on the setup page."""
    teacher = Browser(app)
    r = launch(teacher, lms, "hint-ida")
    assert r.status_code == 303 and "/lti/links/" in r.headers["Location"], r.headers
    page = teacher.get(r.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Set up this activity" in html and "MLOps 101" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = teacher.post(
        r.headers["Location"],
        data={"csrf_token": csrf, "choice": "existing", "assignment": slug},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("/open")
    opened = teacher.get(r.headers["Location"])
    assert opened.status_code == 200
    html = opened.get_data(as_text=True)
    assert (
        "frame-ancestors 'self' https://lms.example.edu"
        in opened.headers["Content-Security-Policy"]
    )
    # The dashboard opens in a tab of its own, which the iframe's cookie does not reach: the
    # hand-off link signs the instructor in there, once.
    handoff = re.search(r'href="([^"]+)" target="_blank" rel="noopener" id="open-dashboard"', html)
    url = handoff.group(1).replace("&amp;", "&")
    tab = Browser(app)
    r = tab.get(url)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/dashboard/{slug}")
    assert tab.get(f"/dashboard/{slug}").status_code == 200
    again = Browser(app).get(url)
    assert again.status_code == 403 and "expired or was used" in again.get_data(as_text=True)
    assert Browser(app).get("/lti/handoff?t=forged").status_code == 403
    return teacher


# --- registration, keys, configuration -----------------------------------------------------


def test_cli_registers_a_platform_then_jwks_and_login_work(tmp_path, monkeypatch, lms):
    from click.testing import CliRunner

    from grader.cli import main
    from grader.service import create_app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name, value in {
        "GRADER_DATABASE_URL": url,
        "GRADER_SECRET_KEY": "k",
        "GRADER_INSTANCE_PATH": str(tmp_path / "inst"),
        "GRADER_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "GRADER_PUBLIC_URL": TOOL,
    }.items():
        monkeypatch.setenv(name, value)
    u = lms.urls()
    args = ["lti", "platform", "add", "--issuer", u["issuer"], "--client-id", u["client_id"]]
    args += ["--deployment-id", "dep-1", "--deployment-id", "dep-2"]
    args += ["--auth-url", u["auth_url"], "--token-url", u["token_url"]]
    args += ["--jwks-url", u["jwks_url"]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert '"deployment_ids"' in result.output and "dep-2" in result.output
    assert f"{TOOL}/lti/jwks" in result.output

    app = create_app()
    client = app.test_client()
    document = client.get("/lti/jwks").get_json()
    assert len(document["keys"]) == 1
    key = document["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    jwt.PyJWK(key)  # a usable RSA public key
    assert "d" not in key and "p" not in key  # never the private parts
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}

    r = client.get("/lti/login?" + login_query(lms, "hint-ann"), base_url=TOOL)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(u["auth_url"] + "?")
    from urllib.parse import parse_qs, urlsplit

    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert q["scope"] == "openid" and q["response_type"] == "id_token"
    assert q["response_mode"] == "form_post" and q["prompt"] == "none"
    assert q["client_id"] == "grader-client" and q["redirect_uri"] == f"{TOOL}/lti/launch"
    assert q["login_hint"] == "hint-ann" and q["state"] and q["nonce"]
    cookie = r.headers["Set-Cookie"]
    assert "lti_state=" in cookie and "Secure" in cookie and "SameSite=None" in cookie
    assert "HttpOnly" in cookie and "Partitioned" in cookie
    app.extensions["db"].engine.dispose()

    # Adding the same platform again adds deployments instead of a second registration.
    result = CliRunner().invoke(main, [*args[:7], "--deployment-id", "dep-3", *args[11:]])
    assert result.exit_code == 0, result.output
    assert '"created": false' in result.output and "dep-3" in result.output


def test_register_refuses_bad_fields_and_private_urls(client, actors, lms, app):
    bad = lms.urls() | {"token_url": "ftp://x"}
    r = client.post("/api/v1/lti/platforms", headers=actors.h("admin"), json=bad)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "token_url"
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ""
    r = client.post("/api/v1/lti/platforms", headers=actors.h("admin"), json=lms.urls())
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "issuer"
    r = client.post(
        "/api/v1/lti/platforms", headers=actors.h("admin"), json=lms.urls() | {"extra": 1}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "extra"
    r = client.post("/api/v1/lti/platforms", headers=actors.h("instructor"), json=lms.urls())
    assert r.status_code == 403
    r = client.get("/api/v1/lti/platforms", headers=actors.h("admin"))
    assert r.get_json()["items"] == []


def test_a_login_stores_nothing_so_logins_cannot_fill_a_table(app, lms, registered):
    from grader.service.lti.models import UsedNonce

    browser = Browser(app)
    before = counts(app)
    for _ in range(30):
        start_login(browser, lms, "hint-ann")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.scalar(select(func.count()).select_from(UsedNonce)) == 0
    assert counts(app) == before


def test_unknown_issuer_or_missing_parameters_are_refused_clearly(app, lms, registered):
    browser = Browser(app)
    r = browser.get("/lti/login?iss=https://nobody.example&login_hint=x&target_link_uri=y")
    assert r.status_code == 400 and "unknown_platform" in r.get_data(as_text=True)
    r = browser.get("/lti/login?iss=" + lms.issuer)
    assert r.status_code == 400 and "login_hint" in r.get_data(as_text=True)
    r = browser.post("/lti/launch", data={"state": "s"})
    assert r.status_code == 400 and "id_token" in r.get_data(as_text=True)
    r = browser.post("/lti/launch", data={"id_token": "not.a.jwt", "state": "s"})
    assert r.status_code == 401  # no state cookie: refused before the token is read


def test_an_instructor_can_create_the_assignment_at_the_first_launch(app, lms, registered):
    teacher = Browser(app)
    r = launch(teacher, lms, "hint-ida")
    setup = r.headers["Location"]
    assert setup.endswith("/setup")
    html = teacher.get(setup).get_data(as_text=True)
    assert "There are no assignments yet" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {
        "csrf_token": csrf,
        "choice": "new",
        "slug": "Bad Slug",
        "rubric": "ml-health-check.toml",
    }
    bad = teacher.post(setup, data=form)
    assert bad.status_code == 422 and "slug" in bad.get_data(as_text=True)
    r = teacher.post(setup, data=form | {"slug": "hc-lti", "title": "Health check (LMS)"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/open")
    ann = Browser(app)
    r = launch(ann, lms, "hint-ann")
    assert r.status_code == 303 and r.headers["Location"].endswith("/assignments/hc-lti")
    # Without the CSRF token the setup form is refused.
    assert (
        teacher.post(setup, data={"choice": "existing", "assignment": "hc-lti"}).status_code == 400
    )


def test_configuration_documents_name_the_tool_urls(client):
    config = client.get("/lti/config.json").get_json()
    assert config["initiate_login_uri"] == f"{TOOL}/lti/login"
    assert config["redirect_uris"] == [f"{TOOL}/lti/launch"]
    assert config["jwks_uri"] == f"{TOOL}/lti/jwks"
    canvas = client.get("/lti/canvas.json").get_json()
    assert canvas["oidc_initiation_url"] == f"{TOOL}/lti/login"
    assert canvas["public_jwk_url"] == f"{TOOL}/lti/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in canvas["scopes"]


def test_key_rotation_keeps_the_old_key_published_for_the_grace(client, actors, app, registered):
    before = client.get("/lti/jwks").get_json()["keys"]
    r = client.post("/api/v1/lti/keys", headers=actors.h("admin"))
    assert r.status_code == 201
    after = client.get("/lti/jwks").get_json()["keys"]
    assert after[0]["kid"] == r.get_json()["kid"] and {k["kid"] for k in before} < {
        k["kid"] for k in after
    }
    app.config["LTI_KEY_GRACE"] = 0
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] == [r.get_json()["kid"]]


# --- launches ------------------------------------------------------------------------------


def test_whole_flow_pending_then_fully_graded(app, client, actors, assignment, lms, registered):
    teacher = set_up_link(app, lms)
    ann = Browser(app)
    r = launch(ann, lms, "hint-ann")
    assert r.status_code == 303 and r.headers["Location"].endswith("/assignments/ml-health-check")
    page = ann.get("/assignments/ml-health-check")
    assert page.status_code == 200
    # Inside the LMS's iframe: framed by its origins only, with a cross-site session cookie.
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://lms.example.edu" in csp
    assert "X-Frame-Options" not in page.headers
    # No navigation to pages that refuse to be framed.
    assert 'id="nav-notifications"' not in page.get_data(as_text=True)
    session_cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=None" in session_cookie and "Secure" in session_cookie
    assert "Partitioned" in session_cookie

    sid = submit(ann, "ml-health-check", (HEALTH / "sub-029.md").read_text())
    drive_scores(app)
    assert len(lms.scores) == 1
    pending = lms.scores[0]
    assert pending["userId"] == "sub-ann"
    assert (pending["activityProgress"], pending["gradingProgress"]) == (
        "Submitted",
        "PendingManual",
    )
    assert "scoreGiven" not in pending
    assert pending["https://canvas.instructure.com/lti/submission"]["new_submission"] is True
    assert len(lms.line_items) == 1
    item = lms.line_items[1]
    assert item["resourceLinkId"] == "rl-1" and item["tag"] == "grader"
    assert item["scoreMaximum"] == 100

    assert run_worker_inline(app, sid) == "graded"
    drive_scores(app)
    assert len(lms.scores) == 1  # grading alone tells the gradebook nothing

    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 200
    total = client.get(f"/api/v1/submissions/{sid}", headers=actors.h("instructor")).get_json()
    drive_scores(app)
    assert len(lms.scores) == 2
    final = lms.scores[1]
    assert (final["activityProgress"], final["gradingProgress"]) == ("Completed", "FullyGraded")
    assert final["scoreGiven"] == pytest.approx(total["grade"]["total"], abs=1e-3)
    assert final["scoreMaximum"] == total["grade"]["max_total"]
    assert "Problem Identification" in final["comment"]
    assert final["https://canvas.instructure.com/lti/submission"]["new_submission"] is False
    assert final["timestamp"] > pending["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", final["timestamp"])

    # An override after the release: the gradebook gets the new score, later timestamp.
    crit = total["grade"]["criteria"][0]["id"]
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("instructor"),
        json={"criterion": crit, "points": 0, "reason": "checked by hand", "comment": "See me"},
    )
    assert r.status_code in (200, 201), r.get_json()
    drive_scores(app)
    assert len(lms.scores) == 3 and lms.scores[2]["scoreGiven"] < final["scoreGiven"]
    assert lms.scores[2]["timestamp"] > final["timestamp"]

    # The instructor sees what went out, with every request logged.
    listed = client.get(
        "/api/v1/assignments/ml-health-check/lti/scores", headers=actors.h("instructor")
    ).get_json()["items"]
    assert [s["status"] for s in listed] == ["succeeded"] * 3
    assert any(a["url"].endswith("/token") for s in listed for a in s["attempt_log"])
    # One token for all three (cached until it expires).
    assert sum(1 for m, p in lms.requests if p == "/token") == 1
    dashboard = teacher.get("/dashboard/ml-health-check")
    assert dashboard.status_code == 200
    # Staff pages refuse framing even in a launched session (no overlay by the LMS's pages).
    assert dashboard.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in dashboard.headers["Content-Security-Policy"]
    assert teacher.get("/review").headers["X-Frame-Options"] == "DENY"


def test_learner_before_the_link_is_set_up_is_told_so(app, lms, registered, assignment):
    before = counts(app)
    r = launch(Browser(app), lms, "hint-ann")
    assert r.status_code == 409
    assert "has not chosen this activity" in r.get_data(as_text=True)
    assert counts(app) == before  # nothing stored for a launch that goes nowhere


def _forged(app, lms: Platform, **change: Any):
    """A login, then a launch whose id_token is changed as given; its response."""
    browser = Browser(app)
    r = start_login(browser, lms, "hint-ann")
    from urllib.parse import parse_qs, urlsplit

    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
    nonce = change.pop("nonce", q["nonce"])
    state = change.pop("state", q["state"])
    token = lms.id_token(lms.people["hint-ann"], nonce, **change)
    return browser.post("/lti/launch", data={"id_token": token, "state": state})


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"key": new_key()}, "invalid_token"),  # signed by a key the platform doesn't publish
        ({"key": new_key(), "kid": "other"}, "invalid_token"),
        ({"aud": "someone-else", "azp": None}, "unknown_platform"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "invalid_token"),
        ({"nonce": "not-the-one-issued"}, "replayed_launch"),
        (
            {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-x"},
            "unknown_deployment",
        ),
        ({"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}, "unsupported_launch"),
        ({"iss": "https://evil.example"}, "unknown_platform"),
        ({"state": "another-state"}, "state_mismatch"),
        ({"sub": None}, "invalid_token"),
        ({"azp": "another-client"}, "invalid_token"),
        ({"aud": ["grader-client", "other"], "azp": None}, "invalid_token"),
        ({"iat": int(time.time()) + 3600}, "invalid_token"),  # issued in the future
        (
            {
                "https://purl.imsglobal.org/spec/lti/claim/tool_platform": "not-an-object",
                "https://purl.imsglobal.org/spec/lti/claim/resource_link": "x",
            },
            "invalid_token",
        ),
    ],
)
def test_forged_launches_are_refused_with_nothing_stored(
    app, lms, registered, assignment, change, code
):
    set_up_link(app, lms)
    before = counts(app)
    r = _forged(app, lms, **change)
    assert r.status_code in (400, 401, 403), r.get_data(as_text=True)
    assert f"({code}" in r.get_data(as_text=True)
    assert counts(app) == before


def _state_cookie(response) -> str:
    return re.search(r"lti_state=([^;]+)", response.headers["Set-Cookie"]).group(1)


def test_a_replayed_id_token_is_refused(app, lms, registered, assignment):
    set_up_link(app, lms)
    browser = Browser(app)
    r = start_login(browser, lms, "hint-ann")
    cookie = _state_cookie(r)
    token, state = platform_answer(r.headers["Location"])
    first = browser.post("/lti/launch", data={"id_token": token, "state": state})
    assert first.status_code == 303
    before = counts(app)
    # The same form post again, with the state cookie put back as an attacker could.
    browser.c.set_cookie("lti_state", cookie, domain="grader.test", path="/lti/")
    again = browser.post("/lti/launch", data={"id_token": token, "state": state})
    assert again.status_code == 401 and "replayed_launch" in again.get_data(as_text=True)
    assert counts(app) == before


def test_a_launch_refused_after_its_checks_cannot_be_replayed_later(
    app, lms, registered, assignment
):
    """The link is not set up, so the learner's launch is refused: its nonce is used all the
    same, so the token cannot be brought back once the link works."""
    browser = Browser(app)
    r = start_login(browser, lms, "hint-ann")
    cookie = _state_cookie(r)
    token, state = platform_answer(r.headers["Location"])
    assert browser.post("/lti/launch", data={"id_token": token, "state": state}).status_code == 409
    set_up_link(app, lms)
    browser.c.set_cookie("lti_state", cookie, domain="grader.test", path="/lti/")
    again = browser.post("/lti/launch", data={"id_token": token, "state": state})
    assert again.status_code == 401 and "replayed_launch" in again.get_data(as_text=True)


def test_a_forged_state_cookie_is_refused(app, lms, registered, assignment):
    set_up_link(app, lms)
    browser = Browser(app)
    r = start_login(browser, lms, "hint-ann")
    token, state = platform_answer(r.headers["Location"])
    browser.c.set_cookie("lti_state", "made-up", domain="grader.test", path="/lti/")
    refused = browser.post("/lti/launch", data={"id_token": token, "state": state})
    assert refused.status_code == 401 and "state_mismatch" in refused.get_data(as_text=True)


def test_roles_map_and_accounts_are_never_matched_by_email(app, lms, registered, assignment):
    from grader.service.lti.models import LtiAccount
    from grader.service.models import Role, User

    set_up_link(app, lms)
    launch(Browser(app), lms, "hint-ann")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        users = {a.sub: s.get(User, a.user_id) for a in s.scalars(select(LtiAccount)).all()}
        assert users["sub-ida"].role == Role.INSTRUCTOR
        assert users["sub-ann"].role == Role.LEARNER and users["sub-ann"].email is None
        assert users["sub-ann"].name == "Ann Learner"


def test_an_lms_instructor_needs_an_admins_approval_unless_the_platform_is_trusted(
    app, client, actors, lms, assignment
):
    """grader's instructors see every course, so a teacher of any course on the LMS must not
    become one by launching: the launch is refused and waits for an admin."""
    from grader.service.models import Role, User

    register(client, actors, lms)  # instructors not trusted (the default)
    teacher = Browser(app)
    r = launch(teacher, lms, "hint-ida")
    assert r.status_code == 403 and "instructor_not_approved" in r.get_data(as_text=True)
    assert "Set-Cookie" not in r.headers or "session=" not in r.headers.get("Set-Cookie", "")
    listed = client.get("/api/v1/lti/instructor-requests", headers=actors.h("admin")).get_json()
    assert [(i["name"], i["course"], i["sub"], i["context_id"]) for i in listed["items"]] == [
        ("Ida Instructor", "MLOps 101", "sub-ida", "course-1")
    ]
    with app.app_context(), app.extensions["db"].session_scope() as s:
        ida = s.scalar(select(User).where(User.name == "Ida Instructor"))
        assert ida.role == Role.LEARNER
    assert (
        client.get("/api/v1/lti/instructor-requests", headers=actors.h("instructor")).status_code
        == 403
    )
    decide = f"/api/v1/lti/instructor-requests/{listed['items'][0]['id']}"
    assert client.post(decide, headers=actors.h("admin"), json={}).status_code == 422
    r = client.post(decide, headers=actors.h("admin"), json={"approve": True, "surprise": 1})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "surprise"
    r = client.post(decide, headers=actors.h("admin"), json={"approve": "yes"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "approve"
    r = client.post(decide, headers=actors.h("admin"), json={"approve": True})
    assert r.status_code == 200 and r.get_json()["items"] == []
    r = launch(teacher, lms, "hint-ida")
    assert r.status_code == 303 and r.headers["Location"].endswith("/setup")
    # A launch as a Learner elsewhere never demotes an approved instructor.
    lms.people["hint-ida2"] = Person("sub-ida", "Ida Instructor", "learner")
    launch(Browser(app), lms, "hint-ida2")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert s.scalar(select(User.role).where(User.name == "Ida Instructor")) == Role.INSTRUCTOR


def test_only_the_session_that_launched_a_link_may_set_it_up(app, lms, registered, assignment):
    ida = Browser(app)
    r = launch(ida, lms, "hint-ida")
    setup = r.headers["Location"]
    lms.people["hint-ivo"] = Person("sub-ivo", "Ivo Instructor", "instructor")
    ivo = Browser(app)
    assert launch(ivo, lms, "hint-ivo", link="rl-2").status_code == 303
    page = ivo.get(setup)  # rl-1's page, by id, from a session that launched rl-2
    assert page.status_code == 403 and "launching the activity" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', ivo.get("/").get_data(as_text=True))
    if csrf:
        r = ivo.post(
            setup,
            data={"csrf_token": csrf.group(1), "choice": "existing", "assignment": assignment},
        )
        assert r.status_code == 403
    assert ida.get(setup).status_code == 200


def test_normal_sessions_still_refuse_framing(app, client, actors, lms, registered, assignment):
    r = client.get("/login")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


# --- grades back: outages, refusals, order ------------------------------------------------


def _learner_scores(app, lms, assignment) -> tuple[Browser, int]:
    ann, sid, _ = _with_teacher(app, lms, assignment)
    return ann, sid


def _with_teacher(app, lms, assignment) -> tuple[Browser, int, Browser]:
    teacher = set_up_link(app, lms)
    ann = Browser(app)
    assert launch(ann, lms, "hint-ann").status_code == 303
    return ann, submit(ann, assignment, (HEALTH / "sub-029.md").read_text()), teacher


def test_an_outage_is_retried_then_delivered(app, lms, registered, assignment):
    lms.fail_scores = [503, 502, 429]
    _learner_scores(app, lms, assignment)
    drive_scores(app)
    assert len(lms.scores) == 1 and lms.scores[0]["gradingProgress"] == "PendingManual"
    from grader.service.lti.models import ScorePost

    with app.app_context(), app.extensions["db"].session_scope() as s:
        post = s.scalars(select(ScorePost)).one()
        statuses = [a.status_code for a in post.attempt_log if a.url.endswith("/scores")]
        assert statuses == [503, 502, 429, 204]
        assert post.status.value == "succeeded"


def test_a_401_refreshes_the_token_and_a_409_is_shown_not_retried(
    app, client, actors, lms, registered, assignment
):
    ann, _, teacher = _with_teacher(app, lms, assignment)
    drive_scores(app)
    lms.tokens.clear()  # the platform revoked grader's token
    sid = submit(ann, assignment, (HEALTH / "sub-029.md").read_text() + "\n\nAgain.")
    drive_scores(app)
    assert len(lms.scores) == 2
    assert sum(1 for _, p in lms.requests if p == "/token") == 2

    # A score the platform refuses for good is failed at once and shown to instructors.
    lms.fail_scores = [409]
    assert run_worker_inline(app, sid) == "graded"
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    drive_scores(app)
    items = client.get(
        "/api/v1/assignments/ml-health-check/lti/scores", headers=actors.h("instructor")
    ).get_json()["items"]
    assert items[0]["status"] == "failed" and items[0]["last_status_code"] == 409
    assert "HTTP 409" in items[0]["last_error"]
    # The dashboard says so, with the LMS's answer, and sends it again once the LMS is fixed.
    html = teacher.get("/dashboard/ml-health-check").get_data(as_text=True)
    assert 'id="gradebook-refused">1<' in html and "HTTP 409" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = teacher.post(
        f"/dashboard/ml-health-check/lti/scores/{items[0]['id']}/resend",
        data={"csrf_token": csrf},
    )
    assert r.status_code == 303
    drive_scores(app)
    assert lms.scores[-1]["gradingProgress"] == "FullyGraded"
    # The API's resend of a delivered score changes nothing; another assignment's is a 404.
    r = client.post(
        f"/api/v1/assignments/ml-health-check/lti/scores/{items[0]['id']}/resend",
        headers=actors.h("instructor"),
    )
    assert r.status_code == 200 and r.get_json()["status"] == "succeeded"
    r = client.post(
        "/api/v1/assignments/ml-health-check/lti/scores/999999/resend",
        headers=actors.h("instructor"),
    )
    assert r.status_code == 404


def test_an_older_score_still_queued_is_superseded_not_sent(app, lms, registered, assignment):
    lms.fail_scores = [503]
    ann = Browser(app)
    set_up_link(app, lms)
    launch(ann, lms, "hint-ann")
    text = (HEALTH / "sub-029.md").read_text()
    submit(ann, assignment, text)
    submit(ann, assignment, text + "\n\nA second version.")
    drive_scores(app)
    # Only the newer one reached the gradebook; the older was never resent after the 503.
    assert len(lms.scores) == 1
    from grader.service.lti.models import ScorePost

    with app.app_context(), app.extensions["db"].session_scope() as s:
        kinds = sorted(p.status.value for p in s.scalars(select(ScorePost)))
    assert kinds == ["succeeded", "superseded"]


def test_timestamps_strictly_increase_even_within_a_millisecond(app, lms, registered, assignment):
    from grader.service.lti.models import LtiLearner
    from grader.service.lti.scores import _next_timestamp

    set_up_link(app, lms)
    launch(Browser(app), lms, "hint-ann")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        learner = s.scalars(select(LtiLearner)).one()
        stamps = [_next_timestamp(learner) for _ in range(50)]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(t.microsecond % 1000 == 0 for t in stamps)


def test_test_connection_reports_what_the_platform_said(client, actors, lms, registered):
    pid = registered["id"]
    r = client.post(f"/api/v1/lti/platforms/{pid}/test", headers=actors.h("admin"))
    assert r.status_code == 200 and r.get_json()["ok"] is True
    lms.tool_jwks = {"keys": []}  # the LMS has the wrong key for grader
    r = client.post(f"/api/v1/lti/platforms/{pid}/test", headers=actors.h("admin"))
    body = r.get_json()
    assert body["ok"] is False and "HTTP 401" in body["message"]
    assert body["requests"][0]["url"].endswith("/token")


def test_an_existing_line_item_is_found_across_pages_not_duplicated(
    app, lms, registered, assignment
):
    lms.page_size = 2
    for n in range(1, 4):
        lms.line_items[n] = {
            "id": f"{lms.base}/lineitems/{n}",
            "resourceLinkId": f"other-{n}",
            "tag": "grader",
            "label": "x",
            "scoreMaximum": 10,
        }
    lms.line_items[4] = {
        "id": f"{lms.base}/lineitems/4",
        "resourceLinkId": "rl-1",
        "tag": "grader",
        "label": "Health check",
        "scoreMaximum": 100,
    }
    _learner_scores(app, lms, assignment)
    drive_scores(app)
    assert len(lms.line_items) == 4 and lms.scores[0]["_lineitem"] == 4
    assert ("POST", "/lineitems") not in lms.requests


def test_the_launchs_own_line_item_is_used_as_is(app, lms, registered, assignment):
    lms.coupled_lineitem = True
    lms.line_items[1] = {
        "id": f"{lms.base}/lineitems/1",
        "resourceLinkId": "rl-1",
        "tag": "lms-made",
        "label": "Health check",
        "scoreMaximum": 100,
    }
    _learner_scores(app, lms, assignment)
    drive_scores(app)
    assert lms.scores[0]["_lineitem"] == 1
    assert not any(p == "/lineitems" for _, p in lms.requests)


def test_a_second_worker_waits_while_the_line_item_is_being_made(app, lms, registered, assignment):
    from grader.service.lti.delivery import attempt
    from grader.service.lti.models import LtiLink, ScorePost
    from grader.service.models import utcnow
    from grader.service.webhooks.delivery import DeliverySettings

    _learner_scores(app, lms, assignment)
    with app.app_context():
        db = app.extensions["db"]
        with db.session_scope() as s:
            link = s.scalars(select(LtiLink)).one()
            link.lineitem_lease_until = utcnow() + timedelta(seconds=60)  # another worker's
            score_id = s.scalars(select(ScorePost.id)).one()
        outcome = attempt(db.sessionmaker, score_id, DeliverySettings.from_config(app.config))
        assert outcome.result == "retry" and lms.requests.count(("POST", "/lineitems")) == 0
        with db.session_scope() as s:
            s.scalars(select(LtiLink)).one().lineitem_lease_until = None
    drive_scores(app)
    assert len(lms.line_items) == 1 and len(lms.scores) == 1


@pytest.mark.parametrize("status", [400, 422])
def test_refused_scores_are_final_not_retried(app, lms, registered, assignment, status):
    lms.fail_scores = [status, 503]
    _learner_scores(app, lms, assignment)
    drive_scores(app)
    assert lms.scores == [] and lms.fail_scores == [503]  # asked once, never again
    from grader.service.lti.models import ScorePost

    with app.app_context(), app.extensions["db"].session_scope() as s:
        post = s.scalars(select(ScorePost)).one()
        assert post.status.value == "failed" and post.last_status_code == status


def test_retry_after_is_honoured(app, lms, registered, assignment):
    from grader.service.lti.delivery import attempt
    from grader.service.lti.models import ScorePost
    from grader.service.models import utcnow
    from grader.service.webhooks.delivery import DeliverySettings

    lms.fail_scores, lms.retry_after = [429], "120"
    _learner_scores(app, lms, assignment)
    with app.app_context():
        db = app.extensions["db"]
        with db.session_scope() as s:
            score_id = s.scalars(select(ScorePost.id)).one()
        outcome = attempt(db.sessionmaker, score_id, DeliverySettings.from_config(app.config))
        assert outcome.result == "retry" and outcome.retry_in >= 119
        with db.session_scope() as s:
            due = s.get(ScorePost, score_id).next_attempt_at
        assert (due - utcnow()).total_seconds() > 100


def test_a_score_whose_lease_was_taken_over_keeps_the_other_outcome(
    app, lms, registered, assignment, monkeypatch
):
    from grader.service.lti import delivery
    from grader.service.lti.models import ScorePost
    from grader.service.models import utcnow
    from grader.service.webhooks.delivery import DeliverySettings

    _learner_scores(app, lms, assignment)
    real = delivery._send
    with app.app_context():
        db = app.extensions["db"]
        with db.session_scope() as s:
            score_id = s.scalars(select(ScorePost.id)).one()

        def slow_send(client, work):
            got = real(client, work)
            with db.session_scope() as s:  # meanwhile the lease ran out and another took it
                s.get(ScorePost, score_id).lease_until = utcnow() + timedelta(seconds=90)
            return got

        monkeypatch.setattr(delivery, "_send", slow_send)
        outcome = delivery.attempt(
            db.sessionmaker, score_id, DeliverySettings.from_config(app.config)
        )
        assert outcome.result == "lease-lost"
        with db.session_scope() as s:
            assert s.get(ScorePost, score_id).status.value == "pending"


@pytest.mark.parametrize("newer_status", ["failed", "superseded"])
def test_a_newer_failed_score_does_not_supersede_an_older_pending_one(
    app, client, actors, lms, registered, assignment, newer_status
):
    from grader.service.lti.delivery import attempt
    from grader.service.lti.models import ScorePost, ScoreStatus
    from grader.service.webhooks.delivery import DeliverySettings

    ann, _ = _learner_scores(app, lms, assignment)
    submit(ann, assignment, (HEALTH / "sub-029.md").read_text() + "\n\nv2")
    with app.app_context():
        db = app.extensions["db"]
        with db.session_scope() as s:
            older, newer = s.scalars(select(ScorePost).order_by(ScorePost.id)).all()
            newer.status = ScoreStatus(newer_status)
            older_id = older.id
        outcome = attempt(db.sessionmaker, older_id, DeliverySettings.from_config(app.config))
    assert outcome.result == "succeeded" and len(lms.scores) == 1


def test_the_admins_lti_page_registers_tests_approves_and_rotates(app, client, actors, lms):
    from .browser.support import add_web_users, csrf_from, signed_in_client

    users = add_web_users(app)
    admin = signed_in_client(app, users["admin"])
    page = admin.get("/admin/lti")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"{TOOL}/lti/jwks" in html and "None yet." in html
    assert page.headers["X-Frame-Options"] == "DENY"
    token = csrf_from(html)
    form = {k: v for k, v in lms.urls().items() if k != "deployment_ids"}
    bad = admin.post(
        "/admin/lti/platforms",
        data=form | {"csrf_token": token, "deployment_ids": "dep-1", "jwks_url": "ftp://x"},
    )
    assert bad.status_code == 422 and "jwks_url" in bad.get_data(as_text=True)
    r = admin.post(
        "/admin/lti/platforms",
        data=form | {"csrf_token": token, "deployment_ids": "dep-1, dep-2", "name": "Moodle"},
    )
    assert r.status_code == 303
    html = admin.get("/admin/lti").get_data(as_text=True)
    assert "Moodle" in html and "dep-2" in html and "approved by an admin" in html
    # Test connection: the platform has no copy of grader's keys yet, then it has.
    pid = client.get("/api/v1/lti/platforms", headers=actors.h("admin")).get_json()["items"][0]
    tested = admin.post(f"/admin/lti/platforms/{pid['id']}/test", data={"csrf_token": token})
    assert "HTTP 401" in tested.get_data(as_text=True)
    lms.tool_jwks = client.get("/lti/jwks").get_json()
    tested = admin.post(f"/admin/lti/platforms/{pid['id']}/test", data={"csrf_token": token})
    assert "the platform issued an access token" in tested.get_data(as_text=True)
    # An LMS instructor's request shows up, and is approved here.
    lms.people = {"hint-ida": Person("sub-ida", "Ida Instructor", "instructor")}
    assert launch(Browser(app), lms, "hint-ida").status_code == 403
    html = admin.get("/admin/lti").get_data(as_text=True)
    assert "Ida Instructor" in html and "MLOps 101" in html
    account = re.search(r'id="approve-(\d+)"', html).group(1)
    r = admin.post(
        f"/admin/lti/instructor-requests/{account}",
        data={"csrf_token": token, "decision": "approve"},
        follow_redirects=True,
    )
    assert "Ida Instructor is a grader instructor now" in r.get_data(as_text=True)
    assert launch(Browser(app), lms, "hint-ida").status_code == 303
    # Rotating the key keeps the old one published.
    before = client.get("/lti/jwks").get_json()["keys"]
    assert admin.post("/admin/lti/keys", data={"csrf_token": token}).status_code == 303
    assert len(client.get("/lti/jwks").get_json()["keys"]) == len(before) + 1
    # Only admins see the page.
    assert signed_in_client(app, users["instructor"]).get("/admin/lti").status_code == 403
