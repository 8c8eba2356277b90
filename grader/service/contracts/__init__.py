"""The API's contract, declared once as pydantic models: request bodies (:mod:`.requests`),
query parameters (:mod:`.queries`), response bodies (:mod:`.responses`), and per operation
what it takes and answers (:mod:`.operation`). The views parse and answer with them and
:mod:`grader.service.openapi` publishes them."""

from .operation import ADMIN_ONLY, STAFF_ONLY, Header, Operation, Reply, operation
from .queries import parse_query
from .requests import (
    AssignmentCreate,
    AssignmentUpdate,
    Body,
    EnrolRequest,
    HandGradeRequest,
    NotificationsRead,
    OverrideRequest,
    PlatformCreate,
    PlatformUpdate,
    RegradeAnswer,
    RegradeRequestCreate,
    ReleaseRequest,
    Rule,
    SecretRotation,
    SubmissionRequest,
    UnreleaseRequest,
    UserCreate,
    WebhookSubmission,
    parse,
    schema,
)

__all__ = [
    "ADMIN_ONLY",
    "STAFF_ONLY",
    "AssignmentCreate",
    "AssignmentUpdate",
    "Body",
    "EnrolRequest",
    "HandGradeRequest",
    "Header",
    "NotificationsRead",
    "Operation",
    "OverrideRequest",
    "PlatformCreate",
    "PlatformUpdate",
    "RegradeAnswer",
    "RegradeRequestCreate",
    "ReleaseRequest",
    "Reply",
    "Rule",
    "SecretRotation",
    "SubmissionRequest",
    "UnreleaseRequest",
    "UserCreate",
    "WebhookSubmission",
    "operation",
    "parse",
    "parse_query",
    "schema",
]
