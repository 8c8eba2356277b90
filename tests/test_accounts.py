"""Accounts: who creates whom (API, pages, CLI), CSV rosters (all or nothing), one-time links
to set a password (once, until they expire), forgot password (same answer for every address,
throttled apart from sign-in), and the mailed links through a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from grader.service import mail
from grader.service.models import AccountLink, Notification, User, utcnow

from .browser.support import WebUser, add_web_users, csrf_from, login, signed_in_client
from .conftest import make_app
from .smtp import SMTPServer

LINK = re.compile(r"/account/password/([A-Za-z0-9_-]{20,})")


@pytest.fixture()
def people(app) -> dict[str, WebUser]:
    return add_web_users(app)


def _client(app, people, who: str):
    return signed_in_client(app, people[who])


def _token(client, path="/people") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _users(app) -> int:
    with app.app_context():
        return app.extensions["db"].session.scalar(select(func.count()).select_from(User))


# --- API ------------------------------------------------------------------------------------


def test_api_roles_create_whom_they_may(client, actors):
    r = client.post(
        "/api/v1/users",
        headers=actors.h("instructor"),
        json={"name": "Nia New", "email": "nia@course.example"},
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["role"] == "learner" and body["mailed"] is False
    assert LINK.search(body["link"])
    # Instructors create learners only; admins may create instructors; nobody makes platforms.
    r = client.post(
        "/api/v1/users",
        headers=actors.h("instructor"),
        json={"name": "X", "email": "x@course.example", "role": "instructor"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/users",
        headers=actors.h("admin"),
        json={"name": "Ina", "email": "ina@course.example", "role": "instructor"},
    )
    assert r.status_code == 201
    r = client.post(
        "/api/v1/users",
        headers=actors.h("admin"),
        json={"name": "P", "email": "p@course.example", "role": "platform"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "role"
    assert (
        client.post(
            "/api/v1/users", headers=actors.h("learner"), json={"name": "a", "email": "a@b.c"}
        ).status_code
        == 403
    )
    # Same address in other letters: taken.
    r = client.post(
        "/api/v1/users",
        headers=actors.h("admin"),
        json={"name": "Nia Again", "email": "NIA@course.example"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "email_taken"
    r = client.post(
        "/api/v1/users", headers=actors.h("admin"), json={"name": "Bad", "email": "not-an-email"}
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "email"


def test_api_roster_is_all_or_nothing_and_can_be_uploaded_again(app, client, actors):
    roster = "name,email\nAna One,ana@course.example\nBo Two,bo@course.example\n"
    r = client.post(
        "/api/v1/users/import",
        headers={**actors.h("instructor"), "Content-Type": "text/csv"},
        data=roster,
    )
    assert r.status_code == 200, r.get_json()
    assert [u["email"] for u in r.get_json()["created"]] == [
        "ana@course.example",
        "bo@course.example",
    ]
    # Again, with one more row: only the new one is created.
    r = client.post(
        "/api/v1/users/import",
        headers={**actors.h("instructor"), "Content-Type": "text/csv"},
        data=roster + "Cy Three,cy@course.example\n",
    )
    body = r.get_json()
    assert [u["email"] for u in body["created"]] == ["cy@course.example"]
    assert body["existing"] == ["ana@course.example", "bo@course.example"]
    before = _users(app)
    bad = "name,email\nDi Four,di@course.example\n,nobody@course.example\n"
    r = client.post(
        "/api/v1/users/import",
        headers={**actors.h("instructor"), "Content-Type": "text/csv"},
        data=bad,
    )
    assert r.status_code == 422 and "line 3" in r.get_json()["error"]["message"]
    assert _users(app) == before  # nothing imported
    for text, code in (
        ("email\nx@y.z\n", "invalid_roster"),
        ("", "empty_roster"),
        ("name,email\nA,a@course.example\nB,A@course.example\n", "duplicate_email"),
        ("name,email,role\nA,a@course.example,admin\n", "forbidden"),
        ("name,email\n" + "x" * 200_000 + ",a@course.example\n", "invalid_roster"),
        ("name,email\nA\x00B,a@course.example\n", "invalid_roster"),
        ("name,email\nA\x1bB,a@course.example\n", "invalid_name"),
    ):
        r = client.post(
            "/api/v1/users/import",
            headers={**actors.h("instructor"), "Content-Type": "text/csv"},
            data=text,
        )
        assert r.status_code in (403, 422) and r.get_json()["error"]["code"] == code, text
    r = client.post("/api/v1/users/import", headers=actors.h("admin"), json={"a": 1})
    assert r.status_code == 415


# --- links ------------------------------------------------------------------------------------


def _new_account(client, actors, email="nia@course.example") -> str:
    r = client.post(
        "/api/v1/users", headers=actors.h("admin"), json={"name": "Nia New", "email": email}
    )
    return LINK.search(r.get_json()["link"]).group(1)


def test_a_link_sets_the_password_once_and_signs_in(app, client, actors):
    token = _new_account(client, actors)
    page = client.get(f"/account/password/{token}")
    assert page.status_code == 200 and "Welcome, Nia New" in page.get_data(as_text=True)
    csrf = csrf_from(page.get_data(as_text=True))
    r = client.post(
        f"/account/password/{token}",
        data={"csrf_token": csrf, "password": "short", "confirm": "short"},
    )
    assert r.status_code == 422 and "at least 10" in r.get_data(as_text=True)
    r = client.post(
        f"/account/password/{token}",
        data={"csrf_token": csrf, "password": "a long password", "confirm": "another one"},
    )
    assert r.status_code == 422 and 'aria-invalid="true"' in r.get_data(as_text=True)
    r = client.post(
        f"/account/password/{token}",
        data={"csrf_token": csrf, "password": "a long password", "confirm": "a long password"},
    )
    assert r.status_code == 303  # signed in
    assert "Nia New" in client.get("/").get_data(as_text=True)
    # Used: it works no more, for anyone.
    other = app.test_client()
    assert other.get(f"/account/password/{token}").status_code == 410
    assert (
        login(other, WebUser(0, "Nia New", "nia@course.example", "a long password")).status_code
        == 303
    )


def _new_link(app, people, user_id: int) -> str:
    """A new welcome link from the People page's button."""
    staff = _client(app, people, "admin")
    r = staff.post(f"/people/{user_id}/link", data={"csrf_token": _token(staff)})
    assert r.status_code == 200, r.get_data(as_text=True)
    return LINK.search(r.get_data(as_text=True)).group(1)


