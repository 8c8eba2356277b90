"""What a verified launch changes: the LTI user's grader account and role, the resource
link (its AGS claim, the assignment it opens) and, for a learner, where their scores go.

Accounts are matched by (platform, ``sub``) only, never by email: a platform cannot take
over an account it did not make. grader's instructor role is not scoped to a course (an
instructor sees every assignment), so an LMS Instructor (or Teaching Assistant, Content
Developer, Administrator) launch makes a grader instructor only when an admin approved the
account, or trusts that platform's instructors (``trust_instructors``); until then the
launch is refused and listed for the admin. A launch never demotes anyone: grader's admins
manage roles once granted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import Assignment, Enrolment, Role, User, get_row, utcnow
from .launch import AGS_CLAIM, Launch
from .models import LtiAccount, LtiLearner, LtiLink, LtiPlatform

_STAFF_ROLES = (
    "membership#Instructor",
    "membership/Instructor#",
    "membership#ContentDeveloper",
    "membership#Administrator",
    "membership/Administrator#",
)
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@dataclass(frozen=True)
class Landing:
    user: User
    link: LtiLink
    staff: bool
    # An LMS Instructor whose grader account an admin has not approved as one yet.
    awaiting_approval: bool = False


def launch_role(roles: Any) -> Role:
    """The grader role for the launch's LTI role URIs (least privilege when unsure)."""
    if isinstance(roles, list) and any(
        isinstance(r, str) and any(mark in r for mark in _STAFF_ROLES) for r in roles
    ):
        return Role.INSTRUCTOR
    return Role.LEARNER


