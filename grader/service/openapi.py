"""The OpenAPI 3.1 contract for /api/v1, /healthz and /readyz, served at /api/v1/openapi.json.

Written by hand, next to the code, and kept honest by tests: tests/test_openapi.py fails
when a route or method has no operation here (or an operation has no route), and
tests/test_openapi_contract.py runs schemathesis over every operation. Outbound events are
described under the document's ``webhooks``. The rubric enum is filled from RUBRICS_DIR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app

from . import contracts

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]

INT_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_ONE = "(queued|grading|graded|released|failed)"
STATUS_LIST = f"^,*(all|{_ONE}(,+{_ONE})*)?,*$"  # empty pieces are ignored
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": ["string", "null"], "format": "date-time"}
SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}
STATUS = {"type": "string", "enum": ["queued", "grading", "graded", "released", "failed"]}
EVENTS = ["submission.graded", "grade.released", "submission.failed"]
STAFF_ONLY = "Instructor or admin."
ADMIN_ONLY = "Admin only."


def or_empty(schema: Schema) -> Schema:
    """A query parameter whose empty value means 'not given'."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | None = None, extra: bool = True, **props: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if not extra:
        out["additionalProperties"] = False
    return out


def json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def ok(schema: Schema, description: str = "OK", headers: Schema | None = None) -> Schema:
    out: Schema = {"description": description, "content": json_content(schema)}
    if headers:
        out["headers"] = headers
    return out


def errors(*codes: int) -> dict[str, Schema]:
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}


def path_param(name: str, schema: Schema, example: Any, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "example": example,
        "description": description,
    }


def query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def json_body(schema: Schema, required: bool = True) -> Schema:
    return {"required": required, "content": json_content(schema)}


SLUG_P = path_param("slug", {"type": "string"}, "ml-health-check", "The assignment's slug.")
SUB_P = path_param("submission_id", INT_ID, 1, "A submission id.")
NAME_P = path_param("name", {"type": "string"}, "lms", "The platform's name.")
DELIVERY_P = path_param("delivery_id", INT_ID, 1, "A delivery id.")
SECRET_P = path_param("secret_id", INT_ID, 1, "A signing secret's id.")
LOCATION = {
    "Location": {
        "schema": {"type": "string"},
        "required": True,
        "description": "Where to read the resource.",
    }
}
PUBLIC: list[Schema] = []
BEARER: list[Schema] = [{"bearerAuth": []}]
SIGNED: list[Schema] = [{"webhookId": [], "webhookTimestamp": [], "webhookSignature": []}]


