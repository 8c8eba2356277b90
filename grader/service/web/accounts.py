"""Account pages: people (staff create accounts one by one or from a CSV roster, and send
new links), setting a password from a one-time link, and "forgot password"."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from .. import mail
from ..auth import STAFF
from ..db import get_db
from ..errors import APIError, not_found
from ..models import MAX_ID, Role, User
from ..operations import accounts
from . import throttle
from .blueprint import bp, notify
from .session import current_user, sign_in, signed_in

_ROSTER_LIMIT = 1024 * 1024
_PER_PAGE = 100


def _link(token: str) -> str:
    return url_for("web.set_password", token=token, _external=False)


def _mail_on() -> bool:
    return mail.enabled(current_app.config)


def _shown(made: list[accounts.NewAccount]) -> list[dict[str, str]]:
    """The links to show once (those not mailed)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return [
        {"name": n.user.name, "email": n.user.email or "", "link": base + _link(n.token)}
        for n in made
        if n.token is not None
    ]


def render_people(
    *,
    error: str | None = None,
    links: list[dict[str, str]] | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
) -> tuple[str, int]:
    user = current_user()
    session = get_db().session
    q = request.args.get("q", "").strip()[:200]
    query = select(User).where(User.role != Role.PLATFORM)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(User.name).like(like), func.lower(User.email).like(like))
        )
    people = session.scalars(query.order_by(User.name, User.id).limit(_PER_PAGE)).all()
    html = render_template(
        "web/people.html",
        people=people,
        q=q,
        error=error,
        links=links or [],
        values=values or {},
        roles=accounts.CREATABLE.get(user.role, ()),
        mail_on=mail.enabled(current_app.config),
        per_page=_PER_PAGE,
    )
    return html, status


@bp.get("/people")
@signed_in(*STAFF)
def people() -> tuple[str, int]:
    return render_people()


@bp.post("/people")
@signed_in(*STAFF)
def create_person() -> Any:
    user = current_user()
    session = get_db().session
    values = {k: request.form.get(k, "") for k in ("name", "email", "role")}
    try:
        new = accounts.create_user(
            session,
            user,
            values["name"],
            values["email"],
            values["role"] or "learner",
            mail=_mail_on(),
        )
    except APIError as exc:
        session.rollback()
        return render_people(error=exc.sentence, status=exc.status, values=values)
    links = _shown([new])
    session.commit()
    notify(f"Account created for {new.user.name}" + ("; the link is mailed." if not links else "."))
    return render_people(links=links) if links else redirect(url_for("web.people"), code=303)


@bp.post("/people/roster")
@signed_in(*STAFF)
def import_people() -> Any:
    user = current_user()
    session = get_db().session
    upload = request.files.get("roster")
    if upload is None or not upload.filename:
        return render_people(
            error="Choose a CSV file (name,email and optionally role).", status=400
        )
    raw = upload.stream.read(_ROSTER_LIMIT + 1)
    if len(raw) > _ROSTER_LIMIT:
        return render_people(error="The roster is larger than 1 MB.", status=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return render_people(
            error="The roster is not UTF-8 text: save it as UTF-8 CSV.", status=422
        )
    try:
        result = accounts.import_roster(session, user, text, mail=_mail_on())
    except APIError as exc:
        session.rollback()
        return render_people(error=exc.sentence + " Nothing was imported.", status=exc.status)
    links = _shown(result.created)
    session.commit()
    message = f"Imported {len(result.created)} accounts"
    if result.existing:
        message += f"; {len(result.existing)} had an account already and were left as they are"
    notify(message + ".")
    return render_people(links=links) if links else redirect(url_for("web.people"), code=303)


@bp.post("/people/<int:user_id>/link")
@signed_in(*STAFF)
def send_link(user_id: int) -> Any:
    """A new welcome link for someone who lost theirs (the old one stops working)."""
    actor = current_user()
    session = get_db().session
    person = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if person is None or person.role == Role.PLATFORM:
        raise not_found("person")
    try:
        new = accounts.link_again(session, person, actor, mail=_mail_on())
    except APIError as exc:
        session.rollback()
        return render_people(error=exc.sentence, status=exc.status)
    links = _shown([new])
    session.commit()
    notify(f"A new link for {person.name}" + (" is mailed." if not links else " is below."))
    return render_people(links=links) if links else redirect(url_for("web.people"), code=303)


@bp.route("/account/password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Any:
    """Set a password from a one-time link, then sign in."""
    session = get_db().session
    link = accounts.link_for(session, token)
    if link is None:
        return render_template("web/set_password.html", expired=True, token=token), 410
    person = session.get(User, link.user_id)
    assert person is not None
    if request.method == "GET":
        return render_template(
            "web/set_password.html", person=person, token=token, purpose=link.purpose
        )
    try:
        user = accounts.redeem(
            session, token, request.form.get("password", ""), request.form.get("confirm", "")
        )
    except APIError as exc:
        session.rollback()
        if exc.status == 410:
            return render_template("web/set_password.html", expired=True, token=token), 410
        return (
            render_template(
                "web/set_password.html",
                person=person,
                token=token,
                purpose=link.purpose,
                error=exc.sentence,
                field=exc.field,
            ),
            exc.status,
        )
    session.commit()
    sign_in(user)
    notify("Your password is set: you are signed in.")
    return redirect(url_for("web.home"), code=303)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> Any:
    """Ask for a reset link. The answer is the same whether or not the address has an
    account, and requests are throttled like sign-ins (apart from them)."""
    mail_on = mail.enabled(current_app.config)
    if request.method == "GET":
        return render_template("web/forgot_password.html", mail_on=mail_on, email="")
    email = request.form.get("email", "").strip()[:320]
    if not email:
        return render_template(
            "web/forgot_password.html", mail_on=mail_on, email="", error="Enter your email address."
        ), 400
    session = get_db().session
    client = request.remote_addr or "unknown"
    wait = throttle.retry_after(session, email, client, current_app.config, throttle.RESET)
    if wait is not None:
        page = render_template(
            "web/forgot_password.html",
            mail_on=mail_on,
            email=email,
            error="Too many requests. Wait a few minutes and try again.",
        )
        return page, 429, {"Retry-After": str(wait)}
    throttle.record_failure(session, email, client, current_app.config, throttle.RESET)
    if mail_on:
        # The lookup and the link are the worker's: this request does the same work, and
        # takes the same time, whether or not the address has an account.
        mail.enqueue_reset(email)
    return render_template("web/forgot_password.html", mail_on=mail_on, email=email, sent=True)
