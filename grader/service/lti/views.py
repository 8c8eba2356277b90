"""The LTI endpoints an LMS calls: the login initiation, the launch, the tool's JWKS and
its configuration documents. The launch is a cross-site form post, so these routes sit
outside the pages' blueprint (no CSRF token); the state cookie and the one-use nonce
protect them instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as web_session
from itsdangerous import URLSafeTimedSerializer

from ..db import get_db
from ..errors import APIError
from ..webhooks.urls import Allowlist
from .keys import jwks
from .launch import STATE_SECONDS, keep_nonce, login, verify
from .links import land

bp = Blueprint("lti", __name__, url_prefix="/lti")

STATE_COOKIE = "lti_state"
TOOL_TITLE = "grader"
TOOL_DESCRIPTION = "Auto-grading of written answers, reviewed and released by instructors."
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)


def _public(path: str) -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


def _signer() -> URLSafeTimedSerializer:
    """Signs the login's state cookie with the app's secret key."""
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt="grader.lti.state")


def _allowlist() -> Allowlist:
    return Allowlist.parse(str(current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or ""))


def _refusal(exc: APIError) -> tuple[str, int]:
    get_db().session.rollback()
    html = render_template(
        "web/lti_error.html",
        status=exc.status,
        code=exc.code,
        message=str(exc),
        field=exc.field,
    )
    return html, exc.status


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; frame-ancestors *; base-uri 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jwks")
def public_keys() -> Response:
    """grader's public keys (JWKS): platforms verify its client assertions with them."""
    with get_db().session_scope() as session:
        document = jwks(session, float(current_app.config["LTI_KEY_GRACE"]))
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/login", methods=["GET", "POST"])
def start() -> Any:
    """OIDC third-party login initiation: on to the platform's authorization URL."""
    params = {k: v for k, v in (request.values.items()) if isinstance(v, str)}
    session = get_db().session
    try:
        started = login(
            session,
            params,
            redirect_uri=_public("/lti/launch"),
            allowlist=_allowlist(),
            signer=_signer(),
        )
        session.rollback()  # a login stores nothing
    except APIError as exc:
        return _refusal(exc)
    response = redirect(started.redirect_url, code=302)
    response.set_cookie(
        STATE_COOKIE,
        started.cookie,
        max_age=STATE_SECONDS,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,  # kept (for the LMS's iframe alone) where third-party cookies are not
        path="/lti/",
    )
    return response


@bp.post("/launch")
def launch() -> Any:
    """The platform's form post with the id_token: check it, sign the user in, open the
    assignment (or, for an instructor at a link's first launch, the page to pick one)."""
    from ..web.session import sign_in

    session = get_db().session
    leeway = float(current_app.config["LTI_LEEWAY"])
    try:
        verified = verify(
            session,
            request.form.get("id_token"),
            request.form.get("state"),
            request.cookies.get(STATE_COOKIE),
            leeway=leeway,
            allowlist=_allowlist(),
            timeout=float(current_app.config["WEBHOOK_TIMEOUT"]),
            signer=_signer(),
        )
    except APIError as exc:
        return _refusal(exc)
    try:
        landing = land(session, verified)
        link = landing.link
        if landing.awaiting_approval:
            session.commit()  # the request, for the admin's LTI page (and the nonce)
            raise APIError(
                403,
                "instructor_not_approved",
                "the LMS says you teach this course, but grader's instructors see every "
                "course's answers, so a grader administrator must approve you first; they "
                "have been asked (launch again once they have)",
            )
        if link.assignment_id is None and not landing.staff:
            raise APIError(
                409,
                "link_not_set_up",
                "your instructor has not chosen this activity's assignment yet; "
                "try again after they open it once",
            )
        session.commit()
    except APIError as exc:
        session.rollback()
        keep_nonce(session, verified, leeway)  # this id_token cannot be used again
        return _refusal(exc)
    earlier = web_session.get("lti_links") if web_session.get("uid") == landing.user.id else None
    sign_in(landing.user)
    web_session["lti_frame"] = " ".join(_frame_origins(verified.claims))
    # The links this session launched (several tabs may each have launched one).
    kept = [i for i in earlier if isinstance(i, int)] if isinstance(earlier, list) else []
    web_session["lti_links"] = ([i for i in kept if i != link.id] + [link.id])[-10:]
    if link.assignment_id is None:
        target = url_for("web.lti_setup", link_id=link.id)
    else:
        from ..models import Assignment

        a = session.get(Assignment, link.assignment_id)
        assert a is not None
        if landing.staff:
            target = url_for("web.lti_open", link_id=link.id)
        else:
            target = url_for("web.assignment", slug=a.slug)
    response = redirect(target, code=303)
    response.delete_cookie(
        STATE_COOKIE, path="/lti/", secure=True, samesite="None", partitioned=True
    )
    return response


