"""The JSON response bodies, declared once as pydantic models.

The views build plain data; the operation that declares a response model
(:func:`grader.service.contracts.operation`) validates it against the model and serialises
what was set, so an undeclared field cannot reach a client, and the OpenAPI document
publishes the same models. Fields that appear only for some callers or states default to
:data:`OMITTED`: unset, they are left out of the body rather than sent as null.

Long because: it is every response body of the API, field by field; one module, so each
model's name is its schema's name in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..operations.events import EVENT_TYPES

__all__ = [
    "OMITTED",
    "Assignment",
    "AssignmentList",
    "CalibrationApplied",
    "CalibrationInfo",
    "CalibrationPreview",
    "CalibrationState",
    "Criterion",
    "Delivery",
    "DeliveryPage",
    "Error",
    "Event",
    "Grade",
    "Health",
    "History",
    "Job",
    "JobAccepted",
    "Platform",
    "PlatformCreated",
    "PlatformList",
    "PlatformSecretCreated",
    "QueueItem",
    "QueuePage",
    "Ready",
    "Redelivered",
    "RegradePreview",
    "Released",
    "Response",
    "Submission",
    "SubmissionAccepted",
    "SubmissionList",
    "WebhookAccepted",
]

#: The default of a field that is sent only when set.
OMITTED: Any = None

Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
OptionalTime = Annotated[
    str | None, WithJsonSchema({"type": ["string", "null"], "format": "date-time"})
]
StatusName = Literal["queued", "grading", "graded", "released", "failed"]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Object = dict[str, Any]


class Response(BaseModel):
    """A response body: the fields it declares and no others."""

    model_config = ConfigDict(extra="forbid")


# -- errors and health ----------------------------------------------------------------------


class ErrorDetail(Response):
    status: int
    code: Annotated[str, Field(description="Machine-readable, e.g. not_found.")]
    message: Annotated[str, Field(description="What went wrong, for people.")]
    field: Annotated[str, Field(description="The field, header or parameter.")] = OMITTED


class Error(Response):
    """Every error: ``{"error": {"status", "code", "message", "field"?}}``."""

    error: ErrorDetail


class Health(Response):
    status: Literal["ok"]


class ReadyChecks(Response):
    database: str
    broker: str


class Ready(Response):
    status: Literal["ready", "unavailable"]
    checks: ReadyChecks


# -- grades and submissions ----------------------------------------------------------------


class Override(Response):
    points: float
    reason: Annotated[str, Field(description="Why, for the audit trail (staff only).")]
    comment: Annotated[str | None, Field(description="What the learner reads.")] = OMITTED
    by: int
    at: Time


class Criterion(Response):
    id: str
    name: str
    points: float
    max_points: float
    feedback: str
    source: Literal["grader", "override"]
    evidence: Annotated[
        list[Object], Field(description="Quotes from the answer that earned points.")
    ]
    grader_points: Annotated[float, Field(description="Staff only.")] = OMITTED
    missing: Annotated[
        list[str], Field(description="Staff only: the answer key's concepts not found.")
    ] = OMITTED
    override: Override = OMITTED


class ReviewReason(Response):
    code: Annotated[str, Field(description="Machine code, e.g. language.")]
    message: Annotated[str, Field(description="What to check, for people.")]


class Bounds(Response):
    low: float
    high: float


class Interval(Response):
    """Where the instructors' total is expected to lie, at the stated level."""

    low: float
    high: float
    level: float
    criteria: Annotated[
        dict[str, Bounds],
        Field(
            description="Per criterion id, at the same level, once the assignment's calibration "
            "rests on enough reviewed grades (15); an overridden criterion's is its points."
        ),
    ] = OMITTED
    source: Annotated[
        str,
        Field(
            description="What it rests on: calibration (reviewed grades), few labels, or "
            "held-out answers (the rubric's errors on answers the grader was not tuned on)."
        ),
    ]


