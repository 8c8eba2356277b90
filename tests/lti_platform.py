"""A simulated LTI 1.3 platform, served on loopback for the LTI tests.

It has its own RSA keys and JWKS; an authorization endpoint that checks the login's
parameters and answers with a signed ``id_token`` in an auto-submitting form post; a token
endpoint that checks grader's client assertion against grader's JWKS; and line-item and
score endpoints that validate payloads the way Canvas and Moodle do (media types, required
fields, RFC 3339 timestamps, score maximum, a 409 for a timestamp not later than the last
one for that line item and user). ``fail_scores`` makes the score endpoint answer with
given statuses first (an outage); every request is recorded.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, request
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
ROLES = {
    "learner": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    "instructor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Person:
    sub: str
    name: str
    role: str


@dataclass
class Platform:
    client_id: str = "grader-client"
    deployment_id: str = "dep-1"
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = "platform-key-1"
    people: dict[str, Person] = field(default_factory=dict)
    # The tool's JWKS, as an admin pastes it (or the platform fetches it).
    tool_jwks: dict[str, Any] | None = None
    fail_scores: list[int] = field(default_factory=list)
    fail_tokens: list[int] = field(default_factory=list)
    retry_after: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    line_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[float, str]] = field(default_factory=dict)
    assertions_seen: set[str] = field(default_factory=set)
    token_lifetime: int = 3600
    coupled_lineitem: bool = False
    # Line items per page of GET /lineitems (the rest behind Link: rel="next").
    page_size: int = 100
    # Where the LMS shows the tool (its origin may frame the tool's pages).
    return_url: str = "https://lms.example.edu/courses/1"
    # Custom parameters of the placement (e.g. {"assignment": "ml-health-check"}).
    custom: dict[str, str] = field(default_factory=dict)
    base: str = ""

    @property
    def issuer(self) -> str:
        return self.base

    def urls(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "auth_url": f"{self.base}/auth",
            "token_url": f"{self.base}/token",
            "jwks_url": f"{self.base}/jwks",
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(
        self,
        person: Person,
        nonce: str,
        *,
        resource_link: str = "rl-1",
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """A signed launch for person (overrides replace or, with None, drop claims)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": person.sub,
            "name": person.name,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "https://grader.example/lti/launch",
            CLAIM + "resource_link": {"id": resource_link, "title": "Health check"},
            CLAIM + "context": {"id": "course-1", "title": "MLOps 101"},
            CLAIM + "roles": ROLES[person.role],
            CLAIM + "launch_presentation": {"return_url": self.return_url},
            AGS: {
                "scope": [SCORE_SCOPE, LINEITEM_SCOPE],
                "lineitems": f"{self.base}/lineitems",
            }
            | ({"lineitem": f"{self.base}/lineitems/1"} if self.coupled_lineitem else {}),
        }
        if self.custom:
            claims[CLAIM + "custom"] = dict(self.custom)
        for name, value in overrides.items():
            name = name.replace("__", "/")
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(
            claims, pem(key or self.key), algorithm="RS256", headers={"kid": kid or self.kid}
        )

    # --- what the endpoints check ---

    def check_bearer(self, scope: str) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        entry = self.tokens.get(token)
        if entry is None or entry[0] < time.time():
            abort(Response(json.dumps({"error": "invalid_token"}), 401))
        if scope not in entry[1].split():
            abort(Response(json.dumps({"error": "insufficient_scope"}), 403))


