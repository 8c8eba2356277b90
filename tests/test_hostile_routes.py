"""Every route, fed the inputs that used to give 500s: NUL characters in the path, the query
and form fields, integers too large for the database, JSON nested past the parser's limit,
lone surrogates, 400-digit numbers and NaN. Each must get a 4xx (or a normal answer), never a
server error, on SQLite and PostgreSQL alike (the suite runs on both)."""

from __future__ import annotations

import re

import pytest

from .conftest import run_worker_inline

NUL = "%00"
HUGE = "9" * 40
DEEP = "[" * 5000 + "]" * 5000
BODIES = [
    ("application/json", '{"content": "a\\u0000b", "reason": "x\\u0000", "points": 1}'),
    ("application/json", DEEP),
    ("application/json", '{"content": "\\ud800", "criterion": "\\udfff"}'),
    ("application/json", '{"points": 1' + "0" * 400 + ', "ids": [' + HUGE + "]}"),
    ("application/json", '{"mode": "ids", "ids": [1e400, -1, "x\\u0000"]}'),
    ("application/json", '{"content": "x", "metadata": {"a": NaN}, "points": Infinity}'),
    ("application/x-www-form-urlencoded", "email=a%00b&password=%00&csrf_token=%00&q=%00"),
    ("text/markdown", "## Step 1\n\x00\n"),
]


def _routes(app) -> list[tuple[str, str]]:
    """(method, URL template with <params> replaced by {name}) for every rule."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, template))
    return out


def _urls(template: str, real: dict[str, str]) -> list[str]:
    names = re.findall(r"{([^}]+)}", template)
    fills = [real, dict.fromkeys(names, NUL), dict.fromkeys(names, HUGE)]
    urls = {template.format(**{n: f.get(n, "1") for n in names}) for f in fills}
    return sorted(u + sep for u in urls for sep in ("", f"?q={NUL}&page={HUGE}&sort={NUL}"))


@pytest.fixture()
def world(app, client, actors, assignment, enqueued):
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data="## Step 1\n\nThe AUC fell from 0.85 to 0.78.\n",
        headers={**actors.h("learner"), "Content-Type": "text/markdown"},
    )
    sid = r.get_json()["id"]
    run_worker_inline(app, sid)
    return {"slug": "ml-health-check", "submission_id": str(sid), "id": str(sid)}


@pytest.mark.parametrize("who", ["anonymous", "learner", "instructor", "admin"])
def test_no_route_gives_a_server_error_on_hostile_input(app, client, actors, world, who):
    headers = {} if who == "anonymous" else actors.h(who)
    failures = []
    for method, template in _routes(app):
        for url in _urls(template, world):
            sends = [(None, None)] if method == "GET" else BODIES
            for mimetype, body in sends:
                h = dict(headers)
                if mimetype:
                    h["Content-Type"] = mimetype
                r = client.open(url, method=method, headers=h, data=body)
                if r.status_code >= 500:
                    failures.append(f"{method} {url} [{mimetype}] -> {r.status_code}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("who", ["learner", "instructor"])
def test_no_page_gives_a_server_error_to_a_signed_in_user_on_hostile_input(app, who):
    """The same over the pages, signed in with a web session and a valid CSRF token."""
    from .browser.support import add_assignment, add_web_users, csrf_from, login, submit_as

    add_assignment(app)
    people = add_web_users(app)
    sid = submit_as(app, people["learner"].id, "## Step 1\n\nThe AUC fell from 0.85 to 0.78.\n")
    run_worker_inline(app, sid)
    client = app.test_client()
    assert login(client, people[who]).status_code == 303
    real = {"slug": "ml-health-check", "submission_id": str(sid), "id": str(sid)}
    failures = []
    for method, template in _routes(app):
        if template.startswith("/api/") or template in ("/logout",):
            continue
        for url in _urls(template, real):
            token = csrf_from(client.get("/").get_data(as_text=True))
            forms = [
                f"csrf_token={token}&criterion=%00&points={HUGE}&reason=%00&content=a%00b",
                f"csrf_token={token}&mode=selected&ids={HUGE}&ids=%00&one={HUGE}&q=%00",
                f"csrf_token={token}&submission={HUGE}&password=%00&email=%00",
            ]
            sends = [None] if method == "GET" else forms
            for body in sends:
                h = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
                r = client.open(url, method=method, headers=h, data=body)
                if r.status_code >= 500:
                    failures.append(f"{method} {url} [{body}] -> {r.status_code}")
    assert not failures, "\n".join(failures[:20])


def test_nan_in_a_json_body_is_refused_not_stored(client, actors, assignment):
    """NaN and Infinity are not JSON (PostgreSQL refuses them in a json column): a body with
    them is a 422 naming the body, before anything is stored."""
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data='{"content": "## Step 1\\nAUC 0.78", "metadata": {"score": NaN}}',
        headers={**actors.h("learner"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert (
        error["code"] == "invalid_json" and error["field"] == "body" and "NaN" in error["message"]
    )
    # A number past a float's range decodes as infinity: refused the same way.
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data='{"content": "## Step 1\\nAUC 0.78", "metadata": {"score": 1e400}}',
        headers={**actors.h("learner"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "body"
