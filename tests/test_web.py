"""The web pages' rules, with the Flask test client: sign-in, CSRF, headers, cookies,
access control, form errors, and the instructors' actions."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from .browser.support import (
    WebUser,
    add_assignment,
    add_web_users,
    csrf_from,
    login,
    signed_in_client,
    submit_as,
)
from .conftest import GAMING, HEALTH, recording_sender, run_worker_inline

GOOD = (HEALTH / "sub-029.md").read_text()
SLUG = "ml-health-check"


@pytest.fixture()
def people(app) -> dict[str, WebUser]:
    add_assignment(app)
    return add_web_users(app)


@pytest.fixture()
def sent(monkeypatch) -> list[int]:
    """Grade tasks the pages send (recorded, not sent)."""
    import grader.service.tasks as tasks

    out: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_grade", recording_sender(out))
    return out


def _client(app, people, who: str):
    return signed_in_client(app, people[who])


def _token(client, path: str = "/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _count(app, model) -> int:
    with app.app_context():
        return app.extensions["db"].session.scalar(select(func.count()).select_from(model))


def _graded(app, people, who: str = "learner", body: str = GOOD) -> int:
    sid = submit_as(app, people[who].id, body)
    assert run_worker_inline(app, sid) == "graded"
    return sid


def _submission(app, sid: int):
    from sqlalchemy.orm import undefer

    from grader.service.models import Submission

    with app.app_context():
        session = app.extensions["db"].session
        sub = session.get(Submission, sid, options=[undefer(Submission.content)])
        session.expunge(sub)
        return sub


# --- headers, cookies, sign-in --------------------------------------------------------------


def test_pages_send_a_strict_csp_and_no_inline_script(app, people):
    sid = _graded(app, people)
    learner = _client(app, people, "learner")
    staff = _client(app, people, "instructor")
    pages = [
        (app.test_client(), "/login"),
        (learner, "/"),
        (learner, f"/assignments/{SLUG}"),
        (learner, f"/submissions/{sid}"),
        (staff, "/"),
        (staff, "/review"),
        (staff, f"/review/submissions/{sid}"),
        (staff, f"/dashboard/{SLUG}"),
    ]
    for client, path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
        html = r.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(" src=" in s for s in scripts), path
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path
        assert not re.search(r"<[^>]+\sstyle\s*=", html), path
    r = app.test_client().get("/static/web/app.js")
    r.close()  # a file response: close it, or its handle leaks
    assert r.status_code == 200 and "javascript" in r.mimetype
    assert "Content-Security-Policy" in r.headers and r.headers.get("Cache-Control") != "no-store"


def test_session_cookie_is_httponly_and_samesite(app, people):
    r = login(app.test_client(), people["learner"])
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_api_ignores_the_session_cookie(app, people):
    client = _client(app, people, "instructor")
    r = client.get("/api/v1/review-queue")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_sign_in_errors_are_clear_and_uniform(app, people):
    client = app.test_client()
    token = _token(client, "/login")
    wrong = client.post(
        "/login", data={"email": "learner@example.test", "password": "nope", "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"email": "who@example.test", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    for r in (wrong, unknown):
        assert "The email address or the password is not right." in r.get_data(as_text=True)
    empty = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert empty.status_code == 400 and "Enter your email" in empty.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out
    # Email case does not matter.
    r = client.post(
        "/login",
        data={
            "email": "LEARNER@example.test",
            "password": people["learner"].password,
            "csrf_token": token,
        },
    )
    assert r.status_code == 303


def test_sign_in_returns_only_to_local_pages(app, people):
    for target, expected in (
        ("/review?status=all", "/review?status=all"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        client = app.test_client()
        token = _token(client, "/login")
        r = client.post(
            "/login",
            data={
                "email": people["instructor"].email,
                "password": people["instructor"].password,
                "csrf_token": token,
                "next": target,
            },
        )
        assert r.status_code == 303 and r.headers["Location"] == expected, target


def test_signed_out_pages_redirect_to_sign_in(app, people):
    client = app.test_client()
    r = client.get("/review?status=all")
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/review?status%3Dall"
    r = client.get("/submissions/1/status")
    assert r.status_code == 401 and r.is_json


def test_inactive_users_and_changed_passwords_end_sessions(app, people):
    from grader.service.models import User
    from grader.service.passwords import hash_password

    client = _client(app, people, "learner")
    assert client.get("/").status_code == 200
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(User, people["learner"].id).password_hash = hash_password("a new password")
    assert client.get("/").status_code == 302
    client = _client(app, people, "learner2")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        s.get(User, people["learner2"].id).active = False
    assert client.get("/").status_code == 302
    assert login(app.test_client(), people["learner2"]).status_code == 401


def test_sign_out_needs_post_and_token(app, people):
    client = _client(app, people, "learner")
    assert client.get("/logout").status_code == 200  # a confirmation page, still signed in
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    r = client.post("/logout", data={"csrf_token": _token(client)})
    assert r.status_code == 303 and client.get("/").status_code == 302


def test_sign_out_ends_every_copy_of_the_session(app, people):
    """A cookie copied before sign-out stops working too (the session generation moves on)."""
    client = _client(app, people, "learner")
    copy = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy.set_cookie("session", cookie.value)
    assert copy.get("/").status_code == 200
    r = client.post("/logout", data={"csrf_token": _token(client)})
    assert r.status_code == 303
    assert copy.get("/").status_code == 302
    assert _client(app, people, "learner").get("/").status_code == 200  # signing in again works


def test_sign_in_is_throttled_by_account_and_by_client(app, people):
    """After SIGN_IN_MAX_PER_ACCOUNT failures the account gets 429 with Retry-After, even
    with the right password, and an unknown email is treated exactly alike; a client that
    fails for many accounts is throttled too."""
    app.config.update(SIGN_IN_MAX_PER_ACCOUNT=3, SIGN_IN_MAX_PER_CLIENT=8)
    learner = people["learner"]
    for _ in range(3):
        assert login(app.test_client(), learner, password="wrong").status_code == 401
    r = login(app.test_client(), learner)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in r.get_data(as_text=True)
    ghost = type(learner)(id=0, name="nobody", email="nobody@example.edu", password="x")
    statuses = [login(app.test_client(), ghost).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # same as an existing account
    # 6 failures so far from this client; two more accounts' failures reach its limit of 8.
    for who in ("learner2", "instructor"):
        assert login(app.test_client(), people[who], password="wrong").status_code == 401
    assert login(app.test_client(), people["instructor2"]).status_code == 429


# --- CSRF -------------------------------------------------------------------------------------


def test_forms_without_the_token_change_nothing(app, people, sent):
    from grader.service.models import Override, Submission

    client = _client(app, people, "learner")
    page = client.get(f"/assignments/{SLUG}").get_data(as_text=True)
    form = {
        "content": GOOD,
        "submit_key": re.search(r'name="submit_key" value="([^"]+)"', page).group(1),
    }
    assert client.post(f"/assignments/{SLUG}/submit", data=form).status_code == 400
    bad = client.post(f"/assignments/{SLUG}/submit", data={**form, "csrf_token": "x" * 43})
    assert bad.status_code == 400 and "Nothing was changed" in bad.get_data(as_text=True)
    other = app.test_client()
    other_token = _token(other, "/login")  # a valid token, but another session's
    assert (
        client.post(
            f"/assignments/{SLUG}/submit", data={**form, "csrf_token": other_token}
        ).status_code
        == 400
    )
    nonascii = client.post(f"/assignments/{SLUG}/submit", data={**form, "csrf_token": "é" * 43})
    assert nonascii.status_code == 400
    token = csrf_from(page)
    cross = client.post(
        f"/assignments/{SLUG}/submit",
        data={**form, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 400
    assert _count(app, Submission) == 0 and sent == []
    # The staff forms too.
    sid = _graded(app, people)
    staff = _client(app, people, "instructor")
    for path, data in (
        (
            f"/review/submissions/{sid}/override",
            {"criterion": "risk_management", "points": "1", "reason": "x"},
        ),
        (f"/review/submissions/{sid}/release", {}),
        (f"/dashboard/{SLUG}/release", {"mode": "reviewed"}),
        (f"/dashboard/{SLUG}/regrade", {"action": "preview"}),
    ):
        assert staff.post(path, data=data).status_code == 400, path
    assert _count(app, Override) == 0
    assert _submission(app, sid).status.value == "graded"
    # A sign-in form without its token is refused too (login CSRF).
    r = app.test_client().post(
        "/login", data={"email": people["learner"].email, "password": people["learner"].password}
    )
    assert r.status_code == 400


def test_the_token_also_works_as_a_header(app, people):
    client = _client(app, people, "learner")
    token = _token(client)
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303


# --- access control -----------------------------------------------------------------------


def test_learners_see_only_their_own_submissions(app, people):
    mine = _graded(app, people, "learner")
    theirs = _graded(app, people, "learner2")
    client = _client(app, people, "learner")
    assert client.get(f"/submissions/{mine}").status_code == 200
    r = client.get(f"/submissions/{theirs}")
    assert r.status_code == 404 and "Step 1" not in r.get_data(as_text=True)
    assert client.get(f"/submissions/{theirs}/status").status_code == 404
    assert client.get("/submissions/999999").status_code == 404
    for path in (
        "/review",
        f"/review/submissions/{mine}",
        f"/dashboard/{SLUG}",
        f"/dashboard/{SLUG}/grades.csv",
    ):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "for instructors" in r.get_data(as_text=True)
    token = _token(client)
    for path in (
        f"/review/submissions/{mine}/release",
        f"/review/submissions/{mine}/override",
        f"/dashboard/{SLUG}/release",
        f"/dashboard/{SLUG}/regrade",
        "/review/claim",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert _submission(app, mine).status.value == "graded"


def test_unknown_things_are_html_404_pages(app, people):
    staff = _client(app, people, "instructor")
    for path in ("/assignments/nope", "/dashboard/nope", "/review/submissions/12345"):
        r = staff.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 404 and r.mimetype == "text/html", path
        assert "Not found" in r.get_data(as_text=True)


def test_unexpected_errors_are_a_page_without_traceback(app, people, monkeypatch):
    import grader.service.web.review as review

    sid = _graded(app, people)
    staff = _client(app, people, "instructor")

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(review, "shown_answer", boom)
    r = staff.get(f"/review/submissions/{sid}")
    body = r.get_data(as_text=True)
    assert r.status_code == 500 and "nothing was saved" in body
    assert "secret internals" not in body and "Traceback" not in body


# --- submitting -----------------------------------------------------------------------------


def _form(client) -> dict[str, str]:
    page = client.get(f"/assignments/{SLUG}").get_data(as_text=True)
    key = re.search(r'name="submit_key" value="([^"]+)"', page).group(1)
    return {"csrf_token": csrf_from(page), "submit_key": key}


def test_paste_submits_then_enqueues_after_commit(app, people, sent):
    from grader.service.models import Submission

    client = _client(app, people, "learner")
    form = _form(client)
    r = client.post(
        f"/assignments/{SLUG}/submit", data={**form, "content": GOOD.replace("\n", "\r\n")}
    )
    assert r.status_code == 303
    sid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert sent == [sid]
    assert _submission(app, sid).content == GOOD  # the text box's CRLF is undone
    # The same form again (a double click, a resend) stores nothing new.
    again = client.post(f"/assignments/{SLUG}/submit", data={**form, "content": GOOD})
    assert again.headers["Location"] == r.headers["Location"] and sent == [sid]
    # The same form with a different answer is explained, and the answer kept in the box.
    changed = client.post(f"/assignments/{SLUG}/submit", data={**form, "content": "Other text"})
    body = changed.get_data(as_text=True)
    assert changed.status_code == 409 and "already sent" in body and "Other text" in body
    assert _count(app, Submission) == 1
    status = client.get(f"/submissions/{sid}/status").get_json()
    assert status == {
        "id": sid,
        "status": "queued",
        "label": "Waiting to be graded",
        "final": False,
    }


def test_upload_submits_a_markdown_file(app, people, sent):
    client = _client(app, people, "learner")
    data = {
        **_form(client),
        "content": "",
        "upload": (io.BytesIO(b"\xef\xbb\xbf" + GOOD.encode()), "my answer.md"),
    }
    r = client.post(f"/assignments/{SLUG}/submit", data=data, content_type="multipart/form-data")
    assert r.status_code == 303
    assert _submission(app, sent[0]).content == GOOD  # the BOM is dropped


@pytest.mark.parametrize(
    ("content", "upload", "status", "message"),
    [
        ("", None, 422, "The answer is empty"),
        ("   \n ", None, 422, "The answer is empty"),
        ("a\x00b", None, 422, "NUL characters"),
        ("x" * 2049, None, 413, "the limit is 2 KB"),
        ("text", (b"# also a file", "a.md"), 400, "not both"),
        ("", (b"# a file", "answer.pdf"), 400, "is not a Markdown file"),
        ("", (b"# caf\xe9", "answer.md"), 422, "is not UTF-8 text"),
        ("", (b"x" * 2049, "answer.md"), 413, "larger than the limit of 2 KB"),
        ("", (b"", "answer.md"), 422, "The answer is empty"),
    ],
)
def test_bad_answers_get_a_clear_message_and_nothing_is_stored(
    app, people, sent, content, upload, status, message
):
    from grader.service.models import Submission

    app.config["MAX_SUBMISSION_BYTES"] = 2048
    client = _client(app, people, "learner")
    data = {**_form(client), "content": content}
    if upload:
        data["upload"] = (io.BytesIO(upload[0]), upload[1])
    r = client.post(f"/assignments/{SLUG}/submit", data=data, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == status and message in body, body[-2000:]
    assert 'id="form-error"' in body and 'name="submit_key"' in body
    assert _count(app, Submission) == 0 and sent == []


def test_a_body_far_over_the_limit_is_refused_with_a_page(app, people, sent):
    from grader.service.models import Submission

    app.config["MAX_SUBMISSION_BYTES"] = 2048
    client = _client(app, people, "learner")
    data = {**_form(client), "upload": (io.BytesIO(b"x" * 200_000), "big.md")}
    r = client.post(f"/assignments/{SLUG}/submit", data=data, content_type="multipart/form-data")
    assert r.status_code == 413
    assert "larger than the limit of 2 KB" in r.get_data(as_text=True)
    assert _count(app, Submission) == 0 and sent == []


# --- what learners see --------------------------------------------------------------------


def test_learners_see_the_grade_only_after_release_and_never_the_key(app, people):
    sid = _graded(app, people)
    client = _client(app, people, "learner")
    body = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert 'id="grade-h"' not in body and "waiting for your instructor" in body
    assert 'data-poll="/submissions/' in body
    staff = _client(app, people, "instructor")
    staff_page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert "Not found:" in staff_page  # instructors see the missing concepts
    staff.post(f"/review/submissions/{sid}/release", data={"csrf_token": _token(staff)})
    body = client.get(f"/submissions/{sid}").get_data(as_text=True)
    assert 'id="grade-h"' in body and "Not found:" not in body and "instructors only" not in body
    assert "data-poll" not in body  # released: nothing left to wait for
    assert '<mark class="ev ev-0"' in body
    home = client.get("/").get_data(as_text=True)
    assert "Grade released" in home


def test_answers_are_rendered_once_by_the_worker_and_never_per_view(app, people, monkeypatch):
    import grader.service.answers as answers
    from grader.service.models import Grade

    sid = _graded(app, people)
    with app.app_context():
        row = (
            app.extensions["db"]
            .session.scalars(select(Grade).where(Grade.submission_id == sid))
            .one()
        )
        assert '<mark class="ev ev-0"' in row.answer_html and row.answer_anchors

    def boom(*a, **k):
        raise AssertionError("rendered during a page view")

    monkeypatch.setattr(answers, "render_for_grade", boom)
    staff = _client(app, people, "instructor")
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert '<mark class="ev ev-0" id="ev-0-0"' in page and 'href="#ev-0-0"' in page
    # Before release the learner sees the same rendering without the evidence marks.
    learner = _client(app, people, "learner")
    mine = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "<mark" not in mine and "<h2" in mine and "<strong>" in mine


def test_a_grade_stored_without_its_rendering_is_rendered_on_first_view_only(
    app, people, monkeypatch
):
    import grader.service.answers as answers
    from grader.service.models import Grade

    sid = _graded(app, people)
    with app.app_context():
        session = app.extensions["db"].session
        session.execute(Grade.__table__.update().values(answer_html=None, answer_anchors=None))
        session.commit()
    calls = []
    real = answers.render_for_grade
    monkeypatch.setattr(answers, "render_for_grade", lambda *a: calls.append(1) or real(*a))
    staff = _client(app, people, "instructor")
    for _ in range(3):
        assert '<mark class="ev' in staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert calls == [1]


def test_an_answer_not_graded_yet_is_shown_as_escaped_text(app, people):
    sid = submit_as(app, people["learner"].id, "## Step 1\n\n<script>alert(1)</script> **x**\n")
    page = _client(app, people, "learner").get(f"/submissions/{sid}").get_data(as_text=True)
    assert '<pre class="plain">## Step 1' in page and "&lt;script&gt;" in page
    assert "<strong>x" not in page


# --- review ---------------------------------------------------------------------------------


def test_override_needs_a_reason_and_valid_points(app, people):
    from grader.service.models import AuditEvent, Override

    sid = _graded(app, people)
    staff = _client(app, people, "instructor")
    token = _token(staff)
    url = f"/review/submissions/{sid}/override?status=graded&pos=0"
    cases = [
        (
            {"criterion": "risk_management", "points": "lots", "reason": "r"},
            400,
            "must be a number",
        ),
        ({"criterion": "risk_management", "points": "nan", "reason": "r"}, 400, "must be a number"),
        ({"criterion": "risk_management", "points": "12", "reason": "  "}, 422, "Give a reason"),
        ({"criterion": "risk_management", "points": "25", "reason": "r"}, 422, "between 0 and 20"),
        ({"criterion": "bogus", "points": "1", "reason": "r"}, 422, "Unknown criterion"),
        ({"criterion": "risk_management", "points": "1", "reason": "r" * 5001}, 422, "limited to"),
    ]
    for data, status, message in cases:
        r = staff.post(url, data={**data, "csrf_token": token})
        assert r.status_code == status and message in r.get_data(as_text=True), data
    assert _count(app, Override) == 0
    r = staff.post(
        url,
        data={
            "criterion": "risk_management",
            "points": "19,5",
            "reason": "Rollback is complete.",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("?status=graded&pos=0")
    page = staff.get(r.headers["Location"]).get_data(as_text=True)
    assert "risk management is now 19.5 points" in page and "Rollback is complete." in page
    with app.app_context():
        s = app.extensions["db"].session
        assert s.scalar(select(Override.points)) == 19.5
        assert s.scalar(select(AuditEvent.reason).where(AuditEvent.action == "override")) == (
            "Rollback is complete."
        )
    assert _submission(app, sid).reviewed


def test_claims_protect_a_submission_from_other_instructors(app, people):
    sid = _graded(app, people)
    iris = _client(app, people, "instructor")
    ivan = _client(app, people, "instructor2")
    r = iris.post(f"/review/submissions/{sid}/claim", data={"csrf_token": _token(iris)})
    assert r.status_code == 303
    assert "You hold the claim" in iris.get(f"/review/submissions/{sid}").get_data(as_text=True)
    page = ivan.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert "Claimed by Iris Instructor" in page
    token = _token(ivan)
    r = ivan.post(
        f"/review/submissions/{sid}/override",
        data={"criterion": "risk_management", "points": "1", "reason": "r", "csrf_token": token},
    )
    assert r.status_code == 409 and "Iris Instructor has claimed" in r.get_data(as_text=True)
    r = ivan.post(
        f"/review/submissions/{sid}/release", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Iris Instructor has claimed" in r.get_data(as_text=True)
    assert _submission(app, sid).status.value == "graded"
    r = ivan.post(
        "/review/claim", data={"submission": str(sid), "csrf_token": token}, follow_redirects=True
    )
    assert "Iris Instructor has claimed" in r.get_data(as_text=True)
    iris.post(f"/review/submissions/{sid}/unclaim", data={"csrf_token": _token(iris)})
    r = ivan.post("/review/claim?status=graded", data={"submission": str(sid), "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].startswith(f"/review/submissions/{sid}")


def test_release_of_an_ungraded_submission_explains_itself(app, people):
    sid = submit_as(app, people["learner"].id, GOOD)  # still queued
    staff = _client(app, people, "instructor")
    r = staff.post(
        f"/review/submissions/{sid}/release",
        data={"csrf_token": _token(staff)},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Only graded submissions can be released" in r.get_data(
        as_text=True
    )


def test_confirm_from_the_review_page_marks_the_grade_reviewed_with_its_interval(app, people):
    sid = _graded(app, people, "learner")
    staff = _client(app, people, "instructor")
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    sub = _submission(app, sid)
    # The total with its interval, as in the queue: "72 (64-80)".
    shown = re.search(r'id="interval"[^>]*>\(([\d.]+)–([\d.]+)\)', page)
    assert shown and float(shown[1]) <= sub.total <= float(shown[2])
    assert f"({sub.interval_low:g}–{sub.interval_high:g})" in staff.get("/review").get_data(
        as_text=True
    )
    assert 'id="confirm"' in page and not sub.reviewed
    r = staff.post(
        f"/review/submissions/{sid}/confirm",
        data={"csrf_token": _token(staff)},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Confirmed" in r.get_data(as_text=True)
    assert _submission(app, sid).reviewed


def test_queue_filters_order_and_neighbours(app, people):
    good = _graded(app, people, "learner")
    stuffed = _graded(app, people, "learner2", (GAMING / "buzzwords.md").read_text())
    html_one = _graded(app, people, "learner3", (HEALTH / "sub-030.md").read_text())
    staff = _client(app, people, "instructor")
    page = staff.get("/review").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'class="row-link" href="/review/submissions/(\d+)', page)]
    conf = {sid: _submission(app, sid).confidence for sid in (good, stuffed, html_one)}
    assert order == sorted(conf, key=lambda s: (conf[s], s))
    only = staff.get("/review?flag=contains_html").get_data(as_text=True)
    assert re.findall(r'class="row-link" href="/review/submissions/(\d+)', only) == [str(html_one)]
    for bad, message in (
        ("min_total=abc", "“Total from” must be a number"),
        ("status=bogus", "Unknown status"),
    ):
        r = staff.get(f"/review?{bad}")
        assert r.status_code == 400 and message in r.get_data(as_text=True), bad
    # Next/previous follow the queue as filtered.
    first, second = order[0], order[1]
    page = staff.get(f"/review/submissions/{first}?pos=0&sort=confidence").get_data(as_text=True)
    assert f'rel="next" id="next-link" href="/review/submissions/{second}?pos=1' in page
    assert 'rel="prev"' not in page and "1 of 3" in page
    # Once it leaves the queue (reviewed, with reviewed=0), "next" continues from its place.
    token = _token(staff)
    staff.post(
        f"/review/submissions/{first}/override?reviewed=0&pos=0",
        data={"criterion": "risk_management", "points": "1", "reason": "r", "csrf_token": token},
    )
    page = staff.get(f"/review/submissions/{first}?reviewed=0&pos=0").get_data(as_text=True)
    assert f'href="/review/submissions/{second}?pos=0' in page
    assert "no longer matches its filters" in page


# --- dashboard --------------------------------------------------------------------------------


def test_dashboard_counts_charts_and_release(app, people):
    a = _graded(app, people, "learner")
    b = _graded(app, people, "learner2", (HEALTH / "sub-009.md").read_text())
    c = _graded(app, people, "learner3", (HEALTH / "sub-003.md").read_text())
    submit_as(app, people["admin"].id, GOOD)  # queued
    staff = _client(app, people, "instructor")
    page = staff.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    assert 'id="count-graded">3<' in page and 'id="count-queued">1<' in page
    assert page.count('<svg class="chart"') == 5 and "n = 3" in page
    token = _token(staff)
    url = f"/dashboard/{SLUG}/release"
    r = staff.post(url, data={"mode": "selected", "csrf_token": token}, follow_redirects=True)
    assert "Select the submissions" in r.get_data(as_text=True)
    r = staff.post(
        url,
        data={"mode": "selected", "ids": ["1", "x"], "csrf_token": token},
        follow_redirects=True,
    )
    assert "not valid" in r.get_data(as_text=True)
    r = staff.post(url, data={"mode": "reviewed", "csrf_token": token}, follow_redirects=True)
    assert "Nothing was released" in r.get_data(as_text=True)
    r = staff.post(url, data={"one": str(a), "csrf_token": token}, follow_redirects=True)
    assert f"Released 1 submission: #{a}" in r.get_data(as_text=True)
    r = staff.post(
        url,
        data={"mode": "selected", "ids": [str(b), str(c)], "csrf_token": token},
        follow_redirects=True,
    )
    assert f"Released 2 submissions: #{b}, #{c}" in r.get_data(as_text=True)
    assert {_submission(app, i).status.value for i in (a, b, c)} == {"released"}


def test_the_dashboard_weighs_a_release_by_confidence_and_does_it(app, people):
    sure = _graded(app, people, "learner", (HEALTH / "sub-010.md").read_text())
    unsure = _graded(app, people, "learner2", (HEALTH / "sub-021.md").read_text())
    staff = _client(app, people, "instructor")
    page = staff.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    table = page[page.index('id="risk"') :]
    rows = re.findall(r"<tr>\s*<td class=\"num\">(\d+)%</td>\s*<td class=\"num\">(\d+)</td>", table)
    counts = {int(level): int(n) for level, n in rows}
    conf = {i: _submission(app, i).confidence for i in (sure, unsure)}
    reasons = {i: _submission(app, i).review_codes for i in (sure, unsure)}
    expected_80 = sum(1 for i in conf if conf[i] >= 0.8 and reasons[i] == ",")
    assert counts[80] == expected_80 and counts[50] >= counts[95]
    r = staff.post(
        f"/dashboard/{SLUG}/release",
        data={"mode": "confidence", "level": "0.8", "csrf_token": _token(staff)},
        follow_redirects=True,
    )
    assert r.status_code == 200
    released = {i for i in (sure, unsure) if _submission(app, i).status.value == "released"}
    assert released == {i for i in conf if conf[i] >= 0.8 and reasons[i] == ","}
    bad = staff.post(
        f"/dashboard/{SLUG}/release",
        data={"mode": "confidence", "level": "0.33", "csrf_token": _token(staff)},
        follow_redirects=True,
    )
    assert "Choose one of the confidence levels" in bad.get_data(as_text=True)


def test_the_dashboard_lists_graded_answers_a_page_at_a_time(app, people, monkeypatch):
    import grader.service.web.dashboard as dashboard

    monkeypatch.setattr(dashboard, "PAGE", 2)
    answers = (("learner", "sub-010.md"), ("learner2", "sub-009.md"), ("learner3", "sub-003.md"))
    ids = [_graded(app, people, who, (HEALTH / name).read_text()) for who, name in answers]
    staff = _client(app, people, "instructor")

    def listed(html: str) -> list[int]:
        return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)]

    first = staff.get(f"/dashboard/{SLUG}").get_data(as_text=True)
    assert listed(first) == ids[:2] and "page 1 of 2" in first and 'rel="next"' in first
    assert "n = 3" in first  # the distributions still count every graded answer
    second = staff.get(f"/dashboard/{SLUG}?page=2").get_data(as_text=True)
    assert listed(second) == ids[2:] and 'rel="prev"' in second and 'rel="next"' not in second
    beyond = staff.get(f"/dashboard/{SLUG}?page=99")
    assert beyond.status_code == 200 and listed(beyond.get_data(as_text=True)) == ids[2:]


def test_regrade_preview_writes_nothing_and_apply_needs_the_previewed_version(
    app, people, jobs_inline, monkeypatch
):
    import grader.service.tasks as tasks
    from grader.service.models import Assignment, AuditEvent, Grade, Job

    _graded(app, people)
    staff = _client(app, people, "instructor")
    token = _token(staff)
    before = (_count(app, Grade), _count(app, AuditEvent))
    r = staff.post(f"/dashboard/{SLUG}/regrade", data={"action": "preview", "csrf_token": token})
    assert r.status_code == 303 and "?preview=" in r.headers["Location"]
    page = staff.get(r.headers["Location"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="regrade-diff"' in body and "1 answers graded" in body
    assert "nothing to apply" in body  # the rubric file did not change
    assert (_count(app, Grade), _count(app, AuditEvent)) == before
    r = staff.post(
        f"/dashboard/{SLUG}/regrade",
        data={"action": "apply", "version": "0" * 16, "csrf_token": token},
        follow_redirects=True,
    )
    assert "preview the regrade again" in r.get_data(as_text=True) and jobs_inline == []
    with app.app_context():
        version = app.extensions["db"].session.scalar(select(Assignment.rubric_version))
    r = staff.post(
        f"/dashboard/{SLUG}/regrade",
        data={"action": "apply", "version": version, "csrf_token": token},
        follow_redirects=True,
    )
    assert "the worker is sending every current answer" in r.get_data(as_text=True)
    assert len(jobs_inline) == 1
    # While the worker has not run a dry run yet, the page says so and refreshes itself.
    monkeypatch.setattr(tasks, "enqueue_job", lambda job_id: True)
    r = staff.post(f"/dashboard/{SLUG}/regrade", data={"action": "preview", "csrf_token": token})
    page = staff.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="regrade-pending"' in page and 'http-equiv="refresh"' in page
    assert _count(app, Job) == 3
    # It can be cancelled from the page; the preview link then says so and stops refreshing.
    preview_url = r.headers["Location"]
    job_id = preview_url.rsplit("=", 1)[1]
    assert 'id="regrade-cancel"' in page
    r = staff.post(f"/dashboard/{SLUG}/regrade/{job_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 303
    page = staff.get(preview_url).get_data(as_text=True)
    assert "cancelled by" in page and 'id="regrade-pending"' not in page
    r = staff.post(
        f"/dashboard/{SLUG}/regrade/{job_id}/cancel",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "already" in r.get_data(as_text=True)
    # Someone else's or a made-up job id is a plain 404 on the dashboard.
    assert staff.get(f"/dashboard/{SLUG}?preview=999").status_code == 404


def test_gradebook_csv_for_signed_in_staff(app, people):
    _graded(app, people)
    staff = _client(app, people, "instructor")
    r = staff.get(f"/dashboard/{SLUG}/grades.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines()[1].split(",")[1] == "Lena Learner"


def test_review_page_and_queue_show_why_a_grade_needs_a_look(app, people):
    """The review page lists each review reason with its sentence; the queue shows the codes
    and filters by them; a grade with no reason shows no such box."""
    flagged = _graded(app, people, body=(GAMING / "buzzwords.md").read_text())
    plain = _graded(app, people, who="learner2")
    staff = _client(app, people, "instructor")
    page = staff.get(f"/review/submissions/{flagged}").get_data(as_text=True)
    assert 'id="review-reasons"' in page and "check that it is deserved" in page
    assert 'id="review-reasons"' not in staff.get(f"/review/submissions/{plain}").get_data(
        as_text=True
    )
    queue = staff.get("/review?reason=penalty").get_data(as_text=True)
    assert f">{flagged}</a>" in queue and f">{plain}</a>" not in queue


def test_the_assignment_page_shows_the_task_rendered_safely(app, people):
    learner = _client(app, people, "learner")
    page = learner.get(f"/assignments/{SLUG}").get_data(as_text=True)
    task = page[page.index('id="task"') :]
    assert (
        "customer churn prediction" in task
        and "<h3>Mini-Project: ML System Health Check</h3>" in task
    )
    assert "<script" not in task


def test_a_task_with_raw_html_is_shown_as_text():
    from grader.service.render import rendered_task

    html = str(rendered_task("**Scenario** <script>alert(1)</script> [x](javascript:alert(1))"))
    assert "<strong>Scenario</strong>" in html and "<script" not in html
    assert "&lt;script&gt;" in html and "href=" not in html  # text, and no unsafe link


def test_a_failed_submission_can_be_graded_by_hand_from_the_review_page(app, people):
    from grader.service.models import Status, Submission

    sid = submit_as(app, people["learner"].id, GOOD)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        sub = s.get(Submission, sid)
        sub.status, sub.failure_reason = Status.FAILED, "grading raised RuntimeError"
    staff = _client(app, people, "instructor")
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert 'id="hand-form"' in page and 'name="points-risk_management"' in page
    form = {
        "csrf_token": _token(staff),
        "points-problem_identification": "20",
        "points-prioritization": "15",
        "points-solution_design": "15",
        "points-risk_management": "abc",
        "reason": "read by hand",
    }
    r = staff.post(f"/review/submissions/{sid}/grade-by-hand", data=form, follow_redirects=True)
    assert "must be a number" in r.get_data(as_text=True)
    assert _submission(app, sid).status.value == "failed"
    form["points-risk_management"] = "10"
    r = staff.post(f"/review/submissions/{sid}/grade-by-hand", data=form, follow_redirects=True)
    assert "Graded by hand" in r.get_data(as_text=True)
    sub = _submission(app, sid)
    assert sub.status.value == "graded" and sub.total == 60


def test_the_queue_page_says_more_than_its_count_limit(app, people, monkeypatch):
    from grader.service.operations import queue

    for who in ("learner", "learner2", "learner3"):
        _graded(app, people, who)
    staff = _client(app, people, "instructor")
    assert "3 submissions" in staff.get("/review").get_data(as_text=True)
    monkeypatch.setattr(queue, "COUNT_LIMIT", 2)
    assert "More than 2 submissions" in staff.get("/review").get_data(as_text=True)
    # Past the count the pages still lead on to every answer.
    app.config["PAGE_SIZE"] = 1
    shown = []
    for page in (1, 2, 3):
        html = staff.get(f"/review?page={page}").get_data(as_text=True)
        shown += re.findall(r'class="row-link" href="/review/submissions/(\d+)', html)
        assert ('rel="next"' in html) == (page < 3), page
    assert len(set(shown)) == 3
