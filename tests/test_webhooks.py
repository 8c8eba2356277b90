"""Course platforms: registration, signed inbound submissions, object-level scoping, SSRF.

Signatures are made and checked with the `standardwebhooks` library, as a platform would.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from grader.service.operations.events import EVENT_TYPES

from .conftest import HEALTH, make_app

GOOD = (HEALTH / "sub-029.md").read_text()
LOOPBACK = "127.0.0.1,localhost"


# --- helpers shared with test_webhooks_delivery -------------------------------------------


@pytest.fixture()
def app(tmp_path: Path, db_url: str):
    """The app with loopback allowed for endpoints and a compressed retry schedule."""
    app = make_app(
        tmp_path,
        db_url,
        WEBHOOK_ALLOWED_HOSTS=LOOPBACK,
        WEBHOOK_RETRY_SCALE=0.00005,
        WEBHOOK_TIMEOUT=2.0,
    )
    yield app
    app.extensions["db"].engine.dispose()


@pytest.fixture()
def sent_grades(monkeypatch) -> list[int]:
    """Grade tasks the inbound webhook sends (recorded instead of sent)."""
    import grader.service.webhooks.inbound as inbound

    sent: list[int] = []
    monkeypatch.setattr(inbound, "enqueue_grade", lambda sid: sent.append(sid) or True)
    return sent


@pytest.fixture()
def sent_deliveries(monkeypatch) -> list[int]:
    """Delivery tasks sent after commit (recorded instead of sent to the broker)."""
    import grader.service.webhooks.tasks as tasks

    sent: list[int] = []

    def fake(delivery_id: int, countdown: float | None = None) -> bool:
        sent.append(delivery_id)
        return True

    monkeypatch.setattr(tasks, "enqueue_delivery", fake)
    import grader.service.webhooks.admin as admin

    monkeypatch.setattr(admin, "enqueue_delivery", fake)
    return sent


def register(client, actors, name: str = "lms", url: str | None = None, **extra) -> dict:
    body: dict[str, Any] = {"name": name, **extra}
    if url is not None:
        body["events_url"] = url
    r = client.post("/api/v1/platforms", headers=actors.h("admin"), json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def signed(
    secret: str, payload: Any, *, msg_id: str | None = None, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """A platform's request: the body and the Standard Webhooks headers."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "Content-Type": "application/json",
    }
    return body.encode(), headers


def answer(learner: str = "u-1", **extra) -> dict[str, Any]:
    return {"assignment": "ml-health-check", "learner_id": learner, "content": GOOD, **extra}


def post_signed(client, platform: str, secret: str, payload: Any, **kw):
    body, headers = signed(secret, payload, **kw)
    return client.post(f"/api/v1/webhooks/{platform}/submissions", data=body, headers=headers)


def counts(app) -> dict[str, int]:
    from grader.service.models import Submission, User
    from grader.service.webhooks.models import WebhookReceipt

    with app.app_context(), app.extensions["db"].session_scope() as s:
        return {
            m.__name__: s.scalar(select(func.count()).select_from(m))
            for m in (Submission, User, WebhookReceipt)
        }


