"""Schemathesis over the whole API (every operation in /api/v1/openapi.json), in-process
through WSGI, with real tokens for each role and real webhook signatures.

All default checks run (server errors, status codes, content types, response schemas and
headers, positive and negative data, missing headers, ignored auth, unsupported methods).
Deterministic: a fixed seed and derandomized Hypothesis.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet
from standardwebhooks import Webhook

from grader.service import openapi

from .conftest import HEALTH, ROOT, fresh_database, make_app, run_worker_inline

ROLES = ("admin", "instructor", "learner", "platform")
MAX_EXAMPLES = 15


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20261127,
            # Credentials are ours to send (a real token per role); schemathesis sends none
            # of its own, and its ignored_auth check still tries every operation without.
            "generation": {
                "deterministic": True,
                "max-examples": MAX_EXAMPLES,
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "operations": [
                {
                    # A schema can say what a well-formed request is, not which rubric
                    # criterion or assignment exists, nor whether a URL's host resolves to
                    # a public address, nor which cursor the queue issued, nor that a due
                    # time comes after the opening, nor that a CSV roster's lines hold names
                    # and addresses, nor which addresses have learner accounts, nor which
                    # answers wait for review in a group, nor which users are instructors,
                    # nor that a text is a valid rubric: these operations answer 422 for
                    # those.
                    "include-operation-id": [
                        "importRoster",
                        "enrolLearners",
                        "addBankComment",
                        "override",
                        "createAssignment",
                        "updateAssignment",
                        "reviewQueue",
                        "receiveSubmission",
                        "createPlatform",
                        "updatePlatform",
                        "decideGroup",
                        "splitReview",
                        "editRubric",
                        "createLtiPlatform",
                    ],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
                        }
                    },
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def contract_db(tmp_path_factory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("contract")) as url:
        yield url


class World:
    """The app with one of everything, and the credentials to reach it."""

    def __init__(self, app, tokens: dict[str, str], secret: str) -> None:
        self.app = app
        self.tokens = tokens
        self.secret = secret

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, contract_db) -> Iterator[World]:
    import grader.service.api.assignments as assignments_api
    import grader.service.api.calibrations as calibrations_api
    import grader.service.api.submissions as submissions_api
    import grader.service.webhooks.admin as admin_api
    import grader.service.webhooks.inbound as inbound_api
    from grader.service.auth import issue_token
    from grader.service.models import Role, User

    tmp = Path(tmp_path_factory.mktemp("contract-app"))
    app = make_app(
        tmp,
        contract_db,
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        MAX_SUBMISSION_BYTES=64 * 1024,
    )
    # No broker in this test: tasks are recorded, not sent.
    patches = pytest.MonkeyPatch()
    for module, name in (
        (submissions_api, "enqueue_grade"),
        (assignments_api, "enqueue_job"),
        (calibrations_api, "enqueue_job"),
        (inbound_api, "enqueue_grade"),
        (admin_api, "enqueue_delivery"),
    ):
        patches.setattr(module, name, lambda *a, **k: True)
    patches.setattr("grader.service.webhooks.tasks.enqueue_delivery", lambda *a, **k: True)
    tokens: dict[str, str] = {}
    with app.app_context(), app.extensions["db"].session_scope() as s:
        for role in (Role.ADMIN, Role.INSTRUCTOR, Role.LEARNER):
            user = User(name=f"{role.value} person", role=role)
            s.add(user)
            s.flush()
            tokens[role.value] = issue_token(s, user, role.value)
    client = app.test_client()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    r = client.post(
        "/api/v1/assignments",
        headers=admin,
        json={"slug": "ml-health-check", "rubric": "ml-health-check.toml"},
    )
    assert r.status_code == 201
    lms = client.post(
        "/api/v1/platforms",
        headers=admin,
        json={"name": "lms", "events_url": "http://127.0.0.1:9/hooks"},
    ).get_json()
    tokens["platform"] = lms["token"]
    world = World(app, tokens, lms["secret"])
    # Submissions in every state the examples point at (id 1 is the platform's, graded).
    good = (HEALTH / "sub-029.md").read_text()
    ids = []
    for learner in ("p-1", "p-2", "p-3"):
        body = json.dumps({"assignment": "ml-health-check", "learner_id": learner, "content": good})
        r = client.post(
            "/api/v1/webhooks/lms/submissions", data=body, headers=sign(world.secret, body)
        )
        assert r.status_code == 202, r.get_json()
        ids.append(r.get_json()["id"])
    for sid in ids:
        run_worker_inline(app, sid)
    client.post(f"/api/v1/submissions/{ids[1]}/release", headers=admin)
    yield world
    patches.undo()
    app.extensions["db"].engine.dispose()


def sign(secret: str, body: str) -> dict[str, str]:
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "Content-Type": "application/json",
    }


@schemathesis.serializer("text/markdown", "text/plain")
def _text_body(ctx, value) -> bytes:
    """Text bodies as UTF-8. Only a negative test generates a non-string body, and no text
    is "not a string": its counterpart on the wire is bytes that are not UTF-8 text."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return b"\xff\xfe" + json.dumps(value).encode()


class _App:
    """A WSGI callable standing in for the module's app, which exists only once the `world`
    fixture has built it (schemathesis needs the schema at collection time)."""

    target = None

    def __call__(self, environ, start_response):
        assert self.target is not None, "the world fixture sets the app"
        return self.target(environ, start_response)


APP = _App()


def _document() -> dict:
    """The document as the code builds it from an app's routes (schemathesis needs it at
    collection time, before the world exists); test_served_document_is_the_tested_one
    checks that the app serves exactly this."""
    from grader.service import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{folder}/routes.sqlite",
                "BROKER_URL": "memory://",
                "SECRET_KEY": "routes-only",
                "INSTANCE_PATH": folder,
                "RUBRICS_DIR": str(ROOT / "rubrics"),
            }
        )
        document = openapi.build(app, openapi.rubric_files(str(ROOT / "rubrics")))
        app.extensions["db"].engine.dispose()
        return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config())
schema.app = APP


@pytest.fixture(scope="module")
def app_proxy(world):
    APP.target = world.app
    yield APP
    APP.target = None


_NEXT_ROLE = itertools.cycle(ROLES)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_contract(case, world, app_proxy):
    # Each generated request goes out as the next role in turn, so every operation is
    # exercised by admins, instructors, learners and platforms (and without credentials by
    # the ignored_auth check).
    role = next(_NEXT_ROLE)
    if case.operation.definition.raw.get("operationId") == "receiveSubmission" and (
        role == "platform"
    ):
        # Sign the exact bytes sent, as a platform would; other roles send what was generated
        # (unsigned, so the signature check must answer 401).
        body = case.body
        if isinstance(body, NotSet):
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode()
        # standardwebhooks signs text: a body that is not UTF-8 gets a signature over its
        # lossy decoding, which the server must reject like any other mismatch.
        headers = sign(world.secret, raw.decode("utf-8", "replace"))
        if case.media_type:
            headers["Content-Type"] = case.media_type
        case.call_and_validate(headers=headers, data=raw)
        return
    case.call_and_validate(headers=world.bearer(role))


def test_served_document_is_the_tested_one(world):
    served = world.app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == json.loads(json.dumps(DOCUMENT))
    assert len([m for item in DOCUMENT["paths"].values() for m in item if m != "parameters"]) >= 30
