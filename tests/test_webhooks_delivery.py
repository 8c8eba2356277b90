"""Outbound events, delivered for real to an HTTP receiver on loopback.

The delivery task's function runs in the test process (no worker) with the retry schedule
compressed by WEBHOOK_RETRY_SCALE; the receiver verifies each request with the
`standardwebhooks` library, as a platform would.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from grader.service.contracts.responses import Event

from . import test_webhooks as wh
from .conftest import run_worker_inline
from .test_webhooks import GOOD, Receiver, answer, post_signed, register

# The app (loopback allowed, compressed schedule), the receiver and the task recorders.
app = wh.app
receiver = wh.receiver
sent_grades = wh.sent_grades
sent_deliveries = wh.sent_deliveries


def drive(app, timeout: float = 30.0) -> None:
    """Run the delivery task for every due delivery until none is pending (on an enabled
    endpoint: a disabled one's events wait)."""
    from grader.service.models import Platform, utcnow
    from grader.service.webhooks import tasks
    from grader.service.webhooks.models import Delivery, DeliveryStatus

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            with app.extensions["db"].session_scope() as s:
                pending = s.scalars(
                    select(Delivery)
                    .join(Platform, Platform.id == Delivery.platform_id)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING,
                        Platform.events_enabled.is_(True),
                    )
                ).all()
                due = [d.id for d in pending if d.next_attempt_at <= utcnow()]
                if not pending:
                    return
            for delivery_id in due:
                tasks.deliver.run(delivery_id)
            time.sleep(0.01)
    raise AssertionError("deliveries still pending")