def _newcomer(app, people) -> tuple[int, str]:
    """An account made on the People page (no password yet) and its first link."""
    staff = _client(app, people, "admin")
    r = staff.post(
        "/people",
        data={"csrf_token": _token(staff), "name": "Nia New", "email": "nia@course.example"},
    )
    token = LINK.search(r.get_data(as_text=True)).group(1)
    with app.app_context():
        user = app.extensions["db"].session.scalar(
            select(User).where(User.email == "nia@course.example")
        )
        return user.id, token


def test_links_expire_and_a_new_one_replaces_the_old(app, people):
    client = app.test_client()
    nia, t1 = _newcomer(app, people)
    with app.app_context(), app.extensions["db"].session_scope() as session:
        link = session.scalars(select(AccountLink)).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get(f"/account/password/{t1}").status_code == 410
    assert client.get("/account/password/not-a-token").status_code == 410
    # A new link makes the earlier ones stop working.
    t2 = _new_link(app, people, nia)
    t3 = _new_link(app, people, nia)
    assert client.get(f"/account/password/{t2}").status_code == 410
    assert client.get(f"/account/password/{t3}").status_code == 200
    # Instructors send links to learners only.
    staff = _client(app, people, "instructor")
    r = staff.post(f"/people/{people['admin'].id}/link", data={"csrf_token": _token(staff)})
    assert r.status_code == 403


def test_nobody_is_shown_a_link_to_an_account_that_has_a_password(app, people):
    """Shown to whoever asked, such a link would let them take the account over: it is only
    ever mailed to the account's own address (and mail is off here)."""
    for who in ("instructor", "admin"):
        staff = _client(app, people, who)
        r = staff.post(f"/people/{people['learner'].id}/link", data={"csrf_token": _token(staff)})
        assert r.status_code == 409 and "has a password" in r.get_data(as_text=True)
        assert not LINK.search(r.get_data(as_text=True))
    with app.app_context():
        count = app.extensions["db"].session.scalar(select(func.count()).select_from(AccountLink))
        assert count == 0