class Receiver:
    """A real HTTP endpoint on loopback that answers from a script, then with `default`.

    `script` is consumed by requests in order; `per_id` is replayed for each new
    webhook-id's first attempts. Each request is recorded with its headers and body;
    `down()` closes the port so connections are refused, `up()` opens it again.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.script: list[tuple[int, dict[str, str]]] = []
        self.per_id: list[tuple[int, dict[str, str]]] = []
        self.default = 200
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/grader"

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = None
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except Exception:
                        verified = False
                with receiver.lock:
                    seen = sum(1 for r in receiver.requests if r["id"] == headers.get("webhook-id"))
                    if receiver.script:
                        status, extra = receiver.script.pop(0)
                    elif seen < len(receiver.per_id):
                        status, extra = receiver.per_id[seen]
                    else:
                        status, extra = receiver.default, {}
                    receiver.requests.append(
                        {
                            "id": headers.get("webhook-id"),
                            "headers": headers,
                            "body": body,
                            "status": status,
                            "verified": verified,
                            "at": time.monotonic(),
                        }
                    )
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


# --- registration and the admin API -------------------------------------------------------


def test_register_platform_returns_secret_once(client, actors):
    created = register(client, actors, url="https://127.0.0.1/hooks")
    assert created["secret"].startswith("whsec_") and created["token"].startswith("grd_")
    assert created["events"] == list(EVENT_TYPES)  # every event, regrade requests included
    assert "regrade.answered" in created["events"]
    shown = client.get("/api/v1/platforms/lms", headers=actors.h("admin"))
    listed = client.get("/api/v1/platforms", headers=actors.h("admin"))
    for r in (shown, listed):
        assert r.status_code == 200
        assert created["secret"] not in r.get_data(as_text=True)
        assert created["token"] not in r.get_data(as_text=True)
    assert shown.get_json()["secrets"][0]["active"] is True
    assert len(shown.get_json()["secrets"][0]["fingerprint"]) == 12
    again = client.post("/api/v1/platforms", headers=actors.h("admin"), json={"name": "lms"})
    assert again.status_code == 409


@pytest.mark.parametrize("who", ["instructor", "learner"])
def test_platform_admin_needs_admin(client, actors, who):
    assert client.get("/api/v1/platforms", headers=actors.h(who)).status_code == 403
    r = client.post("/api/v1/platforms", headers=actors.h(who), json={"name": "x"})
    assert r.status_code == 403
    assert client.get("/api/v1/platforms").status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "Bad Name"}, "name"),
        ({"name": "ok", "events": ["grade.deleted"]}, "events"),
        ({"name": "ok", "events_url": "ftp://example.com/x"}, "events_url"),
        ({"name": "ok", "colour": "red"}, "colour"),
    ],
)
def test_register_validates(client, actors, body, field):
    r = client.post("/api/v1/platforms", headers=actors.h("admin"), json=body)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field


def test_update_and_rotate_and_revoke(app, client, actors):
    register(client, actors, url="https://127.0.0.1/a")
    h = actors.h("admin")
    r = client.patch(
        "/api/v1/platforms/lms", headers=h, json={"events": ["grade.released"], "events_url": None}
    )
    assert r.status_code == 200 and r.get_json()["events"] == ["grade.released"]
    assert r.get_json()["events_url"] is None
    rotated = client.post("/api/v1/platforms/lms/secrets", headers=h, json={"grace_seconds": 60})
    assert rotated.status_code == 201
    secrets = rotated.get_json()["secrets"]
    assert [s["active"] for s in secrets] == [True, True]
    assert secrets[0]["expires_at"] is not None and secrets[1]["expires_at"] is None
    # Revoking the old one leaves one active; the last active one cannot be revoked.
    r = client.delete(f"/api/v1/platforms/lms/secrets/{secrets[0]['id']}", headers=h)
    assert [s["active"] for s in r.get_json()["secrets"]] == [False, True]
    r = client.delete(f"/api/v1/platforms/lms/secrets/{secrets[1]['id']}", headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "last_secret"
    assert client.delete("/api/v1/platforms/lms/secrets/999", headers=h).status_code == 404
    # No body at all is fine for a rotation (default grace).
    assert client.post("/api/v1/platforms/lms/secrets", headers=h).status_code == 201


def test_cli_platform_add_prints_secret_once(tmp_path, db_url, monkeypatch):
    """`grader platform add` on a fresh database (so the 0002 migration runs too)."""
    from click.testing import CliRunner

    from grader.cli import main

    for key, value in {
        "GRADER_DATABASE_URL": db_url,
        "GRADER_BROKER_URL": "memory://",
        "GRADER_SECRET_KEY": "test",
        "GRADER_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "GRADER_WEBHOOK_ALLOWED_HOSTS": LOOPBACK,
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    r = runner.invoke(main, ["platform", "add", "moodle", "--events-url", "http://127.0.0.1:9/x"])
    assert r.exit_code == 0, r.output
    secret = next(
        line.split()[-1] for line in r.output.splitlines() if line.startswith("signing secret")
    )
    assert secret.startswith("whsec_")
    listed = runner.invoke(main, ["platform", "list"])
    assert "moodle" in listed.output and secret not in listed.output
    rotated = runner.invoke(main, ["platform", "rotate-secret", "moodle", "--grace", "0"])
    assert rotated.exit_code == 0 and rotated.output.strip().splitlines()[-1] != secret
    bad = runner.invoke(main, ["platform", "add", "intranet", "--events-url", "https://10.1.2.3/"])
    assert bad.exit_code != 0 and "not a public address" in bad.output
    monkeypatch.setenv("GRADER_WEBHOOK_ALLOWED_HOSTS", "")
    local = runner.invoke(main, ["platform", "add", "local", "--events-url", "http://127.0.0.1/"])
    assert local.exit_code != 0


def test_migration_matches_models(db_url):
    """0002 creates exactly what the models describe, and downgrades cleanly."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import grader.service.webhooks.models  # noqa: F401
    from grader.service.db import make_engine
    from grader.service.migrate import alembic_config, upgrade
    from grader.service.models import Base

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            with warnings.catch_warnings():  # PostgreSQL-only indexes (0033) on SQLite
                warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified")
                assert compare_metadata(context, Base.metadata) == []
        command.downgrade(alembic_config(db_url), "0001")
        upgrade(db_url)
    finally:
        engine.dispose()


