"""The contract is declared once (grader.service.contracts): every JSON body refuses unknown
fields and wrongly typed values with a 422 naming the field, query parameters parse through
their models, every response passes through its model, and the OpenAPI document is
generated from the same models and operations."""

from __future__ import annotations

import pytest
from flask import Flask

from grader.service import contracts
from grader.service.contracts import Reply, operation
from grader.service.contracts import responses as out
from grader.service.contracts.queries import DeliveryQuery, QueueQuery, SubmissionListQuery
from grader.service.errors import APIError
from grader.service.fields import parse_query

from .conftest import ROOT, run_worker_inline

SLUG = "ml-health-check"


@pytest.fixture()
def world(app, client, actors, assignment, enqueued):
    r = client.post(
        f"/api/v1/assignments/{SLUG}/submissions",
        data="## Step 1\n\nThe AUC fell from 0.85 to 0.78.\n",
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    sid = r.get_json()["id"]
    run_worker_inline(app, sid)
    # Released, so that a learner may ask for a regrade.
    r = client.post(f"/api/v1/submissions/{sid}/release", headers=actors.h("instructor"))
    assert r.status_code == 200
    r = client.post("/api/v1/platforms", json={"name": "lms"}, headers=actors.h("admin"))
    assert r.status_code == 201
    from grader.service.models import User

    with app.app_context(), app.extensions["db"].session_scope() as session:
        session.get(User, actors.id("learner")).email = "learner@contracts.example"
    return sid


# (method, path in the OpenAPI document, URL, who, a valid body): every operation that
# takes a JSON body, except the signed webhook (its own suite covers it).
BODIES = [
    ("post", "/api/v1/assignments", "/api/v1/assignments", "instructor",
     {"slug": "another", "rubric": "ml-health-check.toml"}),
    ("patch", "/api/v1/assignments/{slug}", f"/api/v1/assignments/{SLUG}", "instructor", {}),
    ("post", "/api/v1/assignments/{slug}/release", f"/api/v1/assignments/{SLUG}/release",
     "instructor", {"mode": "all"}),
    ("post", "/api/v1/assignments/{slug}/submissions", f"/api/v1/assignments/{SLUG}/submissions",
     "learner", {"content": "## Step 1\n\nAUC 0.78."}),
    ("post", "/api/v1/submissions/{submission_id}/overrides",
     "/api/v1/submissions/{sid}/overrides", "instructor",
     {"criterion": "risk_management", "points": 1, "reason": "no rollback"}),
    ("post", "/api/v1/platforms", "/api/v1/platforms", "admin", {"name": "other"}),
    ("patch", "/api/v1/platforms/{name}", "/api/v1/platforms/lms", "admin", {}),
    ("post", "/api/v1/platforms/{name}/secrets", "/api/v1/platforms/lms/secrets", "admin", {}),
    ("post", "/api/v1/submissions/{submission_id}/regrade-requests",
     "/api/v1/submissions/{sid}/regrade-requests", "learner",
     {"criterion": "risk_management", "message": "please"}),
    ("post", "/api/v1/notifications/read", "/api/v1/notifications/read", "learner", {}),
    ("post", "/api/v1/assignments/{slug}/learners", f"/api/v1/assignments/{SLUG}/learners",
     "instructor", {"emails": ["learner@contracts.example"]}),
    ("post", "/api/v1/submissions/{submission_id}/unrelease",
     "/api/v1/submissions/{sid}/unrelease", "instructor", {"reason": "graded on the wrong file"}),
    ("post", "/api/v1/assignments/{slug}/comments", f"/api/v1/assignments/{SLUG}/comments",
     "instructor", {"criterion": "risk_management", "text": "Name the trigger."}),
    ("put", "/api/v1/submissions/{submission_id}/comment", "/api/v1/submissions/{sid}/comment",
     "instructor", {"comment": "Well argued."}),
    ("post", "/api/v1/users", "/api/v1/users", "instructor",
     {"name": "Nia New", "email": "nia@course.example"}),
    ("post", "/api/v1/assignments/{slug}/groups/exclusions",
     f"/api/v1/assignments/{SLUG}/groups/exclusions", "instructor", {"submission": "{sid}"}),
    ("post", "/api/v1/assignments/{slug}/shares", f"/api/v1/assignments/{SLUG}/shares",
     "instructor", {"reviewers": "{instructors}"}),
    ("put", "/api/v1/assignments/{slug}/rubric", f"/api/v1/assignments/{SLUG}/rubric",
     "instructor", {"source": "{rubric}"}),
    ("post", "/api/v1/lti/platforms", "/api/v1/lti/platforms", "admin",
     {"issuer": "https://lms.example.edu", "client_id": "c1", "deployment_ids": ["d1"],
      "auth_url": "https://lms.example.edu/auth", "token_url": "https://lms.example.edu/token",
      "jwks_url": "https://lms.example.edu/jwks"}),
]  # fmt: skip


def test_every_json_body_is_covered_here(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    with_json = {
        (method, path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
        and "application/json" in op.get("requestBody", {}).get("content", {})
        and "/webhooks/" not in path
    }
    assert with_json == {(m, p) for m, p, *_ in BODIES} | {HAND, ANSWER, GROUP, LTI_DECISION}


@pytest.mark.parametrize(("method", "path", "url", "who", "body"), BODIES)
def test_unknown_fields_are_refused_everywhere(client, actors, world, method, path, url, who, body):
    url = url.format(sid=world)
    values = {
        "{sid}": world,
        "{instructors}": [actors.id("instructor")],
        "{rubric}": (ROOT / "rubrics" / "ml-health-check.toml").read_text(),
    }
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    r = getattr(client, method)(url, json={**body, "surprise": 1}, headers=actors.h(who))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"] == {
        "status": 422,
        "code": "unknown_field",
        "message": "unknown field 'surprise'",
        "field": "surprise",
    }
    ok = getattr(client, method)(url, json=body, headers=actors.h(who))
    assert ok.status_code < 300, ok.get_json()


# Grading by hand takes a failed submission only: its unknown-field test stands alone.
HAND = ("post", "/api/v1/submissions/{submission_id}/grade-by-hand")
ANSWER = ("post", "/api/v1/regrade-requests/{request_id}/answer")
# A group decision takes graded answers waiting for review (the world's one is released).
GROUP = ("post", "/api/v1/assignments/{slug}/groups/decision")
# Deciding an LMS instructor's request needs one (tests/test_lti.py refuses its unknown fields).
LTI_DECISION = ("post", "/api/v1/lti/instructor-requests/{account_id}")


def test_a_group_decision_refuses_unknown_fields_and_released_members(client, actors, world):
    url = f"/api/v1/assignments/{SLUG}/groups/decision"
    body = {"members": [world], "action": "confirm"}
    r = client.post(url, json={**body, "surprise": 1}, headers=actors.h("instructor"))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_field"
    r = client.post(url, json=body, headers=actors.h("instructor"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "members"


def test_answering_a_regrade_request_refuses_unknown_fields_too(client, actors, world):
    req = client.post(
        f"/api/v1/submissions/{world}/regrade-requests",
        json={"criterion": "risk_management", "message": "please"},
        headers=actors.h("learner"),
    ).get_json()
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        json={"outcome": "kept", "reply": "r", "surprise": 1},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_field"
    r = client.post(
        f"/api/v1/regrade-requests/{req['id']}/answer",
        json={"outcome": "maybe", "reply": "r"},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "outcome"


def test_grade_by_hand_refuses_unknown_fields_too(client, actors, world):
    r = client.post(
        f"/api/v1/submissions/{world}/grade-by-hand",
        json={"points": {}, "reason": "r", "surprise": 1},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unknown_field"


@pytest.mark.parametrize(
    ("model", "data", "code", "field"),
    [
        (contracts.OverrideRequest, {"criterion": "x", "points": "5", "reason": "r"},
         "invalid_points", "points"),
        (contracts.OverrideRequest, {"criterion": "x", "points": True, "reason": "r"},
         "invalid_points", "points"),
        (contracts.OverrideRequest, {"criterion": "x", "points": float("nan"), "reason": "r"},
         "invalid_points", "points"),
        (contracts.OverrideRequest, {"points": 1, "reason": "r"}, "invalid_criterion", "criterion"),
        (contracts.ReleaseRequest, {"mode": "confidence", "min_confidence": "0.9"},
         "invalid_min_confidence", "min_confidence"),
        (contracts.ReleaseRequest, {"ids": [1, True]}, "invalid_ids", "ids"),
        (contracts.ReleaseRequest, {"mode": "some"}, "invalid_mode", "mode"),
        (contracts.AssignmentCreate, {"slug": "Bad Slug", "rubric": "r.toml"},
         "invalid_slug", "slug"),
        (contracts.AssignmentUpdate, {"title": "   "}, "invalid_title", "title"),
        (contracts.PlatformUpdate, {"events": ["nope"]}, "invalid_events", "events"),
        (contracts.SecretRotation, {"grace_seconds": 1.5}, "invalid_grace_seconds",
         "grace_seconds"),
    ],
)  # fmt: skip
def test_a_refused_value_names_its_field_and_rule(model, data, code, field):
    with pytest.raises(APIError) as exc:
        contracts.parse(model, data)
    assert (exc.value.status, exc.value.code, exc.value.field) == (422, code, field)


def test_the_document_publishes_the_models(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for model in (contracts.OverrideRequest, contracts.ReleaseRequest, contracts.SecretRotation):
        published = schemas[model.__name__]
        assert published["additionalProperties"] is False
        assert set(published["properties"]) == set(model.model_fields)
    assert "ml-health-check.toml" in schemas["AssignmentCreate"]["properties"]["rubric"]["enum"]


@pytest.mark.parametrize(
    ("model", "args", "field"),
    [
        (QueueQuery, {"min_total": "abc"}, "min_total"),
        (QueueQuery, {"max_total": "nan"}, "max_total"),
        (QueueQuery, {"sort": "learner"}, "sort"),
        (QueueQuery, {"status": "graded,bogus"}, "status"),
        (QueueQuery, {"reviewed": "yes"}, "reviewed"),
        (QueueQuery, {"page": "0"}, "page"),
        (SubmissionListQuery, {"learner": "-3"}, "learner"),
        (SubmissionListQuery, {"limit": "1e3"}, "limit"),
        (DeliveryQuery, {"status": "lost"}, "status"),
    ],
)
def test_a_refused_query_parameter_is_named(model, args, field):
    with pytest.raises(APIError) as exc:
        parse_query(model, args)
    assert (exc.value.status, exc.value.code, exc.value.field) == (422, "invalid_parameter", field)


def test_query_values_convert_and_empty_ones_are_absent():
    q = parse_query(QueueQuery, {"min_total": "40", "page": "3", "max_total": "", "x": "1"})
    assert (q.min_total, q.page, q.max_total, q.sort) == (40.0, 3, None, "confidence")
    assert parse_query(QueueQuery, {"status": "graded,,released"}).statuses is not None
    assert parse_query(QueueQuery, {"status": "all"}).statuses is None


def _app_answering(body, status=200):
    app = Flask(__name__)
    app.testing = True  # let the view's exception reach the test

    @app.get("/thing")
    @operation("thing", "A thing", "test", {200: out.Health, 201: Reply(out.Health, "Made")})
    def thing():
        return body, status

    return app.test_client()


def test_a_response_goes_out_through_its_model():
    r = _app_answering({"status": "ok"}, 201)
    assert r.get("/thing").get_json() == {"status": "ok"}


def test_a_response_with_an_undeclared_field_or_status_cannot_go_out():
    with pytest.raises(ValueError, match="extra"):
        _app_answering({"status": "ok", "secret": "x"}).get("/thing")
    with pytest.raises(LookupError, match="does not declare"):
        _app_answering({"status": "ok"}, 202).get("/thing")


def test_fields_sent_only_when_set_are_left_out_not_null():
    sub = {
        "id": 1,
        "assignment": "a",
        "learner": {"id": 2, "name": "L"},
        "version": 1,
        "current": True,
        "status": "queued",
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "released_at": None,
        "grade": None,
    }
    dumped = out.Submission.model_validate(sub).model_dump(mode="json", exclude_unset=True)
    assert dumped == sub  # no reviewed, claimed_by, content... for a learner


def test_every_operation_is_generated_from_a_declared_view(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    declared = {
        view.operation.id for view in app.view_functions.values() if hasattr(view, "operation")
    }
    assert ids == declared and len(ids) >= 32
    # Each response model is published under its own name.
    for name in ("Submission", "Grade", "QueuePage", "Job", "Platform", "Delivery", "Event"):
        assert name in spec["components"]["schemas"], name


def test_an_assignment_carries_its_task(client, actors, assignment):
    body = client.get(f"/api/v1/assignments/{SLUG}", headers=actors.h("learner")).get_json()
    assert body["task"].startswith("### Mini-Project: ML System Health Check")
    assert "Step 1" in body["task"]
