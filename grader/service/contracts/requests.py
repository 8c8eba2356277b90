"""The JSON request bodies, declared once as pydantic models: the views parse with them and
the OpenAPI document (:mod:`grader.service.openapi`) publishes their JSON Schema.

Every body refuses unknown fields and takes JSON's types as they are (``strict``: no
``"5"`` for 5, no ``true`` for 1). A refused body is a 422 in the service's error envelope
naming the field: each field declares its error code and the sentence that states its rule
(:class:`Rule`); an unknown field is ``unknown_field``.

Long because: every body the API takes is here, read as one contract beside the responses
(:mod:`.responses`); each model is a few lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ..errors import APIError
from ..fields import Rule
from ..operations.accounts import EMAIL_PATTERN
from ..operations.assignments import SLUG_PATTERN
from ..operations.events import EVENT_TYPES
from ..operations.reviews import MAX_REASON

__all__ = [
    "AssignmentCreate",
    "AssignmentUpdate",
    "BankCommentCreate",
    "Body",
    "CommentRequest",
    "EnrolRequest",
    "GroupDecision",
    "GroupExclude",
    "HandGradeRequest",
    "OverrideRequest",
    "NotificationsRead",
    "PlatformCreate",
    "PlatformUpdate",
    "RegradeAnswer",
    "RegradeRequestCreate",
    "ReleaseRequest",
    "RubricSource",
    "Rule",
    "SecretRotation",
    "ShareRequest",
    "SubmissionRequest",
    "UnreleaseRequest",
    "UserCreate",
    "WebhookSubmission",
    "clean_schema",
    "parse",
    "schema",
]

#: The longest a rotated platform secret may stay valid (30 days).
MAX_GRACE = 30 * 24 * 3600
_TEXT = r"\S"  # at least one character that is not white space


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


M = TypeVar("M", bound=Body)


def parse(model: type[M], data: Any) -> M:
    """``data`` (a decoded JSON object) as ``model``, or the 422 for its first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        name = str(loc[0]) if loc else "body"
        if error["type"] == "extra_forbidden":
            raise APIError(422, "unknown_field", f"unknown field {name!r}", field=name) from None
        field = model.model_fields.get(name)
        rule = next((m for m in field.metadata if isinstance(m, Rule)), None) if field else None
        code = rule.code if rule else f"invalid_{name}"
        if error["type"] == "value_error":  # a validator's own sentence
            message = f"{name!r}: {error['ctx']['error']}"
        else:
            message = rule.message if rule else f"{name!r}: {error['msg']}"
        raise APIError(422, code, message, field=name) from None


def clean_schema(node: Any) -> Any:
    """A JSON Schema without pydantic's titles and null defaults: the names say it, and a
    field that defaults to nothing is simply optional."""
    if isinstance(node, dict):
        return {
            k: clean_schema(v)
            for k, v in node.items()
            if (k != "title" or isinstance(v, dict)) and not (k == "default" and v is None)
        }
    if isinstance(node, list):
        return [clean_schema(v) for v in node]
    return node


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema for the OpenAPI document."""
    return dict(clean_schema(model.model_json_schema()))


_SLUG_RULE = Rule(
    "invalid_slug", "'slug' must be lower-case letters, digits and dashes (at most 64)"
)
_TITLE = Annotated[
    str,
    Field(max_length=200, pattern=_TEXT),
    Rule("invalid_title", "'title' must be a non-empty string of at most 200 characters"),
]
_EVENTS = Annotated[
    list[Literal[EVENT_TYPES]],  # type: ignore[valid-type]
    Rule("invalid_events", f"'events' must be a list of event types from {', '.join(EVENT_TYPES)}"),
]
_EVENTS_URL = Annotated[
    str | None,
    Field(max_length=2048, json_schema_extra={"format": "uri"}),
    Rule("invalid_events_url", "'events_url' must be an https URL or null"),
]


def _whole(value: Any) -> Any:
    """JSON Schema's integers include 250.0: taken as 250 (still no "250" or true)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-24T18:00:00Z")
    return value


def _text_time(value: Any) -> Any:
    """Times come as ISO 8601 text (JSON has no time type): not as numbers."""
    if value is not None and not isinstance(value, str):
        raise ValueError("give the time as ISO 8601 text, e.g. 2026-12-24T18:00:00Z")
    return value


_TIME = Annotated[
    datetime | None,
    Field(strict=False, description="ISO 8601 with a time zone; null: none."),
    BeforeValidator(_text_time),
    AfterValidator(_aware),
    Rule("invalid_time", "times are ISO 8601 with a time zone, e.g. 2026-12-24T18:00:00Z"),
]
_LATE_POLICY = Annotated[
    Literal["accept", "refuse"],
    Field(description="After the due time: accept answers and mark them late, or refuse them."),
    Rule("invalid_late_policy", "'late_policy' must be accept or refuse"),
]