class Grade(Response):
    total: float
    max_total: float
    confidence: Annotated[float, Field(ge=0, le=1)]
    flags: list[str]
    rubric_version: str
    graded_at: Time
    criteria: list[Criterion]
    source: Literal["grader", "override"]
    warnings: Annotated[list[str], Field(description="Staff only.")] = OMITTED
    review_reasons: Annotated[
        list[ReviewReason],
        Field(
            description="Staff only: why the grade needs review (any reason keeps the "
            "confidence below the auto-release level)."
        ),
    ] = OMITTED
    interval: Interval | None
    calibration_version: Annotated[
        str, Field(description="The instructor calibration the grade was computed with.")
    ] = OMITTED


class Learner(Response):
    id: Annotated[int | None, Field(description="Null under blind review until release.")]
    name: str


class Submission(Response):
    id: int
    assignment: str
    learner: Learner
    version: int
    current: bool
    status: StatusName
    created_at: Time
    updated_at: Time
    released_at: OptionalTime
    grade: Annotated[
        Grade | None, Field(description="Staff always; learners and platforms once released.")
    ]
    late: Annotated[bool, Field(description="Sent after the due time.")] = OMITTED
    superseded_by: int = OMITTED
    failure_reason: str | None = OMITTED
    metadata: Object = OMITTED
    reviewed: Annotated[bool, Field(description="Staff only.")] = OMITTED
    claimed_by: Annotated[int | None, Field(description="Staff only.")] = OMITTED
    claim_expires_at: OptionalTime = OMITTED
    release_pending: Annotated[
        bool,
        Field(
            description="Staff only, when true: a regrade after the release made a newer grade "
            "(``grade``) that waits for release; the learner still has the released one."
        ),
    ] = OMITTED
    released_total: Annotated[
        float | None, Field(description="Staff only, with release_pending: the learner's total.")
    ] = OMITTED
    possible_copy: Annotated[
        list[CopyHint],
        Field(
            description="Staff only, when any: answers (or the sample answers) this one shares "
            "long passages with. A hint, never a penalty."
        ),
    ] = OMITTED
    content: Annotated[str, Field(description="Staff only, with ?include=content.")] = OMITTED
    comment: Annotated[
        str | None,
        Field(description="The instructor's general comment (learners: once released)."),
    ] = OMITTED


class CopyHint(Response):
    submission: Annotated[
        int | None, Field(description="The other answer; null: the rubric's sample answers.")
    ]
    learner: str | None
    shared_words: int
    longest: Annotated[int, Field(description="Words in the longest shared passage.")]
    share: Annotated[float, Field(description="Shared words over the shorter text's words.")]
    passages: Annotated[
        list[str], Field(description="The longest shared passages, as this answer words them.")
    ] = OMITTED


class CopyPair(Response):
    submission: int
    learner: str
    other: Annotated[int | None, Field(description="Null: the rubric's sample answers.")]
    other_learner: str | None
    shared_words: int
    longest: int
    share: float


class CopyPairList(Response):
    page: int
    per_page: int
    items: list[CopyPair]


class SubmissionList(Response):
    items: list[Submission]


class SubmissionAccepted(Response):
    id: int
    status: StatusName
    version: int
    assignment: str
    url: str


class HistoryActor(Response):
    id: Annotated[int | None, Field(description="Null: the learner, under blind review.")]
    name: str
    role: str


class HistoryEvent(Response):
    id: int
    action: str
    at: Time
    actor: HistoryActor | None
    before: Object | None
    after: Object | None
    reason: str | None


class History(Response):
    submission: int
    events: list[HistoryEvent]


# -- assignments, review and jobs -----------------------------------------------------------


class Assignment(Response):
    slug: str
    title: str
    rubric_file: str
    rubric: Annotated[Object, Field(description="Criteria and points, never the key.")]
    rubric_version: str
    task: Annotated[
        str | None,
        Field(description="The task learners answer (Markdown: scenario, snapshot, steps)."),
    ]
    opens_at: Annotated[OptionalTime, Field(description="Answers are taken from then on.")]
    due_at: Annotated[OptionalTime, Field(description="Answers after it are late.")]
    late_policy: Literal["accept", "refuse"]
    counted_grade: Annotated[
        Literal["latest", "best"],
        Field(description="Which released version the gradebook counts: latest or best."),
    ]
    restricted: Annotated[
        bool, Field(description="Only the learners enrolled in its course see and answer it.")
    ]
    blind_review: Annotated[
        bool, Field(description="Reviewers see no learner names or ids until release.")
    ]
    release_after: Annotated[
        OptionalTime, Field(description="An embargo: no grade is released before it.")
    ]
    created_at: Time
    updated_at: Time


