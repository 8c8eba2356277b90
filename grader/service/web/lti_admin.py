"""The admin's LTI page: grader's URLs to give the LMS, the registered platforms, adding
one (or deployments to one), "test connection", and rotating grader's key. Each form
translates to the same operations as `grader lti ...` and the admin API."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from ..db import get_db
from ..errors import APIError
from ..lti.delivery import test_connection
from ..lti.keys import published, rotate
from ..lti.links import decide_instructor, instructor_requests
from ..lti.models import LtiPlatform
from ..lti.registry import add_platform, get_platform
from ..models import Role
from ..webhooks.delivery import DeliverySettings
from ..webhooks.urls import Allowlist
from .blueprint import bp, notify
from .session import signed_in

FIELDS = ("name", "issuer", "client_id", "deployment_ids", "auth_url", "token_url", "jwks_url")


def _render(
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    tested: dict[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_db().session
    base = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    html = render_template(
        "web/lti_admin.html",
        platforms=session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)).all(),
        keys=published(session, float(current_app.config["LTI_KEY_GRACE"])),
        requests=instructor_requests(session),
        platform_names={p.id: p.name for p in session.scalars(select(LtiPlatform))},
        tool={
            "login": f"{base}/lti/login",
            "launch": f"{base}/lti/launch",
            "jwks": f"{base}/lti/jwks",
            "config": f"{base}/lti/config.json",
            "canvas": f"{base}/lti/canvas.json",
        },
        error=error,
        values=values or {},
        tested=tested,
    )
    return html, status


@bp.get("/admin/lti")
@signed_in(Role.ADMIN)
def lti_admin() -> tuple[str, int]:
    return _render()


@bp.post("/admin/lti/platforms")
@signed_in(Role.ADMIN)
def lti_add_platform() -> Any:
    session = get_db().session
    values = {k: request.form.get(k, "") for k in FIELDS}
    try:
        platform, created = add_platform(
            session,
            issuer=values["issuer"],
            client_id=values["client_id"],
            deployment_ids=[d for d in values["deployment_ids"].replace(",", " ").split() if d],
            auth_url=values["auth_url"],
            token_url=values["token_url"],
            jwks_url=values["jwks_url"],
            name=values["name"] or None,
            trust_instructors=request.form.get("trust_instructors") == "1",
            allowlist=Allowlist.parse(str(current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or "")),
        )
        session.commit()
    except APIError as exc:
        session.rollback()
        return _render(error=exc.sentence, values=values, status=exc.status)
    notify(f"{platform.name} is {'registered' if created else 'updated'}.")
    return redirect(url_for("web.lti_admin"), code=303)


@bp.post("/admin/lti/platforms/<int:platform_id>/test")
@signed_in(Role.ADMIN)
def lti_test_platform(platform_id: int) -> tuple[str, int]:
    session = get_db().session
    platform = get_platform(session, platform_id)
    outcome = test_connection(session, platform, DeliverySettings.from_config(current_app.config))
    session.commit()
    return _render(tested=outcome | {"platform": platform.name})


@bp.post("/admin/lti/keys")
@signed_in(Role.ADMIN)
def lti_rotate_key() -> Any:
    session = get_db().session
    key = rotate(session)
    session.commit()
    notify(f"grader signs with a new key ({key.kid[:12]}…); the old one stays published a while.")
    return redirect(url_for("web.lti_admin"), code=303)


@bp.post("/admin/lti/instructor-requests/<int:account_id>")
@signed_in(Role.ADMIN)
def lti_decide_instructor(account_id: int) -> Any:
    session = get_db().session
    approve = request.form.get("decision") == "approve"
    user = decide_instructor(session, account_id, approve=approve)
    session.commit()
    notify(
        f"{user.name} is a grader instructor now."
        if approve
        else f"{user.name}'s request is dismissed."
    )
    return redirect(url_for("web.lti_admin"), code=303)