_COUNTED = Annotated[
    Literal["latest", "best"],
    Field(
        description="Which released version the gradebook counts for a learner with several: "
        "the latest, or the best (highest total)."
    ),
    Rule("invalid_counted_grade", "'counted_grade' must be latest or best"),
]


class Window(Body):
    """When an assignment takes answers, and which grade counts (all optional)."""

    opens_at: _TIME = None
    due_at: _TIME = None
    late_policy: _LATE_POLICY = None  # type: ignore[assignment]
    counted_grade: _COUNTED = None  # type: ignore[assignment]
    release_after: Annotated[
        _TIME, Field(description="An embargo: no grade is released before it (null: none).")
    ] = None
    restricted: Annotated[
        bool,
        Field(description="Only the learners enrolled in its course see and answer it."),
        Rule("invalid_restricted", "'restricted' must be true or false"),
    ] = None  # type: ignore[assignment]
    blind_review: Annotated[
        bool,
        Field(description="Reviewers see no learner names or ids until a grade is released."),
        Rule("invalid_blind_review", "'blind_review' must be true or false"),
    ] = None  # type: ignore[assignment]

    @field_validator("due_at")
    @classmethod
    def _after_opening(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        opens = info.data.get("opens_at")
        if value is not None and opens is not None and value <= opens:
            raise ValueError("must be after opens_at")
        return value


class AssignmentCreate(Window):
    """Create an assignment from a rubric file in the rubrics folder."""

    slug: Annotated[str, Field(pattern=SLUG_PATTERN), _SLUG_RULE]
    rubric: Annotated[
        str,
        Field(description="A rubric file from the rubrics folder."),
        Rule("invalid_rubric", "'rubric' (a rubric file name) is required"),
    ]
    title: _TITLE | None = None


class AssignmentUpdate(Window):
    """Change the title, or point the assignment at a (changed) rubric file."""

    rubric: Annotated[str, Rule("invalid_rubric", "'rubric' must be a file name")] = None  # type: ignore[assignment]
    title: _TITLE = None  # type: ignore[assignment]


class ReleaseRequest(Body):
    """Release many graded submissions: those reviewed (default), all, those at or above a
    confidence, or the ones listed (the default mode when ``ids`` is given)."""

    mode: Annotated[
        Literal["reviewed", "confidence", "ids", "all"],
        Rule("invalid_mode", "'mode' must be reviewed, confidence, ids or all"),
    ] = None  # type: ignore[assignment]
    min_confidence: Annotated[
        float,
        Field(ge=0, le=1, description="With mode confidence; default AUTO_RELEASE_CONFIDENCE."),
        Rule("invalid_min_confidence", "'min_confidence' must be a number from 0 to 1"),
    ] = None  # type: ignore[assignment]
    ids: Annotated[
        list[int],
        Field(description="With mode ids (the default mode when given): submission ids."),
        Rule("invalid_ids", "'ids' must be a list of submission ids"),
    ] = None  # type: ignore[assignment]


class SubmissionRequest(Body):
    """An answer sent as JSON (it may also be sent as text/markdown)."""

    # Emptiness and NUL characters are the answer's own rules (grader.service.answers).
    content: Annotated[
        str,
        Field(
            description="The answer (Markdown); no NUL characters.",
            json_schema_extra={"minLength": 1, "pattern": _TEXT},
        ),
        Rule("invalid_content", "'content' must be a string of Markdown"),
    ]
    metadata: Annotated[
        dict[str, Any] | None, Rule("invalid_metadata", "'metadata' must be an object")
    ] = None


# Why, for the audit trail; and what the learner reads.
_REASON = Annotated[
    str,
    Field(json_schema_extra={"pattern": _TEXT, "maxLength": MAX_REASON}),
    Rule("reason_required", "'reason' must be a string"),
]
_COMMENT = Annotated[
    str | None,
    Field(json_schema_extra={"maxLength": MAX_REASON}),
    Rule("invalid_comment", "'comment' must be a string"),
]


class OverrideRequest(Body):
    """Set one criterion's points, with the reason (kept in the audit trail)."""

    criterion: Annotated[
        str,
        Field(min_length=1, description="A criterion id of the assignment's rubric."),
        Rule("invalid_criterion", "'criterion' is required"),
    ]
    points: Annotated[
        float,
        Field(ge=0, allow_inf_nan=False, description="From 0 to the criterion's max_points."),
        Rule("invalid_points", "'points' must be a number from 0 to the criterion's maximum"),
    ]
    # Its length and content are the override's own rule (operations.reviews.override).
    reason: _REASON
    comment: Annotated[
        _COMMENT,
        Field(
            description="Shown to the learner instead of the automatic feedback for this "
            "criterion (the reason stays in the audit trail only)."
        ),
    ] = None
    save_comment: Annotated[
        bool,
        Field(description="Also keep the comment in the criterion's comment bank."),
        Rule("invalid_save_comment", "'save_comment' must be true or false"),
    ] = False


class GroupDecision(Body):
    """One decision for the members of an answer group, as the instructor saw them: confirm
    every grade, or set one criterion's points with one reason (and comment) for all."""

    members: Annotated[
        list[Annotated[int, BeforeValidator(_whole)]],
        Field(min_length=1, max_length=1000, description="The group's submission ids."),
        Rule("invalid_members", "'members' must be a list of 1 to 1000 submission ids"),
    ]
    action: Annotated[
        Literal["confirm", "override"],
        Rule("invalid_action", "'action' must be confirm or override"),
    ]
    criterion: Annotated[
        str,
        Field(min_length=1, description="With override: a criterion id of the rubric."),
        Rule("invalid_criterion", "'criterion' must be a criterion id"),
    ] = None  # type: ignore[assignment]
    points: Annotated[
        float,
        Field(ge=0, allow_inf_nan=False, description="With override: the points for everyone."),
        Rule("invalid_points", "'points' must be a number from 0 to the criterion's maximum"),
    ] = None  # type: ignore[assignment]
    reason: Annotated[str | None, Rule("reason_required", "'reason' must be a string")] = None
    comment: Annotated[_COMMENT, Field(description="With override: what every learner reads.")] = (
        None
    )


class GroupExclude(Body):
    """Take an answer out of its group: it stands alone from then on."""

    submission: Annotated[
        int,
        BeforeValidator(_whole),
        Field(description="A submission id of the assignment (404 for any other)."),
        Rule("invalid_submission", "'submission' must be a submission id"),
    ]


class RubricSource(Body):
    """A new version of the assignment's rubric, as TOML (the rubric file's format)."""

    source: Annotated[
        str,
        Field(min_length=1, description="The whole rubric as TOML (at most 256 KB)."),
        Rule("invalid_rubric", "'source' must be the rubric's TOML text"),
    ]


class ShareRequest(Body):
    """Split the answers waiting for review among instructors."""

    reviewers: Annotated[
        list[Annotated[int, BeforeValidator(_whole)]],
        Field(min_length=1, max_length=100, description="Instructor or admin user ids."),
        Rule("invalid_reviewers", "'reviewers' must be a list of 1 to 100 user ids"),
    ]
    mode: Annotated[
        Literal["random", "groups"],
        Field(description="random: dealt round the team; groups: whole answer groups."),
        Rule("invalid_mode", "'mode' must be random or groups"),
    ] = "random"
    reassign: Annotated[
        bool,
        Field(description="Deal again answers someone already has (not reviewed ones only)."),
        Rule("invalid_reassign", "'reassign' must be true or false"),
    ] = False


class HandGradeRequest(Body):
    """Grade a failed submission by hand: every criterion's points, a reason for the history
    and, optionally, a comment the learner reads."""

    points: Annotated[
        dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]],
        Field(description="Each criterion id of the rubric with its points."),
        Rule("invalid_points", "'points' must map each criterion id to its points"),
    ]
    reason: _REASON
    comment: _COMMENT = None