# --- inbound: signed submissions ----------------------------------------------------------


@pytest.fixture()
def lms(client, actors, assignment) -> dict:
    return register(client, actors, url=None)


def test_signed_submission_is_accepted(app, client, lms, sent_grades):
    r = post_signed(client, "lms", lms["secret"], answer(metadata={"course": "mlops-101"}))
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "queued" and body["learner_id"] == "u-1"
    assert r.headers["Location"] == f"/api/v1/submissions/{body['id']}"
    assert sent_grades == [body["id"]]
    from grader.service.models import Platform, Role, Submission, User

    with app.app_context(), app.extensions["db"].session_scope() as s:
        sub = s.get(Submission, body["id"])
        platform = s.scalar(select(Platform).where(Platform.name == "lms"))
        learner = s.get(User, sub.learner_id)
        assert sub.platform_id == platform.id and sub.metadata_ == {"course": "mlops-101"}
        assert (learner.role, learner.platform_id, learner.external_id) == (
            Role.LEARNER,
            platform.id,
            "u-1",
        )
    # The same learner again: the same user, a new version.
    r2 = post_signed(client, "lms", lms["secret"], answer(content=GOOD + "\nMore."))
    assert r2.status_code == 202 and r2.get_json()["version"] == 2
    assert counts(app)["User"] == 5 + 1 + 1  # the actors, the platform's user, one learner