def _frame_origins(claims: dict[str, Any]) -> list[str]:
    """Where the LMS shows the tool: the origins of its return URL and platform URL, and
    the issuer's (https; http only for hosts in WEBHOOK_ALLOWED_HOSTS)."""
    from .launch import CLAIM

    presentation = claims.get(CLAIM + "launch_presentation")
    platform = claims.get(CLAIM + "tool_platform")
    candidates = [
        presentation.get("return_url") if isinstance(presentation, dict) else None,
        platform.get("url") if isinstance(platform, dict) else None,
        claims.get("iss"),
    ]
    allowlist = _allowlist()
    origins: list[str] = []
    for url in candidates:
        if not isinstance(url, str) or any(c in url for c in " ;,'\""):
            continue
        parts = urlsplit(url)
        host = parts.hostname
        if not host or parts.scheme not in ("https", "http"):
            continue
        if parts.scheme == "http" and not _allowlisted(host, allowlist):
            continue  # http only where the URL rules allow it (development, tests)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def _allowlisted(host: str, allowlist: Allowlist) -> bool:
    import ipaddress

    if allowlist.allows_name(host):
        return True
    try:
        return allowlist.allows_address(ipaddress.ip_address(host))
    except ValueError:
        return False


@bp.get("/config.json")
def tool_configuration() -> Response:
    """The tool's LTI 1.3 configuration (IMS tool configuration, as dynamic registration
    describes it), for an LMS admin to copy from."""
    return jsonify(
        {
            "application_type": "web",
            "client_name": TOOL_TITLE,
            "grant_types": ["client_credentials", "implicit"],
            "response_types": ["id_token"],
            "initiate_login_uri": _public("/lti/login"),
            "redirect_uris": [_public("/lti/launch")],
            "jwks_uri": _public("/lti/jwks"),
            "token_endpoint_auth_method": "private_key_jwt",
            "scope": " ".join(SCOPES),
            "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                "domain": urlsplit(_public("/")).netloc,
                "description": TOOL_DESCRIPTION,
                "target_link_uri": _public("/lti/launch"),
                "claims": ["iss", "sub", "name", "given_name", "family_name"],
                "messages": [{"type": "LtiResourceLinkRequest"}],
            },
        }
    )


@bp.get("/canvas.json")
def canvas_configuration() -> Response:
    """The JSON Canvas takes under Developer Keys > LTI Key > Paste JSON."""
    return jsonify(
        {
            "title": TOOL_TITLE,
            "description": TOOL_DESCRIPTION,
            "oidc_initiation_url": _public("/lti/login"),
            "target_link_uri": _public("/lti/launch"),
            "public_jwk_url": _public("/lti/jwks"),
            "scopes": list(SCOPES),
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "privacy_level": "name_only",
                    "settings": {
                        "placements": [
                            {
                                "placement": "assignment_selection",
                                "message_type": "LtiResourceLinkRequest",
                                "target_link_uri": _public("/lti/launch"),
                            },
                            {
                                "placement": "link_selection",
                                "message_type": "LtiResourceLinkRequest",
                                "target_link_uri": _public("/lti/launch"),
                            },
                        ]
                    },
                }
            ],
            "custom_fields": {},
        }
    )
