"""What a verified launch changes: the LTI user's grader account and role, the resource
link (its AGS claim, the assignment it opens) and, for a learner, where their scores go.

Accounts are matched by (platform, ``sub``) only, never by email: a platform cannot take
over an account it did not make. The role follows the launch (Instructor, Teaching
Assistant, Content Developer or Administrator of the course: instructor; anything else:
learner); a grader admin stays an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import APIError, not_found
from ..models import Assignment, Enrolment, Role, User, get_row
from .launch import AGS_CLAIM, Launch
from .models import LtiAccount, LtiLearner, LtiLink

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


def _account(session: Session, launch: Launch) -> User:
    sub = str(launch.claims["sub"])[:255]
    wanted = launch_role(launch.claim("roles"))
    account = session.scalar(
        select(LtiAccount).where(
            LtiAccount.platform_id == launch.platform_id, LtiAccount.sub == sub
        )
    )
    if account is None:
        user = User(name=_name(launch.claims), role=wanted)
        try:
            with session.begin_nested():  # a second tab may be launching the same user now
                session.add(user)
                session.flush()
                session.add(LtiAccount(platform_id=launch.platform_id, sub=sub, user_id=user.id))
                session.flush()
        except IntegrityError:
            return _account(session, launch)
        return user
    known = session.get(User, account.user_id)
    if known is None or not known.active:
        raise APIError(403, "account_disabled", "your grader account is deactivated")
    if known.role != Role.ADMIN and known.role != wanted:
        known.role = wanted
        # Sessions made under the old role end.
        known.session_generation = (known.session_generation or 0) + 1
    known.name = _name(launch.claims)
    return known


def _link(session: Session, launch: Launch) -> LtiLink:
    resource = launch.claim("resource_link") or {}
    context = launch.claim("context") or {}
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
    """Apply a verified launch; the caller commits and signs the user in."""
    user = _account(session, launch)
    link = _link(session, launch)
    staff = user.role in (Role.INSTRUCTOR, Role.ADMIN)
    if link.assignment_id is None and staff:
        chosen = _custom_assignment(session, launch)
        if chosen is not None:
            link.assignment_id = chosen.id
    session.flush()
    if not staff and link.assignment_id is not None:
        remember_learner(session, link, user, str(launch.claims["sub"])[:255])
    return Landing(user, link, staff)


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
