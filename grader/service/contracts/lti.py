"""The LTI admin API's contract: registering a platform, and what the API shows of
platforms, their score deliveries and a connection test."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..fields import Rule
from .requests import Body
from .responses import OptionalTime, Response, Time

_URL = Annotated[
    str,
    Field(min_length=1, max_length=2048, description="An https URL of the platform."),
]


class LtiPlatformCreate(Body):
    """Register an LMS (or add deployments to a registered one, updating its URLs)."""

    issuer: Annotated[_URL, Rule("invalid_field", "'issuer' must be the platform's issuer URL")]
    client_id: Annotated[
        str,
        Field(min_length=1, max_length=255, description="The client id the LMS gave grader."),
        Rule("invalid_field", "'client_id' must be text of 1 to 255 characters"),
    ]
    deployment_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]],
        Field(min_length=1, max_length=100),
        Rule("invalid_field", "'deployment_ids' must list 1 to 100 deployment ids"),
    ]
    auth_url: Annotated[_URL, Rule("invalid_field", "'auth_url' must be a URL")]
    token_url: Annotated[_URL, Rule("invalid_field", "'token_url' must be a URL")]
    jwks_url: Annotated[_URL, Rule("invalid_field", "'jwks_url' must be a URL")]
    name: Annotated[
        str, Field(min_length=1, max_length=200), Rule("invalid_field", "'name' must be text")
    ] = None  # type: ignore[assignment]
    token_audience: Annotated[
        str,
        Field(min_length=1, max_length=2048, description="Default: the token URL."),
        Rule("invalid_field", "'token_audience' must be text"),
    ] = None  # type: ignore[assignment]
    trust_instructors: Annotated[
        bool,
        Field(
            description="LMS Instructors become grader instructors without an admin's "
            "approval (grader's instructors see every course). Default false."
        ),
        Rule("invalid_field", "'trust_instructors' must be true or false"),
    ] = None  # type: ignore[assignment]


class LtiInstructorRequest(Response):
    id: Annotated[int, Field(description="The LTI account's id (approve or dismiss by it).")]
    user_id: int
    name: Annotated[str, Field(description="As the LMS gave it (any LMS user may choose it).")]
    platform: str
    sub: Annotated[str, Field(description="The LMS's id for the user.")]
    email: str | None
    course: str | None
    context_id: str | None
    requested_at: Time


class LtiInstructorRequestList(Response):
    items: list[LtiInstructorRequest]


class LtiInstructorDecision(Body):
    """Approve the account as a grader instructor (true: it sees every course), or
    dismiss the request (false)."""

    approve: Annotated[bool, Rule("invalid_field", "'approve' (true or false) is required")]


class LtiPlatform(Response):
    id: int
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_url: str
    token_url: str
    jwks_url: str
    token_audience: str | None
    trust_instructors: bool
    created_at: Time


class LtiPlatformList(Response):
    items: list[LtiPlatform]
    jwks_url: Annotated[str, Field(description="grader's public keys, for the LMS.")]
    login_url: str
    launch_url: str


class LtiRequestOutcome(Response):
    url: str
    status_code: int | None
    error: str | None
    excerpt: str


class LtiConnection(Response):
    ok: bool
    message: str
    requests: list[LtiRequestOutcome]


class LtiScoreAttempt(Response):
    number: int
    at: Time
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None


class LtiScore(Response):
    id: int
    submission_id: int | None
    kind: Annotated[str, Field(description="received, released or withdrawn")]
    status: Annotated[str, Field(description="pending, succeeded, failed or superseded")]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: OptionalTime
    created_at: Time
    score: dict[str, object]
    attempt_log: list[LtiScoreAttempt]


class LtiScoreList(Response):
    items: list[LtiScore]


class LtiKeyRotated(Response):
    kid: str