def keys(value) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def deliveries(client, actors, name: str = "lms", **params) -> list[dict]:
    r = client.get(
        f"/api/v1/platforms/{name}/deliveries",
        headers=actors.h("admin"),
        query_string={"per_page": 200, **params},
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


@pytest.fixture()
def platform(client, actors, assignment, receiver):
    created = register(client, actors, url=receiver.url)
    receiver.secret = created["secret"]
    return created


def graded_and_released(app, client, actors, platform, learner="u-1", metadata=None) -> int:
    """A platform submission, graded by the worker function, then released."""
    sid = post_signed(
        client, "lms", platform["secret"], answer(learner, metadata=metadata or {"k": learner})
    ).get_json()["id"]
    assert run_worker_inline(app, sid) == "graded"
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 200
    return sid


def test_failing_receiver_gets_each_event_once_after_retries(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    receiver.per_id = [(500, {}), (503, {}), (502, {})]
    receiver.up()
    sid = graded_and_released(app, client, actors, platform, metadata={"attempt": "x"})
    # Both events were handed to the broker right after their transactions committed.
    assert len(sent_deliveries) == 2
    drive(app)
    accepted = receiver.accepted()
    assert sorted(json.loads(r["body"])["type"] for r in accepted) == [
        "grade.released",
        "submission.graded",
    ]
    # Once per webhook-id: every 2xx was for a different id; failed tries reused the id.
    assert len({r["id"] for r in accepted}) == len(accepted) == 2
    assert all(r["verified"] for r in receiver.requests)
    assert len(receiver.requests) == 8  # 3 failures + 1 success, per event
    # The delivery log shows every attempt.
    items = deliveries(client, actors)
    by_type = {d["event_type"]: d for d in items}
    graded = by_type["submission.graded"]
    assert graded["status"] == "succeeded" and graded["attempts"] == 4
    assert [a["status_code"] for a in graded["attempt_log"]] == [500, 503, 502, 200]
    assert all(a["latency_ms"] is not None and a["at"] for a in graded["attempt_log"])
    assert [a["number"] for a in graded["attempt_log"]] == [1, 2, 3, 4]
    # Every attempt of one event carried the same webhook-id, with a fresh signature.
    tried = [r for r in receiver.requests if r["id"] == graded["webhook_id"]]
    assert [r["status"] for r in tried] == [500, 503, 502, 200]
    # The released grade: points and learner feedback, never the answer key.
    released = json.loads(next(r["body"] for r in accepted if b"grade.released" in r["body"]))
    for r in accepted:  # every event is what the contract's Event model declares
        Event.model_validate(json.loads(r["body"]))
    data = released["data"]
    assert data["submission_id"] == sid and data["learner_id"] == "u-1"
    assert data["metadata"] == {"attempt": "x"} and data["status"] == "released"
    assert {c["id"] for c in data["grade"]["criteria"]} == {
        "problem_identification",
        "prioritization",
        "solution_design",
        "risk_management",
    }
    for c in data["grade"]["criteria"]:
        assert set(c) == {"id", "name", "points", "max_points", "feedback"}
    assert not {"missing", "grader_points", "warnings", "evidence"} & keys(released)
    graded_event = json.loads(
        next(r["body"] for r in accepted if b"submission.graded" in r["body"])
    )
    assert "grade" not in graded_event["data"] and graded_event["data"]["status"] == "graded"


def test_signatures_verify_with_every_active_secret(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    receiver.up()
    rotated = client.post(
        "/api/v1/platforms/lms/secrets", headers=actors.h("admin"), json={"grace_seconds": 600}
    ).get_json()
    graded_and_released(app, client, actors, platform)
    drive(app)
    for request in receiver.requests:
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
        for secret in (platform["secret"], rotated["secret"]):
            Webhook(secret).verify(request["body"], request["headers"])
        assert request["headers"]["content-type"] == "application/json"


def test_receiver_down_then_up_redelivery_brings_every_event(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    sids = [graded_and_released(app, client, actors, platform, f"u-{i}") for i in range(3)]
    drive(app)  # the receiver is down: every attempt of the schedule fails
    items = deliveries(client, actors)
    assert len(items) == 6 and {d["status"] for d in items} == {"failed"}
    assert all(d["attempts"] == 8 for d in items)
    assert all(a["status_code"] is None and a["error"] for d in items for a in d["attempt_log"])
    assert deliveries(client, actors, status="failed") == items
    receiver.up()
    r = client.post("/api/v1/platforms/lms/deliveries/redeliver-failed", headers=actors.h("admin"))
    assert r.status_code == 202 and r.get_json()["count"] == 6
    drive(app)
    got = {
        (json.loads(x["body"])["type"], json.loads(x["body"])["data"]["submission_id"])
        for x in receiver.accepted()
    }
    assert got == {(t, s) for s in sids for t in ("submission.graded", "grade.released")}
    assert len(receiver.accepted()) == 6
    items = deliveries(client, actors)
    assert {d["status"] for d in items} == {"succeeded"} and all(d["attempts"] == 9 for d in items)
    # Redeliver one (already delivered) event: same webhook-id, so receivers can dedupe.
    one = items[0]
    r = client.post(
        f"/api/v1/platforms/lms/deliveries/{one['id']}/redeliver", headers=actors.h("admin")
    )
    assert r.status_code == 202
    drive(app)
    assert receiver.requests[-1]["id"] == one["webhook_id"]
    shown = client.get(
        f"/api/v1/platforms/lms/deliveries/{one['id']}", headers=actors.h("admin")
    ).get_json()
    assert shown["attempts"] == 10 and shown["payload"]["type"] == one["event_type"]


def test_sweep_sends_what_the_broker_lost_and_forgets_old_receipts(
    app, client, actors, platform, receiver, sent_grades, monkeypatch
):
    import grader.service.webhooks.tasks as tasks
    from grader.service.models import utcnow
    from grader.service.webhooks.models import WebhookReceipt

    lost: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_delivery", lambda i, countdown=None: lost.append(i))
    graded_and_released(app, client, actors, platform)
    assert len(lost) == 2  # "sent", but the messages never arrive anywhere
    swept: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_delivery", lambda i, countdown=None: swept.append(i))
    with app.app_context(), app.extensions["db"].session_scope() as s:
        receipts = s.scalars(select(WebhookReceipt)).all()
        receipts[0].received_at = utcnow() - timedelta(days=4, minutes=1)
        s.add(
            WebhookReceipt(
                platform_id=receipts[0].platform_id,
                webhook_id="msg_recent",
                body_sha256="0" * 64,
                status_code=202,
                response={},
                received_at=utcnow() - timedelta(days=3, hours=23),
            )
        )
    with app.app_context():
        assert tasks.sweep.run() == 2
    assert sorted(swept) == sorted(lost)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert [r.webhook_id for r in s.scalars(select(WebhookReceipt))] == ["msg_recent"]


def test_410_disables_the_endpoint_until_re_enabled(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    receiver.script = [(410, {})]
    receiver.up()
    graded_and_released(app, client, actors, platform)
    drive(app)
    shown = client.get("/api/v1/platforms/lms", headers=actors.h("admin")).get_json()
    assert shown["events_enabled"] is False and "410" in shown["disabled_reason"]
    items = deliveries(client, actors)
    statuses = sorted((d["event_type"], d["status"]) for d in items)
    # The 410'd event failed; the other waits, untried, while the endpoint is disabled.
    assert statuses == [("grade.released", "pending"), ("submission.graded", "failed")]
    assert len(receiver.requests) == 1
    r = client.post("/api/v1/platforms/lms/deliveries/redeliver-failed", headers=actors.h("admin"))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "endpoint_disabled"
    client.patch("/api/v1/platforms/lms", headers=actors.h("admin"), json={"events_enabled": True})
    drive(app)
    client.post("/api/v1/platforms/lms/deliveries/redeliver-failed", headers=actors.h("admin"))
    drive(app)
    assert {d["status"] for d in deliveries(client, actors)} == {"succeeded"}


def test_retry_after_is_honoured(app, client, actors, platform, receiver, sent_grades):
    receiver.script = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "1"})]
    receiver.up()
    sid = post_signed(client, "lms", platform["secret"], answer()).get_json()["id"]
    run_worker_inline(app, sid)
    drive(app)
    times = [r["at"] for r in receiver.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.95 and times[2] - times[1] >= 0.95


def test_delivery_rechecks_the_address_every_time(
    app, client, actors, platform, receiver, sent_grades, monkeypatch
):
    """An endpoint accepted at registration is refused at delivery once it resolves to a
    private address (here: the allowlist is gone), and nothing is sent."""
    receiver.up()
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ""
    sid = post_signed(client, "lms", platform["secret"], answer()).get_json()["id"]
    run_worker_inline(app, sid)
    from grader.service.webhooks import tasks

    with app.app_context():
        (delivery,) = deliveries(client, actors)
        assert tasks.deliver.run(delivery["id"]) == "retry"
    (delivery,) = deliveries(client, actors)
    assert delivery["attempt_log"][0]["error"].startswith("refused:")
    assert "not a public address" in delivery["attempt_log"][0]["error"]
    assert receiver.requests == []


def test_dns_answer_changing_to_private_is_refused(app, client, actors, monkeypatch):
    from grader.service.webhooks.urls import Allowlist, UnsafeURL, check_url

    answers = {"hooks.example.com": "93.184.216.34"}

    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    target = check_url("https://hooks.example.com/x", Allowlist())
    assert target.addresses == ("93.184.216.34",)
    answers["hooks.example.com"] = "127.0.0.1"
    with pytest.raises(UnsafeURL):
        check_url("https://hooks.example.com/x", Allowlist())


def test_events_only_for_platform_submissions_that_want_them(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    from grader.service.webhooks.models import Delivery

    client.patch(
        "/api/v1/platforms/lms", headers=actors.h("admin"), json={"events": ["grade.released"]}
    )
    graded_and_released(app, client, actors, platform)
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
        data=GOOD,
    )
    run_worker_inline(app, r.get_json()["id"])
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert [d.event_type for d in s.scalars(select(Delivery))] == ["grade.released"]


def test_an_override_after_release_tells_the_platform_the_new_grade(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    from grader.service.webhooks.models import Delivery

    client.patch(
        "/api/v1/platforms/lms", headers=actors.h("admin"), json={"events": ["grade.released"]}
    )
    sid = graded_and_released(app, client, actors, platform)
    r = client.post(
        f"/api/v1/submissions/{sid}/overrides",
        headers=actors.h("instructor"),
        json={"criterion": "risk_management", "points": 1, "reason": "No rollback plan."},
    )
    assert r.status_code == 201
    with app.app_context(), app.extensions["db"].session_scope() as s:
        events = [d for d in s.scalars(select(Delivery).order_by(Delivery.id))]
        assert [d.event_type for d in events] == ["grade.released", "grade.released"]
        last = json.loads(events[-1].body)["data"]["grade"]
    rm = next(c for c in last["criteria"] if c["id"] == "risk_management")
    assert rm["points"] == 1


def test_failed_grading_event_hides_the_internal_reason(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries, monkeypatch
):
    import grader.service.grade_task as grade_task

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(grade_task, "grade_text", boom)
    receiver.up()
    sid = post_signed(client, "lms", platform["secret"], answer()).get_json()["id"]
    assert run_worker_inline(app, sid) == "error"
    drive(app)
    (request,) = receiver.accepted()
    event = json.loads(request["body"])
    assert event["type"] == "submission.failed" and event["data"]["submission_id"] == sid
    assert "secret internal detail" not in request["body"].decode()


def test_concurrent_duplicate_tasks_send_once(
    app, client, actors, platform, receiver, sent_grades, sent_deliveries
):
    """Two deliver tasks for the same row at once (a duplicate message): one sends."""
    import threading

    from grader.service.webhooks import tasks

    receiver.up()
    sid = post_signed(client, "lms", platform["secret"], answer()).get_json()["id"]
    run_worker_inline(app, sid)
    (delivery,) = deliveries(client, actors)
    results: list[str] = []

    def run() -> None:
        with app.app_context():
            results.append(tasks.deliver.run(delivery["id"]))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count("succeeded") == 1 and len(receiver.requests) == 1


def test_admin_delivery_views(client, actors, platform):
    h = actors.h("admin")
    assert client.get("/api/v1/platforms/nope/deliveries", headers=h).status_code == 404
    assert client.get("/api/v1/platforms/lms/deliveries/1", headers=h).status_code == 404
    r = client.get("/api/v1/platforms/lms/deliveries?status=lost", headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "status"
    r = client.get("/api/v1/platforms/lms/deliveries", headers=actors.h("instructor"))
    assert r.status_code == 403
    assert client.post("/api/v1/platforms/lms/deliveries/5/redeliver", headers=h).status_code == 404


def test_receiver_helper_is_real_http():
    r = Receiver().up()
    try:
        with socket.create_connection(("127.0.0.1", r.port), timeout=2):
            pass
    finally:
        r.down()


@pytest.fixture()
def tls_server(tmp_path):
    """An HTTPS endpoint on loopback with a self-signed certificate for 'localhost'."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    hits: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.append({"host": self.headers["Host"], "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert, hits
    server.shutdown()
    server.server_close()


def test_https_delivery_verifies_the_certificate(
    app, client, actors, assignment, tls_server, sent_grades, sent_deliveries, monkeypatch
):
    """https goes to the checked address with SNI and hostname verification: an untrusted
    certificate fails the attempt; once trusted, the event arrives."""
    import ssl

    import grader.service.webhooks.urls as urls
    from grader.service.webhooks import tasks

    port, cert, hits = tls_server
    created = register(client, actors, url=f"https://localhost:{port}/hooks")
    sid = post_signed(client, "lms", created["secret"], answer()).get_json()["id"]
    run_worker_inline(app, sid)
    (delivery,) = deliveries(client, actors)
    with app.app_context():
        assert tasks.deliver.run(delivery["id"]) == "retry"
    (delivery,) = deliveries(client, actors)
    assert "CERTIFICATE_VERIFY_FAILED" in delivery["attempt_log"][0]["error"] and hits == []
    trusted = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(urls.ssl, "create_default_context", lambda: trusted)
    drive(app)
    assert len(hits) == 1 and hits[0]["host"] == f"localhost:{port}"
    assert deliveries(client, actors)[0]["status"] == "succeeded"