class AssignmentList(Response):
    items: list[Assignment]


class QueueInterval(Response):
    low: float
    high: float


class QueueItem(Response):
    id: int
    assignment: str
    learner: Learner
    version: int
    status: StatusName
    total: float | None
    max_total: float | None
    confidence: float | None
    flags: list[str]
    review_reasons: Annotated[
        list[str], Field(description="Codes of the grade's review reasons.")
    ] = OMITTED
    interval: Annotated[
        QueueInterval | None, Field(description="Around the total as it stands.")
    ] = OMITTED
    reviewed: bool
    reviewer: Annotated[
        int | None, Field(description="Whose share of the review it is (null: nobody's).")
    ]
    open_requests: Annotated[int, Field(description="Regrade requests not answered yet.")]
    claimed_by: int | None
    claim_expires_at: OptionalTime
    created_at: Time


class RegradeRequest(Response):
    id: int
    submission_id: int
    criterion: str
    message: str
    status: Literal["open", "answered"]
    outcome: Annotated[Literal["kept", "changed"] | None, Field(description="null while open.")]
    reply: str | None
    created_at: Time
    answered_at: OptionalTime


class RegradeRequestList(Response):
    items: list[RegradeRequest]
    window_closes_at: Annotated[
        OptionalTime, Field(description="Until when the learner may ask (null: not released).")
    ]


class Notification(Response):
    id: int
    kind: Literal["grade_released", "regrade_answered", "regrade_requested", "grade_unreleased"]
    subject: str
    body: str
    link: Annotated[str | None, Field(description="The page it is about, on this service.")]
    submission_id: int | None
    read: bool
    created_at: Time


class NotificationList(Response):
    items: list[Notification]
    unread: int


class NotificationsMarked(Response):
    marked: int
    unread: int


class BankComment(Response):
    id: int
    criterion: str
    text: str
    uses: Annotated[int, Field(description="How often it was saved or used.")]


class CommentBank(Response):
    items: Annotated[list[BankComment], Field(description="By criterion, most used first.")]


class MissedConcept(Response):
    concept: str
    answers: int


class PointsBin(Response):
    low: float
    high: Annotated[float, Field(description="The last bin includes its upper edge.")]
    grader: Annotated[int, Field(description="Answers the grader gave points in the bin.")]
    final: Annotated[int, Field(description="Answers whose final points are in the bin.")]


class AnalyticsCriterion(Response):
    id: str
    name: str
    max_points: float
    grader_mean: Annotated[float | None, Field(description="The grader's own points, mean.")]
    final_mean: Annotated[float | None, Field(description="With overrides, mean.")]
    most_missed: list[MissedConcept]
    distribution: list[PointsBin]


class InstructorOverrides(Response):
    instructor: str
    instructor_id: int
    criterion: str
    criterion_name: str
    overrides: int
    mean_change: Annotated[float, Field(description="Final minus grader points, mean.")]
    mean_abs_change: float


class ConfidenceBand(Response):
    low: Annotated[float, Field(description="The band's lowest confidence.")]
    high: float
    answers: int
    within_15: Annotated[
        float | None, Field(description="Share within 15 points (of 100) of the instructors'.")
    ]


class Analytics(Response):
    answers: int
    criteria: list[AnalyticsCriterion]
    instructors: list[InstructorOverrides]
    confidence: Annotated[
        list[ConfidenceBand], Field(description="On the reviewed answers (calibration labels).")
    ]


class CourseLearner(Response):
    id: int
    name: str
    email: str | None


class CourseLearners(Response):
    restricted: bool
    total: int
    items: Annotated[list[CourseLearner], Field(description="The first 1000, by name.")]


class Enrolled(Response):
    added: list[CourseLearner]
    already: Annotated[list[CourseLearner], Field(description="Enrolled before.")]