def test_using_a_link_ends_every_other_link_and_session(app, people):
    nia, first = _newcomer(app, people)
    second = _new_link(app, people, nia)  # the first one stops working at once
    fresh = app.test_client()
    csrf = csrf_from(fresh.get(f"/account/password/{second}").get_data(as_text=True))
    r = fresh.post(
        f"/account/password/{second}",
        data={
            "csrf_token": csrf,
            "password": "brand new password",
            "confirm": "brand new password",
        },
    )
    assert r.status_code == 303
    assert app.test_client().get(f"/account/password/{first}").status_code == 410
    assert app.test_client().get(f"/account/password/{second}").status_code == 410


def test_forgot_password_says_the_same_for_every_address(app, people):
    client = app.test_client()
    answers = []
    for email in (people["learner"].email, "nobody@course.example"):
        csrf = csrf_from(client.get("/forgot-password").get_data(as_text=True))
        r = client.post("/forgot-password", data={"csrf_token": csrf, "email": email})
        assert r.status_code == 200
        answers.append(r.get_data(as_text=True).replace(email, "EMAIL"))
    assert answers[0] == answers[1]
    assert "does not send mail" in answers[0]  # mail is off here: no link is made at all
    with app.app_context():
        assert (
            app.extensions["db"].session.scalar(select(func.count()).select_from(AccountLink)) == 0
        )


def test_forgot_password_is_throttled_apart_from_sign_in(app, people):
    client = app.test_client()
    email = people["learner"].email
    statuses = []
    for _ in range(7):
        csrf = csrf_from(client.get("/forgot-password").get_data(as_text=True))
        statuses.append(
            client.post("/forgot-password", data={"csrf_token": csrf, "email": email}).status_code
        )
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    # The learner can still sign in.
    assert login(app.test_client(), people["learner"]).status_code == 303


# --- pages --------------------------------------------------------------------------------------