def test_replayed_webhook_id_is_idempotent(app, client, lms, sent_grades):
    body, headers = signed(lms["secret"], answer())
    url = "/api/v1/webhooks/lms/submissions"
    first = client.post(url, data=body, headers=headers)
    before = counts(app)
    again = client.post(url, data=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert counts(app) == before and len(sent_grades) == 1
    # Re-signed later with the same id (a platform's retry): still the first answer.
    body2, headers2 = signed(lms["secret"], body.decode(), msg_id=headers["webhook-id"])
    assert client.post(url, data=body2, headers=headers2).get_json() == first.get_json()
    # The same id for a different body is a conflict, and stores nothing.
    body3, headers3 = signed(lms["secret"], answer(learner="u-2"), msg_id=headers["webhook-id"])
    r = client.post(url, data=body3, headers=headers3)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "webhook_id_reused"
    assert counts(app) == before


def test_concurrent_duplicates_store_one_submission(app, client, lms, sent_grades):
    """The same webhook arriving several times at once (a platform's eager retry): one
    submission, and every request gets its answer."""
    body, headers = signed(lms["secret"], answer())
    results: list[tuple[int, dict]] = []

    def send() -> None:
        r = app.test_client().post("/api/v1/webhooks/lms/submissions", data=body, headers=headers)
        results.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [202] * 4
    assert len({json.dumps(b, sort_keys=True) for _, b in results}) == 1
    assert counts(app)["Submission"] == 1 and len(sent_grades) == 1


def test_forged_signature_is_rejected(app, client, lms, sent_grades):
    before = counts(app)
    forged = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    r = post_signed(client, "lms", forged, answer())
    assert r.status_code == 401
    assert r.get_json()["error"] == {
        "status": 401,
        "code": "invalid_signature",
        "message": "no signature in webhook-signature matches this platform's secrets",
        "field": "webhook-signature",
    }
    # A genuine signature over a different body (tampering).
    body, headers = signed(lms["secret"], answer())
    tampered = body.replace(b"u-1", b"u-9")
    r = client.post("/api/v1/webhooks/lms/submissions", data=tampered, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_signature"
    # Garbage in the signature header.
    headers["webhook-signature"] = "v1,%%%not-base64"
    r = client.post("/api/v1/webhooks/lms/submissions", data=body, headers=headers)
    assert r.status_code == 401
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        h = dict(signed(lms["secret"], answer())[1])
        del h[missing]
        r = client.post("/api/v1/webhooks/lms/submissions", data=body, headers=h)
        assert r.status_code == 401 and r.get_json()["error"]["field"] == missing
    assert counts(app) == before and sent_grades == []


@pytest.mark.parametrize("offset", [-6 * 60, 6 * 60, -3600, 86400])
def test_stale_or_future_timestamp_is_rejected(app, client, lms, offset):
    before = counts(app)
    at = datetime.now(UTC) + timedelta(seconds=offset)
    r = post_signed(client, "lms", lms["secret"], answer(), at=at)
    assert r.status_code == 401
    error = r.get_json()["error"]
    assert error["code"] == "timestamp_out_of_tolerance" and error["field"] == "webhook-timestamp"
    assert ("future" in error["message"]) == (offset > 0)
    assert counts(app) == before


def test_timestamp_within_tolerance_is_accepted(client, lms, sent_grades):
    at = datetime.now(UTC) - timedelta(seconds=4 * 60)
    assert post_signed(client, "lms", lms["secret"], answer(), at=at).status_code == 202


def test_unknown_platform_is_404(client, lms):
    r = post_signed(client, "nobody", lms["secret"], answer())
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_platform"


@pytest.mark.parametrize(
    "payload, status, field",
    [
        ("not json", 422, "body"),
        ("[1, 2]", 422, "body"),
        ({"assignment": "ml-health-check", "content": GOOD}, 422, "learner_id"),
        ({"assignment": "ml-health-check", "learner_id": "u", "content": "  "}, 422, "content"),
        ({"assignment": "nope", "learner_id": "u", "content": GOOD}, 422, "assignment"),
        ({**answer(), "metadata": [1]}, 422, "metadata"),
        ({**answer(), "learner_id": 42}, 422, "learner_id"),
        ({**answer(), "learner_id": "x" * 201}, 422, "learner_id"),
        ({**answer(), "grade": 100}, 422, "grade"),
        ({**answer(), "content": "a\u0000b"}, 422, "content"),
        ({**answer(), "content": "\ufeff \n"}, 422, "content"),  # only a byte-order mark
        ('{"assignment": "ml-health-check", "learner_id": "u", "content": "\\ud800"}', 422, "body"),
        ({**answer(), "metadata": {"x": "y" * 20000}}, 422, "metadata"),
    ],
)
def test_malformed_payload_is_rejected_and_nothing_stored(app, client, lms, payload, status, field):
    before = counts(app)
    r = post_signed(client, "lms", lms["secret"], payload)
    assert r.status_code == status, r.get_json()
    error = r.get_json()["error"]
    assert error["field"] == field and error["status"] == status
    assert counts(app) == before


def test_size_limits(tmp_path, db_url):
    app = make_app(tmp_path, db_url, MAX_SUBMISSION_BYTES=1000)
    try:
        client = app.test_client()
        from grader.service.auth import issue_token
        from grader.service.models import Role, User

        with app.app_context(), app.extensions["db"].session_scope() as s:
            admin = User(name="Admin", role=Role.ADMIN)
            s.add(admin)
            s.flush()
            token = issue_token(s, admin, "admin")
        h = {"Authorization": f"Bearer {token}"}
        client.post(
            "/api/v1/assignments",
            headers=h,
            json={"slug": "ml-health-check", "rubric": "ml-health-check.toml"},
        )
        secret = client.post("/api/v1/platforms", headers=h, json={"name": "lms"}).get_json()[
            "secret"
        ]
        r = post_signed(client, "lms", secret, answer(content="x" * 1001))
        assert r.status_code == 413 and r.get_json()["error"]["field"] == "content"
        # The raw body limit (content limit x3 plus room for JSON) is enforced on what is read.
        r = post_signed(client, "lms", secret, answer(metadata={"pad": "y" * 70_000}))
        assert r.status_code == 413 and r.get_json()["error"]["field"] == "body"
        # Non-ASCII escaped by json.dumps (6 bytes per 2-byte character) still fits.
        r = post_signed(client, "lms", secret, answer(content="é" * 500))
        assert r.status_code == 202, r.get_json()
    finally:
        app.extensions["db"].engine.dispose()


def test_wrong_content_type_is_415(client, lms):
    body, headers = signed(lms["secret"], answer())
    headers["Content-Type"] = "text/plain"
    r = client.post("/api/v1/webhooks/lms/submissions", data=body, headers=headers)
    assert r.status_code == 415


def test_rotation_accepts_old_and_new_secrets_until_the_old_expires(app, client, actors, lms):
    new = client.post(
        "/api/v1/platforms/lms/secrets", headers=actors.h("admin"), json={"grace_seconds": 3600}
    ).get_json()
    assert post_signed(client, "lms", lms["secret"], answer()).status_code == 202
    assert post_signed(client, "lms", new["secret"], answer("u-2")).status_code == 202
    old_id = new["secrets"][0]["id"]
    client.delete(f"/api/v1/platforms/lms/secrets/{old_id}", headers=actors.h("admin"))
    assert post_signed(client, "lms", lms["secret"], answer("u-3")).status_code == 401
    assert post_signed(client, "lms", new["secret"], answer("u-3")).status_code == 202


# --- object-level scoping between platforms -----------------------------------------------


def test_platforms_see_only_their_own_submissions(app, client, actors, lms, sent_grades):
    other = register(client, actors, name="other-lms")
    mine = post_signed(client, "lms", lms["secret"], answer("u-1")).get_json()["id"]
    theirs = post_signed(client, "other-lms", other["secret"], answer("u-1")).get_json()["id"]
    a = {"Authorization": f"Bearer {lms['token']}"}
    b = {"Authorization": f"Bearer {other['token']}"}
    # Each platform reads its own submission, and gets 404 (not 403) for the other's.
    assert client.get(f"/api/v1/submissions/{mine}", headers=a).status_code == 200
    r = client.get(f"/api/v1/submissions/{theirs}", headers=a)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/submissions/{mine}", headers=b).status_code == 404
    assert [s["id"] for s in client.get("/api/v1/submissions", headers=a).get_json()["items"]] == [
        mine
    ]
    # The same learner id on two platforms is two different learners.
    learner_a = client.get(f"/api/v1/submissions/{mine}", headers=a).get_json()["learner"]["id"]
    learner_b = client.get(f"/api/v1/submissions/{theirs}", headers=b).get_json()["learner"]["id"]
    assert learner_a != learner_b
    # Platform tokens cannot do staff things, nor submit through the learner API.
    assert client.post(f"/api/v1/submissions/{mine}/release", headers=a).status_code == 403
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        headers={**a, "Content-Type": "text/markdown"},
        data=GOOD,
    )
    assert r.status_code == 403
    # Signing with one platform's secret for the other's URL is rejected.
    assert post_signed(client, "other-lms", lms["secret"], answer()).status_code == 401


def test_webhook_ids_are_scoped_per_platform(app, client, actors, lms, sent_grades):
    """Another platform reusing a webhook-id gets its own submission, never the first
    platform's answer (which would leak its submission id)."""
    other = register(client, actors, name="other-lms")
    shared_id = "msg_same"
    first = post_signed(client, "lms", lms["secret"], answer(), msg_id=shared_id).get_json()
    second = post_signed(
        client, "other-lms", other["secret"], answer(), msg_id=shared_id
    ).get_json()
    assert first["id"] != second["id"] and len(sent_grades) == 2


def test_platform_sees_grade_only_after_release(app, client, actors, lms, sent_grades):
    from .conftest import run_worker_inline

    sid = post_signed(client, "lms", lms["secret"], answer()).get_json()["id"]
    run_worker_inline(app, sid)
    a = {"Authorization": f"Bearer {lms['token']}"}
    assert client.get(f"/api/v1/submissions/{sid}", headers=a).get_json()["grade"] is None
    client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    grade = client.get(f"/api/v1/submissions/{sid}", headers=a).get_json()["grade"]
    assert grade["total"] > 0 and all("missing" not in c for c in grade["criteria"])


# --- SSRF ----------------------------------------------------------------------------------


@pytest.fixture()
def strict_app(tmp_path: Path, db_url: str):
    """The production default: no allowlist."""
    app = make_app(tmp_path, db_url)
    yield app
    app.extensions["db"].engine.dispose()


def _admin(app) -> dict[str, str]:
    from grader.service.auth import issue_token
    from grader.service.models import Role, User

    with app.app_context(), app.extensions["db"].session_scope() as s:
        admin = User(name="Admin", role=Role.ADMIN)
        s.add(admin)
        s.flush()
        return {"Authorization": f"Bearer {issue_token(s, admin, 'admin')}"}


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://172.16.3.4/hooks",
        "https://192.168.1.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://2130706433/hooks",
        "http://93.184.216.34/hooks",
        "https://user:pw@93.184.216.34/hooks",
        "file:///etc/passwd",
    ],
)
def test_private_or_plain_http_endpoints_are_refused(strict_app, url):
    client = strict_app.test_client()
    r = client.post(
        "/api/v1/platforms", headers=_admin(strict_app), json={"name": "x", "events_url": url}
    )
    assert r.status_code == 422, (url, r.get_json())
    assert r.get_json()["error"]["field"] == "events_url"