class UserCreated(Response):
    id: int
    name: str
    email: str
    role: Literal["learner", "instructor", "admin"]
    mailed: Annotated[bool, Field(description="The one-time link was mailed to the person.")]
    link: Annotated[
        str,
        Field(
            description="The one-time link to set a password, when it was not mailed; "
            "shown only now."
        ),
    ] = OMITTED


class RosterImported(Response):
    created: list[UserCreated]
    existing: Annotated[list[str], Field(description="Addresses that had an account already.")]


class Page(Response):
    page: int
    per_page: int
    total: int
    pages: int


class QueuePage(Page):
    items: list[QueueItem]
    total_capped: Annotated[
        bool,
        Field(
            description="True when more than 10,000 submissions match: total (and pages) "
            "then count the first 10,000; page on with next_cursor."
        ),
    ]
    sort: str
    next_cursor: Annotated[
        str | None,
        Field(description="Pass as cursor for the next page; null on the last."),
    ]


class Released(Response):
    released: list[int]
    count: int
    claimed: Annotated[list[int], Field(description="held back: another instructor's live claim")]


class AnswerGroup(Response):
    representative: Annotated[int, Field(description="The member nearest the group's mean.")]
    size: int
    members: list[int]
    learners: list[str | None]
    low: Annotated[float, Field(description="The lowest total inside.")]
    high: Annotated[float, Field(description="The highest total inside.")]
    missed: Annotated[list[str], Field(description="Concepts most members miss.")]


class AnswerGroupList(Response):
    answers: int
    groups: list[AnswerGroup]


class GroupDecided(Response):
    decided: list[int]
    count: int
    claimed: Annotated[list[int], Field(description="held back: another instructor's live claim")]


class Ungrouped(Response):
    submission: int
    grouped: bool


class RubricText(Response):
    version: Annotated[str, Field(description="The assignment's current rubric version.")]
    rubric_file: str
    from_file: Annotated[
        bool, Field(description="Whether the version is the rubric file's as it is now.")
    ]
    source: Annotated[str, Field(description="The rubric as TOML, answer key included.")]


class Share(Response):
    reviewer: int
    name: str
    answers: int
    reviewed: int
    left: int


class Shares(Response):
    shares: list[Share]
    dealt: Annotated[
        dict[str, int], Field(description="After a split: answers dealt now, by user id.")
    ] = OMITTED


class PointsChange(Response):
    before: float | None
    after: float


class Change(Response):
    id: int
    learner: str
    status: StatusName
    before: float | None
    after: float
    delta: float | None
    criteria: dict[str, PointsChange]


class RegradePreview(Response):
    rubric_version: str
    current_version: str
    submissions: int
    changes: list[Change]
    unchanged: int
    criteria: list[list[str]] = OMITTED


class RegradeSent(Response):
    queued: int
    submissions: int


class JobProgress(Response):
    done: Annotated[int, Field(description="Answers graded so far (a regrade: with its version).")]
    total: int


class Job(Response):
    id: int
    kind: Literal["regrade_preview", "regrade", "recalibrate"]
    assignment: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    rubric_version: str
    created_at: Time
    finished_at: OptionalTime
    result: Annotated[
        RegradePreview | RegradeSent | None,
        Field(description="When done: the dry run's changes, or how many were sent."),
    ]
    error: str | None
    progress: Annotated[
        JobProgress,
        Field(description="How far it got (a dry run while it runs; a regrade once sent)."),
    ] = OMITTED


class JobAccepted(Response):
    job: Job


class CalibrationCriterion(Response):
    id: str
    applied: Annotated[bool, Field(description="False: the points stay the grader's.")]
    slope: float
    intercept: float
    mae_before: Annotated[float | None, Field(description="Out of fold, on the labels.")]
    mae_after: float | None
    reason: Annotated[str, Field(description="Why the map is not applied.")]


class CalibrationInfo(Response):
    version: str
    rubric_version: str
    labels: Annotated[int, Field(description="Reviewed grades it was fitted on.")]
    level: float
    applied: bool
    source: str
    quantile: Annotated[float, Field(description="Half-width of a sure grade's interval.")]
    mae_total_before: float | None
    mae_total_after: float | None
    criteria: list[CalibrationCriterion]
    created_at: Time = OMITTED
    created_by: int | None = OMITTED