def test_people_page_creates_one_and_imports_a_roster(app, people):
    import io

    staff = _client(app, people, "instructor")
    page = staff.get("/people").get_data(as_text=True)
    assert 'value="instructor"' not in page  # an instructor adds learners only
    r = staff.post(
        "/people",
        data={"csrf_token": _token(staff), "name": "Nia New", "email": "nia@course.example"},
    )
    assert r.status_code == 200 and LINK.search(r.get_data(as_text=True))  # shown once
    r = staff.post(
        "/people",
        data={"csrf_token": _token(staff), "name": "Nia Again", "email": "nia@course.example"},
    )
    assert r.status_code == 409 and "exists already" in r.get_data(as_text=True)
    assert 'value="Nia Again"' in r.get_data(as_text=True)  # what was typed is kept
    roster = b"name,email\nAna One,ana@course.example\nBo Two,bo@course.example\n"
    r = staff.post(
        "/people/roster",
        data={"csrf_token": _token(staff), "roster": (io.BytesIO(roster), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    assert len(LINK.findall(r.get_data(as_text=True))) == 2
    r = staff.post(
        "/people/roster",
        data={"csrf_token": _token(staff), "roster": (io.BytesIO(b"\xff\xfe"), "r.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "UTF-8" in r.get_data(as_text=True)
    listing = staff.get("/people?q=ana").get_data(as_text=True)
    assert "ana@course.example" in listing and "bo@course.example" not in listing
    assert _client(app, people, "learner").get("/people").status_code == 403


def test_cli_creates_imports_and_relinks(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import main
    from grader.service import create_app

    monkeypatch.setenv("GRADER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("GRADER_BROKER_URL", "memory://")
    monkeypatch.delenv("GRADER_DATABASE_URL", raising=False)
    cli = CliRunner()

    def run(*args):
        return cli.invoke(main, list(args))

    r = run("user", "create", "--name", "Ada", "--email", "ada@course.example", "--role", "admin")
    assert r.exit_code == 0, r.output
    first = LINK.search(r.output).group(1)
    r = run("user", "create", "--name", "Ada", "--email", "ada@course.example")
    assert r.exit_code != 0 and "exists already" in r.output
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAna,ana@course.example\n,bad\n")
    r = run("user", "import", str(roster))
    assert r.exit_code != 0 and "line 3" in r.output
    roster.write_text("name,email\nAna,ana@course.example\nBo,bo@course.example\n")
    r = run("user", "import", str(roster))
    assert r.exit_code == 0 and len(LINK.findall(r.output)) == 2
    r = run("user", "create", "--name", "X", "--email", "x@course.example", "--mail")
    assert r.exit_code != 0 and "mail is off" in r.output
    r = run("user", "link", "ADA@course.example")
    second = LINK.search(r.output).group(1)
    assert run("user", "link", "nobody@course.example").exit_code != 0
    # The first link was replaced; the second one works in the pages.
    client = create_app().test_client()
    assert client.get(f"/account/password/{first}").status_code == 410
    assert client.get(f"/account/password/{second}").status_code == 200


# --- mailed links -------------------------------------------------------------------------------


def test_links_are_mailed_and_no_usable_token_rests_in_the_database(tmp_path, db_url, monkeypatch):
    queued: list[int] = []
    resets: list[str] = []
    monkeypatch.setattr(mail, "enqueue_mail", lambda ident: queued.append(ident) or True)
    monkeypatch.setattr(mail, "enqueue_reset", lambda email: resets.append(email) or True)
    with SMTPServer() as smtp:
        app = make_app(
            tmp_path,
            db_url,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp.port,
            PUBLIC_URL="https://g.example",
        )
        people = add_web_users(app)
        staff = _client(app, people, "admin")
        r = staff.post(
            "/people",
            data={"csrf_token": _token(staff), "name": "Nia", "email": "nia@course.example"},
        )
        assert r.status_code == 303 and not LINK.search(staff.get("/people").get_data(as_text=True))
        # Forgot password: the request only queues the worker's job, for any address.
        client = app.test_client()
        for email in (people["learner"].email, "nobody@course.example"):
            csrf = csrf_from(client.get("/forgot-password").get_data(as_text=True))
            r = client.post("/forgot-password", data={"csrf_token": csrf, "email": email})
            assert "is on its way" in r.get_data(as_text=True)
        assert resets == [people["learner"].email, "nobody@course.example"]
        signed = _client(app, people, "learner")  # a session that the reset will end
        with app.app_context():
            assert mail.reset.run(resets[0]) == "mailed"
            assert mail.reset.run(resets[1]) == "no account"
            session = app.extensions["db"].session
            # Before sending, no link has a token at all; nothing holds one in plain text.
            assert all(a.token_hash is None for a in session.scalars(select(AccountLink)))
            assert all(n.link is None for n in session.scalars(select(Notification)))
            for ident in queued:
                assert mail.send_one(ident, app.config) == ("sent", None)
            session.expire_all()
            assert all(a.token_hash for a in session.scalars(select(AccountLink)))
        welcome, reset = smtp.messages
        assert welcome["To"] == "nia@course.example" and welcome["Subject"] == "Your grader account"
        token = LINK.search(welcome.get_content()).group(1)
        assert "https://g.example/account/password/" in welcome.get_content()
        assert reset["Subject"] == "Reset your grader password"
        assert client.get(f"/account/password/{token}").status_code == 200
        # The reset link sets a new password and ends the account's other sessions.
        reset_token = LINK.search(reset.get_content()).group(1)
        fresh = app.test_client()
        csrf = csrf_from(fresh.get(f"/account/password/{reset_token}").get_data(as_text=True))
        r = fresh.post(
            f"/account/password/{reset_token}",
            data={"csrf_token": csrf, "password": "a new one, long", "confirm": "a new one, long"},
        )
        assert r.status_code == 303
        assert signed.get("/").status_code == 302
        # Account links never show in the app.
        learner = app.test_client()
        login(learner, WebUser(0, "Lena", people["learner"].email, "a new one, long"))
        assert "Reset your grader password" not in learner.get("/notifications").get_data(
            as_text=True
        )
        # With mail on, a link for an account that has a password is mailed, never shown.
        r = staff.post(f"/people/{people['learner'].id}/link", data={"csrf_token": _token(staff)})
        assert r.status_code == 303 and not LINK.search(r.get_data(as_text=True))


def test_a_link_used_or_expired_before_its_mail_is_not_sent(tmp_path, db_url, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(mail, "enqueue_mail", lambda ident: queued.append(ident) or True)
    with SMTPServer() as smtp:
        app = make_app(tmp_path, db_url, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
        people = add_web_users(app)
        staff = _client(app, people, "admin")
        staff.post(
            "/people",
            data={"csrf_token": _token(staff), "name": "Nia", "email": "nia@course.example"},
        )
        with app.app_context():
            with app.extensions["db"].session_scope() as session:
                session.scalars(select(AccountLink)).one().used_at = utcnow()
            assert mail.send_one(queued[0], app.config) == ("failed", None)
        assert smtp.messages == []