def test_a_name_resolving_to_a_private_address_is_refused(strict_app, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        table = {
            "lms.example.com": ["93.184.216.34"],
            "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
            "internal.example.com": ["192.168.0.10"],
        }
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 443)) for ip in table[host]]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    client, h = strict_app.test_client(), _admin(strict_app)
    ok = client.post(
        "/api/v1/platforms",
        headers=h,
        json={"name": "ok", "events_url": "https://lms.example.com/hooks"},
    )
    assert ok.status_code == 201
    for name in ("mixed", "internal"):
        r = client.post(
            "/api/v1/platforms",
            headers=h,
            json={"name": name, "events_url": f"https://{name}.example.com/hooks"},
        )
        assert r.status_code == 422 and "not a public address" in r.get_json()["error"]["message"]


def test_public_address_classification():
    import ipaddress

    from grader.service.webhooks.urls import is_public

    public = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
    private = [
        "127.0.0.1",
        "10.1.1.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.1.1",
        "100.64.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        # IPv4 hidden in IPv6 forms is_global lets through: NAT64, IPv4-compatible,
        # IPv4-translated (all around 169.254.169.254), and site-local.
        "64:ff9b::a9fe:a9fe",
        "::169.254.169.254",
        "::ffff:0:a9fe:a9fe",
        "fec0::1",
    ]
    assert all(is_public(ipaddress.ip_address(a)) for a in public)
    assert not any(is_public(ipaddress.ip_address(a)) for a in private)