def _schemas(rubric_files: list[str]) -> dict[str, Schema]:
    criterion = obj(
        ["id", "name", "points", "max_points", "feedback", "source", "evidence"],
        id={"type": "string"},
        name={"type": "string"},
        points={"type": "number"},
        max_points={"type": "number"},
        feedback={"type": "string"},
        source={"type": "string", "enum": ["grader", "override"]},
        evidence={
            "type": "array",
            "items": {"type": "object"},
            "description": "Quotes from the answer that earned points.",
        },
        grader_points={"type": "number", "description": "Staff only."},
        missing={
            "type": "array",
            "items": {"type": "string"},
            "description": "Staff only: the answer key's concepts not found.",
        },
        override=obj(
            ["points", "reason", "by", "at"],
            points={"type": "number"},
            reason={"type": "string"},
            by={"type": "integer"},
            at=TIME,
        ),
    )
    return {
        "Error": obj(
            ["error"],
            extra=False,
            error=obj(
                ["status", "code", "message"],
                extra=False,
                status={"type": "integer"},
                code={"type": "string", "description": "Machine-readable, e.g. not_found."},
                message={"type": "string", "description": "What went wrong, for people."},
                field={"type": "string", "description": "The field, header or parameter."},
            ),
        ),
        "Criterion": criterion,
        "Grade": obj(
            [
                "total",
                "max_total",
                "confidence",
                "flags",
                "rubric_version",
                "graded_at",
                "criteria",
                "source",
            ],
            total={"type": "number"},
            max_total={"type": "number"},
            confidence={"type": "number", "minimum": 0, "maximum": 1},
            flags={"type": "array", "items": {"type": "string"}},
            rubric_version={"type": "string"},
            graded_at=TIME,
            criteria={"type": "array", "items": ref("Criterion")},
            source={"type": "string", "enum": ["grader", "override"]},
            warnings={"type": "array", "items": {"type": "string"}, "description": "Staff only."},
            review_reasons={
                "type": "array",
                "description": "Staff only: why the grade needs review (any reason keeps the "
                "confidence below the auto-release level).",
                "items": obj(
                    ["code", "message"],
                    extra=False,
                    code={"type": "string", "description": "Machine code, e.g. language."},
                    message={"type": "string", "description": "What to check, for people."},
                ),
            },
        ),
        "Submission": obj(
            [
                "id",
                "assignment",
                "learner",
                "version",
                "current",
                "status",
                "created_at",
                "updated_at",
                "released_at",
                "grade",
            ],
            id={"type": "integer"},
            assignment={"type": "string"},
            learner=obj(["id", "name"], id={"type": "integer"}, name={"type": "string"}),
            version={"type": "integer"},
            current={"type": "boolean"},
            status=STATUS,
            created_at=TIME,
            updated_at=TIME,
            released_at=NTIME,
            grade={
                "oneOf": [ref("Grade"), {"type": "null"}],
                "description": "Staff always; learners and platforms once released.",
            },
            superseded_by={"type": "integer"},
            failure_reason={"type": ["string", "null"]},
            metadata={"type": "object"},
            reviewed={"type": "boolean", "description": "Staff only."},
            claimed_by={"type": ["integer", "null"], "description": "Staff only."},
            claim_expires_at=NTIME,
            content={"type": "string", "description": "Staff only, with ?include=content."},
        ),
        "SubmissionAccepted": obj(
            ["id", "status", "version", "assignment", "url"],
            id={"type": "integer"},
            status=STATUS,
            version={"type": "integer"},
            assignment={"type": "string"},
            url={"type": "string"},
        ),
        "Assignment": obj(
            [
                "slug",
                "title",
                "rubric_file",
                "rubric",
                "rubric_version",
                "created_at",
                "updated_at",
            ],
            slug={"type": "string"},
            title={"type": "string"},
            rubric_file={"type": "string"},
            rubric={"type": "object", "description": "Criteria and points, never the key."},
            rubric_version={"type": "string"},
            created_at=TIME,
            updated_at=TIME,
        ),
        "QueueItem": obj(
            [
                "id",
                "assignment",
                "learner",
                "version",
                "status",
                "total",
                "max_total",
                "confidence",
                "flags",
                "reviewed",
                "claimed_by",
                "claim_expires_at",
                "created_at",
            ],
            id={"type": "integer"},
            assignment={"type": "string"},
            learner=obj(["id", "name"], id={"type": "integer"}, name={"type": "string"}),
            version={"type": "integer"},
            status=STATUS,
            total={"type": ["number", "null"]},
            max_total={"type": ["number", "null"]},
            confidence={"type": ["number", "null"]},
            flags={"type": "array", "items": {"type": "string"}},
            review_reasons={
                "type": "array",
                "items": {"type": "string"},
                "description": "Codes of the grade's review reasons.",
            },
            reviewed={"type": "boolean"},
            claimed_by={"type": ["integer", "null"]},
            claim_expires_at=NTIME,
            created_at=TIME,
        ),
        "Platform": obj(
            [
                "name",
                "events_url",
                "events",
                "events_enabled",
                "disabled_reason",
                "created_at",
                "user_id",
                "secrets",
            ],
            name={"type": "string"},
            events_url={"type": ["string", "null"]},
            events={"type": "array", "items": {"type": "string", "enum": EVENTS}},
            events_enabled={"type": "boolean"},
            disabled_reason={"type": ["string", "null"]},
            created_at=TIME,
            user_id={
                "type": ["integer", "null"],
                "description": "The platform-role user its API token belongs to.",
            },
            secrets={
                "type": "array",
                "items": obj(
                    ["id", "fingerprint", "created_at", "expires_at", "active"],
                    id={"type": "integer"},
                    fingerprint={
                        "type": "string",
                        "description": "sha256 prefix; the secret is never shown.",
                    },
                    created_at=TIME,
                    expires_at=NTIME,
                    active={"type": "boolean"},
                ),
            },
        ),
        "Delivery": obj(
            [
                "id",
                "webhook_id",
                "event_type",
                "submission_id",
                "status",
                "attempts",
                "next_attempt_at",
                "last_status_code",
                "last_error",
                "created_at",
                "completed_at",
                "attempt_log",
            ],
            id={"type": "integer"},
            webhook_id={"type": "string", "description": "Stays the same across retries."},
            event_type={"type": "string", "enum": EVENTS},
            submission_id={"type": ["integer", "null"]},
            status={"type": "string", "enum": ["pending", "succeeded", "failed"]},
            attempts={"type": "integer"},
            next_attempt_at=NTIME,
            last_status_code={"type": ["integer", "null"]},
            last_error={"type": ["string", "null"]},
            created_at=TIME,
            completed_at=NTIME,
            attempt_log={
                "type": "array",
                "items": obj(
                    ["number", "at", "url", "status_code", "latency_ms", "error"],
                    number={"type": "integer"},
                    at=TIME,
                    url={"type": "string"},
                    status_code={"type": ["integer", "null"]},
                    latency_ms={"type": ["number", "null"]},
                    error={"type": ["string", "null"]},
                ),
            },
            payload={"type": "object", "description": "The event body (single delivery)."},
        ),
        "WebhookSubmission": obj(
            ["assignment", "learner_id", "content"],
            extra=False,
            assignment={
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "\\S",
                "description": "An existing assignment's slug.",
            },
            learner_id={
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": "\\S",
                "description": "The platform's own id for the learner.",
            },
            learner_name={"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
            content={
                "type": "string",
                "minLength": 1,
                "pattern": "\\S",
                "description": "The answer (Markdown), at most MAX_SUBMISSION_BYTES.",
            },
            metadata={"type": "object", "description": "Echoed back in events (16 KiB)."},
        ),
        "WebhookAccepted": obj(
            ["id", "status", "version", "assignment", "learner_id", "webhook_id", "url"],
            id={"type": "integer"},
            status=STATUS,
            version={"type": "integer"},
            assignment={"type": "string"},
            learner_id={"type": "string"},
            webhook_id={"type": "string"},
            url={"type": "string"},
        ),
        "Event": obj(
            ["type", "timestamp", "data"],
            type={"type": "string", "enum": EVENTS},
            timestamp=TIME,
            data=obj(
                ["submission_id", "assignment", "learner_id", "version", "status", "metadata"],
                submission_id={"type": "integer"},
                assignment={"type": "string"},
                learner_id={"type": ["string", "null"]},
                version={"type": "integer"},
                status=STATUS,
                metadata={"type": ["object", "null"]},
                reason={"type": "string", "description": "submission.failed only."},
                grade=obj(
                    ["total", "max_total", "rubric_version", "released_at", "criteria"],
                    total={"type": "number"},
                    max_total={"type": "number"},
                    rubric_version={"type": "string"},
                    released_at=NTIME,
                    criteria={
                        "type": "array",
                        "items": obj(
                            ["id", "name", "points", "max_points", "feedback"],
                            id={"type": "string"},
                            name={"type": "string"},
                            points={"type": "number"},
                            max_points={"type": "number"},
                            feedback={"type": "string"},
                        ),
                    },
                ),
            ),
        ),
    }


_ERRORS = {
    400: "The request is malformed.",
    401: "No valid credentials (bearer token, or webhook signature).",
    403: "The caller's role may not do this.",
    404: "Not found (or not the caller's to see).",
    409: "Conflicts with the current state.",
    413: "The body is larger than the limit.",
    415: "Unsupported Content-Type.",
    422: "A field is invalid; `field` names it.",
    503: "Busy or a dependency is unavailable; try again.",
}


def _op(
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    security: list[Schema] | None = None,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    description: str | None = None,
    operation_id: str,
) -> Schema:
    out: Schema = {
        "summary": summary,
        "tags": [tag],
        "operationId": operation_id,
        "responses": responses,
    }
    if description:
        out["description"] = description
    if security is not None:
        out["security"] = security
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


def _paths(max_page_size: int) -> dict[str, Any]:
    sub_resp = ok(ref("Submission"))
    page_params = [
        query("page", or_empty({"type": "integer", "minimum": 1, "maximum": 100000}), "Page."),
        query(
            "per_page",
            or_empty({"type": "integer", "minimum": 1, "maximum": max_page_size}),
            "Items per page (default PAGE_SIZE, at most MAX_PAGE_SIZE).",
        ),
    ]
    paged: dict[str, Any] = {
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
        "pages": {"type": "integer"},
    }
    return {
        "/healthz": {
            "get": _op(
                "Liveness",
                "health",
                {"200": ok(obj(["status"], status={"type": "string", "const": "ok"}))},
                security=PUBLIC,
                operation_id="healthz",
            )
        },
        "/readyz": {
            "get": _op(
                "Readiness: database and broker reachable",
                "health",
                {
                    "200": ok(ref("Ready")),
                    "503": ok(ref("Ready"), "A dependency is unreachable (named in checks)."),
                },
                security=PUBLIC,
                operation_id="readyz",
            )
        },
        "/api/v1/openapi.json": {
            "get": _op(
                "This document",
                "meta",
                {"200": ok({"type": "object"})},
                security=PUBLIC,
                operation_id="openapi",
            )
        },
        "/api/v1/assignments": {
            "get": _op(
                "List assignments",
                "assignments",
                {
                    "200": ok(obj(["items"], items={"type": "array", "items": ref("Assignment")})),
                    **errors(401),
                },
                operation_id="listAssignments",
            ),
            "post": _op(
                "Create an assignment from a rubric file",
                "assignments",
                {"201": ok(ref("Assignment"), "Created"), **errors(401, 403, 409, 413, 415, 422)},
                body=json_body(ref("AssignmentCreate")),
                description=STAFF_ONLY,
                operation_id="createAssignment",
            ),
        },
        "/api/v1/assignments/{slug}": {
            "parameters": [SLUG_P],
            "get": _op(
                "Show an assignment",
                "assignments",
                {"200": ok(ref("Assignment")), **errors(401, 404)},
                operation_id="getAssignment",
            ),
            "patch": _op(
                "Change the title or the rubric file",
                "assignments",
                {"200": ok(ref("Assignment")), **errors(401, 403, 404, 413, 415, 422)},
                body=json_body(ref("AssignmentUpdate")),
                description=STAFF_ONLY,
                operation_id="updateAssignment",
            ),
        },
        "/api/v1/assignments/{slug}/submissions": {
            "parameters": [SLUG_P],
            "post": _op(
                "Submit an answer",
                "submissions",
                {
                    "202": ok(
                        ref("SubmissionAccepted"), "Accepted; graded in the background", LOCATION
                    ),
                    **errors(401, 403, 404, 409, 413, 415, 422, 503),
                },
                parameters=[
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 200,
                            "pattern": "\\S",
                        },
                        "description": "Repeat a request safely: same key, same answer.",
                    }
                ],
                body={
                    "required": True,
                    "content": {
                        "text/markdown": {
                            "schema": {"type": "string", "minLength": 1, "pattern": "\\S"}
                        },
                        "text/plain": {
                            "schema": {"type": "string", "minLength": 1, "pattern": "\\S"}
                        },
                        "application/json": {"schema": ref("SubmissionRequest")},
                    },
                },
                description="Learner, instructor or admin. Platforms submit by webhook.",
                operation_id="submitAnswer",
            ),
        },
        "/api/v1/assignments/{slug}/release": {
            "parameters": [SLUG_P],
            "post": _op(
                "Release many graded submissions",
                "review",
                {
                    "200": ok(
                        obj(
                            ["released", "count", "claimed"],
                            released={"type": "array", "items": {"type": "integer"}},
                            count={"type": "integer"},
                            claimed={
                                "type": "array",
                                "items": {"type": "integer"},
                                "description": "held back: another instructor's live claim",
                            },
                        )
                    ),
                    **errors(401, 403, 404, 413, 415, 422),
                },
                body=json_body(ref("ReleaseRequest"), required=False),
                description=STAFF_ONLY + " Default mode: reviewed.",
                operation_id="releaseMany",
            ),
        },
        "/api/v1/assignments/{slug}/regrade": {
            "parameters": [SLUG_P],
            "post": _op(
                "Regrade with the rubric file as it is now (a job the worker runs)",
                "review",
                {
                    "202": ok(
                        obj(["job"], job=ref("Job")),
                        "The job: poll its Location until it is done or failed",
                        headers={"Location": {"schema": {"type": "string"}}},
                    ),
                    **errors(401, 403, 404, 422, 503),
                },
                parameters=[
                    query(
                        "dry_run",
                        {"type": "string"},
                        "1, true or yes: the job reports what would change and writes nothing.",
                    )
                ],
                description=STAFF_ONLY
                + " A regrade switches the assignment to the file's version at once and the"
                " worker sends every current answer; a dry run grades them all again in the"
                " worker. Either way the request returns at once.",
                operation_id="regrade",
            ),
        },
        "/api/v1/jobs/{job_id}": {
            "parameters": [path_param("job_id", INT_ID, 1, "A job id.")],
            "get": _op(
                "A regrade job",
                "review",
                {"200": ok(ref("Job")), **errors(401, 403, 404)},
                description=STAFF_ONLY,
                operation_id="getJob",
            ),
        },
        "/api/v1/assignments/{slug}/grades.csv": {
            "parameters": [SLUG_P],
            "get": _op(
                "Gradebook as CSV",
                "review",
                {
                    "200": {
                        "description": "One row per learner's current submission.",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **errors(401, 403, 404),
                },
                description=STAFF_ONLY,
                operation_id="gradebook",
            ),
        },
        "/api/v1/submissions": {
            "get": _op(
                "List submissions the caller may see",
                "submissions",
                {
                    "200": ok(obj(["items"], items={"type": "array", "items": ref("Submission")})),
                    **errors(401, 422),
                },
                parameters=[
                    query("assignment", {"type": "string"}, "An assignment slug."),
                    query("learner", INT_ID, "Staff: one learner's submissions."),
                    query(
                        "limit",
                        INT_ID,
                        "At most this many, newest first (default 100, capped at 500).",
                    ),
                ],
                operation_id="listSubmissions",
            ),
        },
        "/api/v1/submissions/{submission_id}": {
            "parameters": [SUB_P],
            "get": _op(
                "Show a submission (and its grade when the caller may see it)",
                "submissions",
                {"200": sub_resp, **errors(401, 404)},
                parameters=[
                    query(
                        "include",
                        {"type": "string"},
                        "Staff: 'content' includes the answer's text.",
                    )
                ],
                description="Learners see their own, platforms theirs, staff all; others get 404.",
                operation_id="getSubmission",
            ),
        },
        "/api/v1/submissions/{submission_id}/history": {
            "parameters": [SUB_P],
            "get": _op(
                "The audit trail",
                "review",
                {"200": ok(ref("History")), **errors(401, 403, 404)},
                description=STAFF_ONLY,
                operation_id="history",
            ),
        },
        "/api/v1/submissions/{submission_id}/overrides": {
            "parameters": [SUB_P],
            "post": _op(
                "Override one criterion's points, with a reason",
                "review",
                {
                    "201": ok(ref("Submission"), "Created"),
                    **errors(401, 403, 404, 409, 413, 415, 422),
                },
                body=json_body(ref("OverrideRequest")),
                description=STAFF_ONLY,
                operation_id="override",
            ),
        },
        "/api/v1/submissions/{submission_id}/release": {
            "parameters": [SUB_P],
            "post": _op(
                "Release the grade to the learner",
                "review",
                {"200": sub_resp, **errors(401, 403, 404, 409)},
                description=STAFF_ONLY,
                operation_id="release",
            ),
        },
        "/api/v1/submissions/{submission_id}/retry": {
            "parameters": [SUB_P],
            "post": _op(
                "Re-queue a failed submission",
                "review",
                {"202": ok(ref("Submission"), "Queued"), **errors(401, 403, 404, 409)},
                description=STAFF_ONLY,
                operation_id="retry",
            ),
        },
        "/api/v1/submissions/{submission_id}/claim": {
            "parameters": [SUB_P],
            "post": _op(
                "Claim for review (CLAIM_SECONDS)",
                "review",
                {"200": sub_resp, **errors(401, 403, 404, 409)},
                description=STAFF_ONLY,
                operation_id="claim",
            ),
            "delete": _op(
                "Drop a claim",
                "review",
                {"200": sub_resp, **errors(401, 403, 404, 409)},
                description=STAFF_ONLY,
                operation_id="unclaim",
            ),
        },
        "/api/v1/review-queue": {
            "get": _op(
                "Current submissions to review, least confident first",
                "review",
                {
                    "200": ok(
                        obj(
                            ["items", "sort", "next_cursor", *paged],
                            items={"type": "array", "items": ref("QueueItem")},
                            sort={"type": "string"},
                            next_cursor={
                                "type": ["string", "null"],
                                "description": "Pass as cursor for the next page; null on "
                                "the last.",
                            },
                            **paged,
                        )
                    ),
                    **errors(401, 403, 422),
                },
                parameters=[
                    query("assignment", {"type": "string"}, "An assignment slug."),
                    query(
                        "status",
                        {"type": "string", "pattern": STATUS_LIST},
                        "Comma-separated statuses, or all (default graded).",
                    ),
                    query("flag", {"type": "string"}, "Only answers with this flag."),
                    query(
                        "reason", {"type": "string"}, "Only answers with this review reason code."
                    ),
                    query("min_total", or_empty({"type": "number"}), "Lowest total."),
                    query("max_total", or_empty({"type": "number"}), "Highest total."),
                    query("reviewed", {"type": "string"}, "0 or 1: only (un)reviewed."),
                    query("unclaimed", {"type": "string"}, "1: only unclaimed."),
                    query(
                        "sort",
                        {
                            "type": "string",
                            "enum": [
                                "confidence",
                                "-confidence",
                                "time",
                                "-time",
                                "total",
                                "-total",
                            ],
                        },
                        "Sort key; '-' for descending.",
                    ),
                    query(
                        "cursor",
                        {"type": "string"},
                        "A previous page's next_cursor (same sort): the page after it, "
                        "without an offset; page is then ignored.",
                    ),
                    *page_params,
                ],
                description=STAFF_ONLY,
                operation_id="reviewQueue",
            ),
        },
        "/api/v1/platforms": {
            "get": _op(
                "List platforms",
                "platforms",
                {
                    "200": ok(obj(["items"], items={"type": "array", "items": ref("Platform")})),
                    **errors(401, 403),
                },
                description=ADMIN_ONLY,
                operation_id="listPlatforms",
            ),
            "post": _op(
                "Register a platform",
                "platforms",
                {
                    "201": ok(
                        ref("PlatformCreated"), "Created; secret and token shown once", LOCATION
                    ),
                    **errors(401, 403, 409, 413, 415, 422),
                },
                body=json_body(ref("PlatformCreate")),
                description=ADMIN_ONLY + " Returns the signing secret and an API token for "
                "the platform once; they are never shown again.",
                operation_id="createPlatform",
            ),
        },
        "/api/v1/platforms/{name}": {
            "parameters": [NAME_P],
            "get": _op(
                "Show a platform",
                "platforms",
                {"200": ok(ref("Platform")), **errors(401, 403, 404)},
                description=ADMIN_ONLY,
                operation_id="getPlatform",
            ),
            "patch": _op(
                "Change the endpoint or events, or re-enable it",
                "platforms",
                {"200": ok(ref("Platform")), **errors(401, 403, 404, 413, 415, 422)},
                body=json_body(ref("PlatformUpdate")),
                description=ADMIN_ONLY,
                operation_id="updatePlatform",
            ),
        },
        "/api/v1/platforms/{name}/secrets": {
            "parameters": [NAME_P],
            "post": _op(
                "Rotate the signing secret",
                "platforms",
                {
                    "201": ok(ref("PlatformSecretCreated"), "The new secret, shown once"),
                    **errors(401, 403, 404, 413, 415, 422),
                },
                body=json_body(ref("SecretRotation"), required=False),
                description=ADMIN_ONLY,
                operation_id="rotateSecret",
            ),
        },
        "/api/v1/platforms/{name}/secrets/{secret_id}": {
            "parameters": [NAME_P, SECRET_P],
            "delete": _op(
                "Revoke one secret now",
                "platforms",
                {"200": ok(ref("Platform")), **errors(401, 403, 404, 409)},
                description=ADMIN_ONLY + " The last active secret cannot be revoked.",
                operation_id="revokeSecret",
            ),
        },
        "/api/v1/platforms/{name}/deliveries": {
            "parameters": [NAME_P],
            "get": _op(
                "Outbound events and their attempts, newest first",
                "platforms",
                {
                    "200": ok(
                        obj(
                            ["items", *paged],
                            items={"type": "array", "items": ref("Delivery")},
                            **paged,
                        )
                    ),
                    **errors(401, 403, 404, 422),
                },
                parameters=[
                    query(
                        "status",
                        {"type": "string", "enum": ["pending", "succeeded", "failed"]},
                        "Only deliveries in this state.",
                    ),
                    *page_params,
                ],
                description=ADMIN_ONLY,
                operation_id="listDeliveries",
            ),
        },
        "/api/v1/platforms/{name}/deliveries/{delivery_id}": {
            "parameters": [NAME_P, DELIVERY_P],
            "get": _op(
                "Show a delivery with its payload",
                "platforms",
                {"200": ok(ref("Delivery")), **errors(401, 403, 404)},
                description=ADMIN_ONLY,
                operation_id="getDelivery",
            ),
        },
        "/api/v1/platforms/{name}/deliveries/{delivery_id}/redeliver": {
            "parameters": [NAME_P, DELIVERY_P],
            "post": _op(
                "Send one event again (same webhook-id)",
                "platforms",
                {"202": ok(ref("Delivery"), "Queued"), **errors(401, 403, 404, 409)},
                description=ADMIN_ONLY,
                operation_id="redeliver",
            ),
        },
        "/api/v1/platforms/{name}/deliveries/redeliver-failed": {
            "parameters": [NAME_P],
            "post": _op(
                "Send every failed event again",
                "platforms",
                {
                    "202": ok(
                        obj(
                            ["count", "ids"],
                            count={"type": "integer"},
                            ids={"type": "array", "items": {"type": "integer"}},
                        ),
                        "Queued",
                    ),
                    **errors(401, 403, 404, 409),
                },
                description=ADMIN_ONLY,
                operation_id="redeliverFailed",
            ),
        },
        "/api/v1/webhooks/{platform_name}/submissions": {
            "parameters": [
                path_param(
                    "platform_name", {"type": "string"}, "lms", "The platform's registered name."
                )
            ],
            "post": _op(
                "A platform submits a learner's answer (Standard Webhooks)",
                "webhooks",
                {
                    "202": ok(
                        ref("WebhookAccepted"),
                        "Accepted; a repeated webhook-id gets the first answer again",
                        LOCATION,
                    ),
                    **errors(401, 404, 409, 413, 415, 422),
                },
                security=SIGNED,
                body=json_body(ref("WebhookSubmission")),
                description=(
                    "Signed with the platform's secret over `{webhook-id}.{webhook-timestamp}."
                    "{body}` (HMAC-SHA256, `v1,<base64>`); the timestamp must be within 5 "
                    "minutes. 401: missing or bad signature headers or a stale timestamp; "
                    "404: unknown platform; 409: a webhook-id reused for a different body; "
                    "422: an invalid payload or unknown assignment. Nothing is stored on "
                    "any error."
                ),
                operation_id="receiveSubmission",
            ),
        },
    }