def make_app(platform: Platform) -> Flask:
    app = Flask("simulated_lms")

    @app.before_request
    def _record() -> None:
        platform.requests.append((request.method, request.path))

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(platform.jwks())

    @app.get("/auth")
    def auth() -> Any:
        q = request.args
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
        }
        for name, value in expected.items():
            if q.get(name) != value:
                return f"bad {name}", 400
        for name in ("redirect_uri", "login_hint", "state", "nonce"):
            if not q.get(name):
                return f"missing {name}", 400
        person = platform.people.get(q["login_hint"])
        if person is None:
            return "unknown user", 400
        token = platform.id_token(
            person, q["nonce"], resource_link=q.get("lti_message_hint") or "rl-1"
        )
        return (
            f'<form method="post" action="{escape(q["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{token}">'
            f'<input type="hidden" name="state" value="{escape(q["state"])}">'
            "</form><script>document.forms[0].submit()</script>"
        )

    @app.get("/course")
    def course() -> Any:
        """A course page that shows the tool in an iframe, as an LMS does."""
        tool = request.args["tool"]
        hint = request.args.get("hint", "")
        src = f"{tool}/lti/login?{login_query(platform, hint, lti_message_hint='rl-1')}"
        frame = f'<iframe id="tool" src="{escape(src)}" width="1000" height="700"></iframe>'
        return f"<h1>MLOps 101</h1>{frame}"

    @app.post("/token")
    def token() -> Any:
        if platform.fail_tokens:
            return jsonify({"error": "temporarily_unavailable"}), platform.fail_tokens.pop(0)
        form = request.form
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return jsonify({"error": "unsupported_grant_type"}), 400
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            keys = [k for k in (platform.tool_jwks or {}).get("keys", []) if k.get("kid") == kid]
            if not keys:
                return jsonify({"error": "invalid_client", "why": "unknown kid"}), 401
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(keys[0]).key,
                algorithms=["RS256"],
                audience=f"{platform.base}/token",
                issuer=platform.client_id,
                options={"require": ["exp", "iat", "jti", "sub"]},
            )
        except jwt.PyJWTError as exc:
            return jsonify({"error": "invalid_client", "why": str(exc)}), 401
        if claims["sub"] != platform.client_id or claims["jti"] in platform.assertions_seen:
            return jsonify({"error": "invalid_client", "why": "sub or replayed jti"}), 401
        platform.assertions_seen.add(claims["jti"])
        value = secrets.token_urlsafe(16)
        platform.tokens[value] = (time.time() + platform.token_lifetime, form.get("scope", ""))
        return jsonify(
            {"access_token": value, "token_type": "Bearer", "expires_in": platform.token_lifetime}
        )

    @app.get("/lineitems")
    def line_items() -> Any:
        platform.check_bearer(LINEITEM_SCOPE)
        items = list(platform.line_items.values())
        if "resource_link_id" in request.args:
            items = [
                i for i in items if i.get("resourceLinkId") == request.args["resource_link_id"]
            ]
        if "tag" in request.args:
            items = [i for i in items if i.get("tag") == request.args["tag"]]
        page = int(request.args.get("page", "1"))
        size = platform.page_size
        response = jsonify(items[(page - 1) * size : page * size])
        response.mimetype = "application/vnd.ims.lis.v2.lineitemcontainer+json"
        if page * size < len(items):
            args = request.args.to_dict() | {"page": str(page + 1)}
            response.headers["Link"] = f'<{platform.base}/lineitems?{urlencode(args)}>; rel="next"'
        return response

    @app.post("/lineitems")
    def create_line_item() -> Any:
        platform.check_bearer(LINEITEM_SCOPE)
        if request.mimetype != "application/vnd.ims.lis.v2.lineitem+json":
            return jsonify({"error": "wrong media type"}), 415
        item = request.get_json(force=True)
        maximum = item.get("scoreMaximum")
        if not isinstance(maximum, int | float) or maximum <= 0 or not item.get("label"):
            return jsonify({"error": "scoreMaximum > 0 and label are required"}), 400
        number = len(platform.line_items) + 1
        item["id"] = f"{platform.base}/lineitems/{number}"
        platform.line_items[number] = item
        return jsonify(item), 201

    @app.post("/lineitems/<int:number>/scores")
    def post_score(number: int) -> Any:
        platform.check_bearer(SCORE_SCOPE)
        if platform.fail_scores:
            status = platform.fail_scores.pop(0)
            headers = {"Retry-After": platform.retry_after} if platform.retry_after else {}
            return jsonify({"error": "outage"}), status, headers
        if number not in platform.line_items and not platform.coupled_lineitem:
            return jsonify({"error": "no such line item"}), 404
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return jsonify({"error": "wrong media type"}), 415
        score = request.get_json(force=True)
        problem = validate_score(score)
        if problem:
            return jsonify({"error": problem}), 400
        when = parse_time(score["timestamp"])
        earlier = [
            parse_time(s["timestamp"])
            for s in platform.scores
            if s["_lineitem"] == number and s["userId"] == score["userId"]
        ]
        if earlier and when <= max(earlier):
            # Moodle: "This score is older than the current one" (409).
            return jsonify({"error": "timestamp not later than the last score"}), 409
        platform.scores.append(score | {"_lineitem": number})
        return "", 204

    return app


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def validate_score(score: Any) -> str | None:
    """What Canvas and Moodle refuse (400)."""
    if not isinstance(score, dict):
        return "a JSON object"
    for name in ("userId", "timestamp", "activityProgress", "gradingProgress"):
        if not score.get(name):
            return f"{name} is required"
    stamp = score["timestamp"]
    if not isinstance(stamp, str) or "T" not in stamp or not stamp.endswith(("Z", "+00:00")):
        return "timestamp must be RFC 3339"
    try:
        parse_time(stamp)
    except ValueError:
        return "timestamp must be RFC 3339"
    if score["activityProgress"] not in (
        "Initialized",
        "Started",
        "InProgress",
        "Submitted",
        "Completed",
    ):
        return "activityProgress"
    if score["gradingProgress"] not in (
        "FullyGraded",
        "Pending",
        "PendingManual",
        "Failed",
        "NotReady",
    ):
        return "gradingProgress"
    if "scoreGiven" in score:
        given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
        if not isinstance(maximum, int | float) or maximum <= 0:
            return "scoreMaximum is required with scoreGiven and must be > 0"
        if not isinstance(given, int | float) or given < 0:
            return "scoreGiven must be a number >= 0"
    return None


class Served:
    """The platform's app on a loopback port, in a thread."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.server = make_server("127.0.0.1", 0, make_app(platform), threaded=True)
        platform.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def login_query(platform: Platform, login_hint: str, **extra: str) -> str:
    return urlencode(
        {
            "iss": platform.issuer,
            "login_hint": login_hint,
            "target_link_uri": "https://grader.example/lti/launch",
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
            **extra,
        }
    )