class RegradeRequestCreate(Body):
    """A learner asks an instructor to look again at one criterion of a released grade."""

    criterion: Annotated[
        str,
        Field(min_length=1, description="A criterion id of the grade."),
        Rule("invalid_criterion", "'criterion' is required"),
    ]
    message: Annotated[
        str,
        Field(json_schema_extra={"pattern": _TEXT, "maxLength": MAX_REASON}),
        Rule("message_required", "'message' must be a string"),
    ]


class RegradeAnswer(Body):
    """The instructor's answer to a regrade request: keep the points, or change them."""

    outcome: Annotated[
        Literal["kept", "changed"],
        Rule("invalid_outcome", "'outcome' must be kept or changed"),
    ]
    reply: Annotated[
        str,
        Field(
            json_schema_extra={"pattern": _TEXT, "maxLength": MAX_REASON},
            description="The learner reads it.",
        ),
        Rule("reply_required", "'reply' must be a string"),
    ]
    points: Annotated[
        float | None,
        Field(ge=0, allow_inf_nan=False, description="The new points (outcome changed only)."),
        Rule("invalid_points", "'points' must be a number from 0 to the criterion's maximum"),
    ] = None


class BankCommentCreate(Body):
    """A comment for a criterion's bank."""

    criterion: Annotated[
        str,
        Field(min_length=1, description="A criterion id of the assignment's rubric."),
        Rule("invalid_criterion", "'criterion' is required"),
    ]
    text: Annotated[
        str,
        Field(json_schema_extra={"pattern": _TEXT, "maxLength": MAX_REASON}),
        Rule("text_required", "'text' must be a string"),
    ]