class WouldChange(Response):
    submissions: int
    mean_abs_change: float
    max_abs_change: float
    released_waiting: Annotated[
        int,
        Field(
            description="Released grades that would change: their learners keep the released "
            "grade until an instructor releases the new one."
        ),
    ]


class CalibrationPreview(Response):
    calibration: CalibrationInfo
    would_change: WouldChange


class CalibrationApplied(Response):
    calibration: CalibrationInfo
    job: Job


class RiskRow(Response):
    level: Annotated[float, Field(description="Release grades at or above this confidence.")]
    would_release: Annotated[int, Field(description="Graded now, without review reasons.")]
    reviewed: Annotated[
        int, Field(description="Reviewed answers at or above the level, of the 1,000 latest.")
    ]
    mean_error: Annotated[float | None, Field(description="Their mean error, of 100.")]
    share_wrong: Annotated[float | None, Field(description="Their share off by over 15.")]


class CalibrationState(Response):
    current: Annotated[CalibrationInfo | None, Field(description="None before the first.")]
    labels: Annotated[int, Field(description="Reviewed grades available as labels now.")]
    release_risk: Annotated[
        list[RiskRow],
        Field(description="What a release by confidence would release, and how wrong."),
    ]


# -- platforms and webhooks -----------------------------------------------------------------


class Secret(Response):
    id: int
    fingerprint: Annotated[str, Field(description="sha256 prefix; the secret is never shown.")]
    created_at: Time
    expires_at: OptionalTime
    active: bool


class Platform(Response):
    name: str
    events_url: str | None
    events: list[EventType]
    events_enabled: bool
    disabled_reason: str | None
    created_at: Time
    user_id: Annotated[
        int | None, Field(description="The platform-role user its API token belongs to.")
    ]
    secrets: list[Secret]


class PlatformList(Response):
    items: list[Platform]


class PlatformCreated(Platform):
    secret: Annotated[
        str, Field(pattern="^whsec_", description="The signing secret, shown only now.")
    ]
    token: Annotated[str, Field(description="A bearer token for the platform role.")]


class PlatformSecretCreated(Platform):
    secret: Annotated[str, Field(pattern="^whsec_")]
    secret_id: int


class Attempt(Response):
    number: int
    at: Time
    url: str
    status_code: int | None
    latency_ms: float | None
    error: str | None


class Delivery(Response):
    id: int
    webhook_id: Annotated[str, Field(description="Stays the same across retries.")]
    event_type: EventType
    submission_id: int | None
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: OptionalTime
    last_status_code: int | None
    last_error: str | None
    created_at: Time
    completed_at: OptionalTime
    attempt_log: list[Attempt]
    payload: Annotated[Object, Field(description="The event body (single delivery).")] = OMITTED


class DeliveryPage(Page):
    items: list[Delivery]


class Redelivered(Response):
    count: int
    ids: list[int]


class WebhookAccepted(Response):
    id: int
    status: StatusName
    version: int
    assignment: str
    learner_id: str
    webhook_id: str
    url: str


class EventCriterion(Response):
    id: str
    name: str
    points: float
    max_points: float
    feedback: str


class EventGrade(Response):
    total: float
    max_total: float
    rubric_version: str
    released_at: OptionalTime
    criteria: list[EventCriterion]


class EventRegradeRequest(Response):
    id: int
    criterion: str
    message: str
    outcome: Annotated[str | None, Field(description="kept or changed; null while open.")]
    reply: str | None


class EventData(Response):
    submission_id: int
    assignment: str
    learner_id: str | None
    version: int
    status: StatusName
    metadata: Object | None
    reason: Annotated[str, Field(description="submission.failed only.")] = OMITTED
    grade: EventGrade = OMITTED
    regrade_request: Annotated[
        EventRegradeRequest, Field(description="regrade.requested and regrade.answered only.")
    ] = OMITTED


class Event(Response):
    """What grader sends to a platform's events_url."""

    type: EventType
    timestamp: Time
    data: EventData