def _name(claims: dict[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    name = (name or "").strip() or f"LTI user {str(claims['sub'])[:12]}"
    return "".join(c for c in name if c.isprintable())[:200]


def _account(session: Session, launch: Launch) -> tuple[User, bool]:
    """The launch's grader account, and whether it asks for an instructor role grader has
    not granted (recorded on the account for the admin to decide)."""
    sub = str(launch.claims["sub"])[:255]
    wanted = launch_role(launch.claim("roles"))
    platform = session.get(LtiPlatform, launch.platform_id)
    trusted = platform is not None and platform.trust_instructors
    account = session.scalar(
        select(LtiAccount).where(
            LtiAccount.platform_id == launch.platform_id, LtiAccount.sub == sub
        )
    )
    if account is None:
        user = User(
            name=_name(launch.claims),
            role=wanted if trusted or wanted == Role.LEARNER else Role.LEARNER,
        )
        try:
            with session.begin_nested():  # a second tab may be launching the same user now
                session.add(user)
                session.flush()
                account = LtiAccount(platform_id=launch.platform_id, sub=sub, user_id=user.id)
                session.add(account)
                session.flush()
        except IntegrityError:
            return _account(session, launch)
    else:
        found = session.get(User, account.user_id)
        if found is None or not found.active:
            raise APIError(403, "account_disabled", "your grader account is deactivated")
        user = found
        user.name = _name(launch.claims)
    if wanted == Role.INSTRUCTOR and user.role == Role.LEARNER:
        if trusted:
            user.role = Role.INSTRUCTOR
        else:
            account.staff_requested_at = utcnow()
            context = launch.claim("context")
            context = context if isinstance(context, dict) else {}
            account.context_id = _short(context.get("id"))
            account.context_title = _short(context.get("title"))
            email = launch.claims.get("email")
            account.requested_email = email[:320] if isinstance(email, str) else None
            return user, True
    if user.role != Role.LEARNER:
        account.staff_requested_at = None  # granted (by trust or an admin): nothing to decide
    return user, False


def _link(session: Session, launch: Launch) -> LtiLink:
    resource = launch.claim("resource_link") or {}
    context = launch.claim("context")
    key = (launch.platform_id, str(launch.claim("deployment_id")), str(resource["id"])[:255])
    link = session.scalar(
        select(LtiLink).where(
            LtiLink.platform_id == key[0],
            LtiLink.deployment_id == key[1],
            LtiLink.resource_link_id == key[2],
        )
    )
    if link is None:
        link = LtiLink(platform_id=key[0], deployment_id=key[1], resource_link_id=key[2])
        try:
            with session.begin_nested():
                session.add(link)
                session.flush()
        except IntegrityError:
            return _link(session, launch)
    link.title = _short(resource.get("title"))
    link.context_id = _short(context.get("id")) if isinstance(context, dict) else None
    link.context_title = _short(context.get("title")) if isinstance(context, dict) else None
    ags = launch.claims.get(AGS_CLAIM)
    if isinstance(ags, dict):
        kept = {k: ags[k] for k in ("scope", "lineitems", "lineitem") if k in ags}
        if kept != link.ags:
            link.ags = kept
            if isinstance(ags.get("lineitem"), str):
                link.lineitem_url = ags["lineitem"][:2048]
    return link


def _short(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) and value else None


def _custom_assignment(session: Session, launch: Launch) -> Assignment | None:
    custom = launch.claim("custom") or {}
    slug = custom.get("assignment") if isinstance(custom, dict) else None
    if not isinstance(slug, str):
        return None
    return session.scalar(select(Assignment).where(Assignment.slug == slug))


def land(session: Session, launch: Launch) -> Landing:
    """Apply a verified launch; the caller commits and signs the user in (unless the
    account awaits an admin's approval as an instructor)."""
    user, awaiting = _account(session, launch)
    link = _link(session, launch)
    if awaiting:
        session.flush()
        return Landing(user, link, False, awaiting_approval=True)
    staff = user.role in (Role.INSTRUCTOR, Role.ADMIN)
    if link.assignment_id is None and staff:
        chosen = _custom_assignment(session, launch)
        if chosen is not None:
            link.assignment_id = chosen.id
    session.flush()
    if not staff and link.assignment_id is not None:
        remember_learner(session, link, user, str(launch.claims["sub"])[:255])
    return Landing(user, link, staff)


def instructor_requests(session: Session, limit: int = 200) -> list[tuple[LtiAccount, User]]:
    """LMS Instructors waiting for an admin to approve them as grader instructors."""
    rows = session.execute(
        select(LtiAccount, User)
        .join(User, User.id == LtiAccount.user_id)
        .where(LtiAccount.staff_requested_at.is_not(None))
        .order_by(LtiAccount.staff_requested_at)
        .limit(limit)
    ).all()
    return [(a, u) for a, u in rows]


def decide_instructor(session: Session, account_id: int, approve: bool) -> User:
    """Approve (the account becomes a grader instructor) or dismiss a request."""
    account = get_row(session, LtiAccount, account_id)
    if account is None or account.staff_requested_at is None:
        raise not_found("instructor request")
    user = session.get(User, account.user_id)
    assert user is not None
    account.staff_requested_at = None
    if approve and user.role == Role.LEARNER:
        user.role = Role.INSTRUCTOR
        user.session_generation = (user.session_generation or 0) + 1
    return user


def remember_learner(session: Session, link: LtiLink, user: User, sub: str) -> None:
    """This learner's scores for the link's assignment go to the link's line item; on a
    restricted assignment the launch enrols them (the LMS keeps the roster)."""
    assert link.assignment_id is not None
    row = session.scalar(
        select(LtiLearner).where(LtiLearner.link_id == link.id, LtiLearner.user_id == user.id)
    )
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    LtiLearner(
                        link_id=link.id, user_id=user.id, sub=sub, assignment_id=link.assignment_id
                    )
                )
                session.flush()
        except IntegrityError:
            pass
    elif row.assignment_id != link.assignment_id:
        row.assignment_id = link.assignment_id
    a = session.get(Assignment, link.assignment_id)
    if a is not None and a.restricted:
        enrolled = session.scalar(
            select(Enrolment.id).where(
                Enrolment.assignment_id == a.id, Enrolment.user_id == user.id
            )
        )
        if enrolled is None:
            session.add(Enrolment(assignment_id=a.id, user_id=user.id))


def get_link(session: Session, link_id: int) -> LtiLink:
    link = get_row(session, LtiLink, link_id)
    if link is None:
        raise not_found("LTI link")
    return link


def attach(session: Session, link: LtiLink, assignment: Assignment) -> None:
    """Point a link at an assignment (an instructor's choice at the first launch)."""
    if link.assignment_id is not None and link.assignment_id != assignment.id:
        raise APIError(
            409, "link_attached", "this link already opens another assignment", field="assignment"
        )
    link.assignment_id = assignment.id
    session.flush()