class CommentRequest(Body):
    """The instructor's general comment on an answer (null or empty: none)."""

    comment: _COMMENT


class UnreleaseRequest(Body):
    """Withdraw a released grade, with the reason the learner is told."""

    reason: _REASON


#: A person's name: no control characters, and something besides spaces.
_NAME_CHARS = r"[^\x00-\x1f\x7f-\x9f]*"
_NAME_PATTERN = (
    f"^{_NAME_CHARS}"
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"
    f"{_NAME_CHARS}$"
)


class UserCreate(Body):
    """A new web account; its one-time link is mailed (SMTP on) or returned once."""

    name: Annotated[
        str,
        Field(max_length=200, pattern=_NAME_PATTERN),
        Rule("invalid_name", "'name' must be a non-empty string of at most 200 characters"),
    ]
    email: Annotated[
        str,
        Field(max_length=320, json_schema_extra={"pattern": EMAIL_PATTERN}),
        Rule("invalid_email", "'email' must be an email address"),
    ]
    role: Annotated[
        Literal["learner", "instructor", "admin"],
        Field(description="Instructors create learners; admins any of these."),
        Rule("invalid_role", "'role' must be learner, instructor or admin"),
    ] = "learner"


class EnrolRequest(Body):
    """Enrol learners in an assignment's course, by their accounts' email addresses."""

    emails: Annotated[
        list[Annotated[str, Field(max_length=320, pattern=r"^[^\x00]*$")]],
        Field(min_length=1, max_length=5000, description="Learners' email addresses."),
        Rule("invalid_emails", "'emails' must be a list of email addresses"),
    ]


class NotificationsRead(Body):
    """Mark notifications read: those listed, or all of the caller's."""

    ids: Annotated[
        list[Annotated[int, Field(ge=1), BeforeValidator(_whole)]] | None,
        Field(max_length=1000, description="Notification ids; omit for all."),
        Rule("invalid_ids", "'ids' must be a list of notification ids"),
    ] = None


class PlatformCreate(Body):
    """Register a course platform."""

    name: Annotated[str, Field(pattern=SLUG_PATTERN), Rule("invalid_name", "'name' must be a slug")]
    events_url: _EVENTS_URL = None
    events: _EVENTS = None  # type: ignore[assignment]


class PlatformUpdate(Body):
    """Change a platform's endpoint or events, or re-enable it after a 410."""

    events_url: _EVENTS_URL = None
    events: _EVENTS = None  # type: ignore[assignment]
    events_enabled: Annotated[
        bool,
        Field(description="true re-enables an endpoint disabled by a 410."),
        Rule("invalid_events_enabled", "'events_enabled' must be true or false"),
    ] = None  # type: ignore[assignment]


class SecretRotation(Body):
    """Issue a new signing secret; the current ones stay valid for ``grace_seconds``."""

    grace_seconds: Annotated[
        int,
        Field(ge=0, le=MAX_GRACE, description="Default: the WEBHOOK_SECRET_GRACE setting."),
        Rule("invalid_grace_seconds", f"'grace_seconds' must be an integer from 0 to {MAX_GRACE}"),
    ] = None  # type: ignore[assignment]


# A platform's text field: 1 to N characters, not all white space, no NUL characters.
_PLATFORM_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"


class WebhookSubmission(Body):
    """A platform submits a learner's answer (the body of a signed webhook)."""

    assignment: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=_PLATFORM_TEXT,
            description="An existing assignment's slug.",
        ),
        Rule("invalid_assignment", "'assignment' must be a string of 1 to 64 characters"),
    ]
    learner_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=_PLATFORM_TEXT,
            description="The platform's own id for the learner.",
        ),
        Rule("invalid_learner_id", "'learner_id' must be a string of 1 to 200 characters"),
    ]
    learner_name: Annotated[
        str,
        Field(min_length=1, max_length=200, pattern=_PLATFORM_TEXT),
        Rule("invalid_learner_name", "'learner_name' must be a string of 1 to 200 characters"),
    ] = None  # type: ignore[assignment]
    # Emptiness, NUL characters and the size limit are the answer's own rules.
    content: Annotated[
        str,
        Field(
            description="The answer (Markdown), at most MAX_SUBMISSION_BYTES.",
            json_schema_extra={"minLength": 1, "pattern": _TEXT},
        ),
        Rule("invalid_content", "'content' must be a non-empty string of Markdown"),
    ]
    metadata: Annotated[
        dict[str, Any] | None,
        Field(description="Echoed back in events (16 KiB)."),
        Rule("invalid_metadata", "'metadata' must be an object"),
    ] = None