def _extra_schemas() -> dict[str, Schema]:
    change = obj(
        ["id", "learner", "status", "before", "after", "delta", "criteria"],
        id={"type": "integer"},
        learner={"type": "string"},
        status=STATUS,
        before={"type": ["number", "null"]},
        after={"type": "number"},
        delta={"type": ["number", "null"]},
        criteria={
            "type": "object",
            "additionalProperties": obj(
                ["before", "after"], before={"type": ["number", "null"]}, after={"type": "number"}
            ),
        },
    )
    return {
        "Ready": obj(
            ["status", "checks"],
            status={"type": "string", "enum": ["ready", "unavailable"]},
            checks=obj(
                ["database", "broker"], database={"type": "string"}, broker={"type": "string"}
            ),
        ),
        "Job": obj(
            ["id", "kind", "assignment", "status", "rubric_version", "created_at", "result"],
            id={"type": "integer"},
            kind={"type": "string", "enum": ["regrade_preview", "regrade"]},
            assignment={"type": "string"},
            status={"type": "string", "enum": ["queued", "running", "done", "failed"]},
            rubric_version={"type": "string"},
            created_at=TIME,
            finished_at=NTIME,
            result={
                "anyOf": [
                    {"type": "null"},
                    ref("RegradePreview"),
                    obj(
                        ["queued", "submissions"],
                        queued={"type": "integer"},
                        submissions={"type": "integer"},
                    ),
                ],
                "description": "When done: the dry run's changes, or how many were sent.",
            },
            error={"type": ["string", "null"]},
        ),
        "RegradePreview": obj(
            ["rubric_version", "current_version", "submissions", "changes", "unchanged"],
            rubric_version={"type": "string"},
            current_version={"type": "string"},
            submissions={"type": "integer"},
            changes={"type": "array", "items": change},
            unchanged={"type": "integer"},
            criteria={"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        ),
        "History": obj(
            ["submission", "events"],
            submission={"type": "integer"},
            events={
                "type": "array",
                "items": obj(
                    ["id", "action", "at", "actor", "before", "after", "reason"],
                    id={"type": "integer"},
                    action={"type": "string"},
                    at=TIME,
                    actor={
                        "oneOf": [
                            {"type": "null"},
                            obj(
                                ["id", "name", "role"],
                                id={"type": "integer"},
                                name={"type": "string"},
                                role={"type": "string"},
                            ),
                        ]
                    },
                    before={"type": ["object", "null"]},
                    after={"type": ["object", "null"]},
                    reason={"type": ["string", "null"]},
                ),
            },
        ),
        "PlatformCreated": {
            "allOf": [
                ref("Platform"),
                obj(
                    ["secret", "token"],
                    secret={
                        "type": "string",
                        "pattern": "^whsec_",
                        "description": "The signing secret, shown only now.",
                    },
                    token={
                        "type": "string",
                        "description": "A bearer token for the platform role.",
                    },
                ),
            ]
        },
        "PlatformSecretCreated": {
            "allOf": [
                ref("Platform"),
                obj(
                    ["secret", "secret_id"],
                    secret={"type": "string", "pattern": "^whsec_"},
                    secret_id={"type": "integer"},
                ),
            ]
        },
    }


def _request_schemas(rubric_files: list[str]) -> dict[str, Schema]:
    """The request bodies, from their models (grader.service.contracts); the rubric files
    that exist are listed where a body names one."""
    out = {
        model.__name__: contracts.schema(model)
        for model in (
            contracts.AssignmentCreate,
            contracts.AssignmentUpdate,
            contracts.ReleaseRequest,
            contracts.SubmissionRequest,
            contracts.OverrideRequest,
            contracts.PlatformCreate,
            contracts.PlatformUpdate,
            contracts.SecretRotation,
        )
    }
    for name in ("AssignmentCreate", "AssignmentUpdate"):
        out[name]["properties"]["rubric"]["enum"] = rubric_files
    return out


def build(rubric_files: list[str], max_page_size: int = 200) -> dict[str, Any]:
    """The document, with the settings it depends on: the rubric files instructors may
    choose from, and MAX_PAGE_SIZE."""
    schemas = _schemas(rubric_files)
    schemas.update(_extra_schemas())
    schemas.update(_request_schemas(rubric_files))
    responses = {
        f"E{code}": {"description": text, "content": json_content(ref("Error"))}
        for code, text in _ERRORS.items()
    }
    header = "Standard Webhooks header (see the operation's description)."
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "grader",
            "version": "1",
            "description": (
                "Auto-grading for written submissions. Every error has the body "
                '`{"error": {"status", "code", "message", "field"?}}`. Course '
                "platforms submit through a signed webhook and receive the events under "
                "`webhooks`, signed the same way."
            ),
        },
        "servers": [{"url": "/"}],
        "security": BEARER,
        "paths": _paths(max_page_size),
        "webhooks": {
            event: {
                "post": {
                    "summary": f"{event} (sent to the platform's events_url)",
                    "operationId": f"event_{event.replace('.', '_')}",
                    "security": SIGNED,
                    "requestBody": json_body(ref("Event")),
                    "responses": {
                        "2XX": {
                            "description": "Received. Anything else is retried; 410 "
                            "disables the endpoint."
                        },
                    },
                }
            }
            for event in EVENTS
        },
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`grader token create`).",
                },
                "webhookId": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-id",
                    "description": header,
                },
                "webhookTimestamp": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-timestamp",
                    "description": header,
                },
                "webhookSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-signature",
                    "description": header,
                },
            },
        },
    }


def rubric_files(rubrics_dir: str) -> list[str]:
    folder = Path(rubrics_dir)
    return sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []


def document() -> dict[str, Any]:
    """Built per request: cheap, and the rubric enum follows the folder as it is now."""
    cfg = current_app.config
    return build(rubric_files(str(cfg["RUBRICS_DIR"])), int(cfg["MAX_PAGE_SIZE"]))


@bp.get("/api/v1/openapi.json")
def openapi_json() -> dict[str, Any]:
    """The OpenAPI 3.1 document (public: it describes, it grants nothing)."""
    return document()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
