"""LTI end to end: gunicorn and a real Celery worker (each broker) against the simulated
platform on loopback. A learner launches through the real login and launch, submits on
the page, the worker grades and sends PendingManual, the instructor releases, the worker
sends FullyGraded; the platform's first score answer is an outage, retried by the worker."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode, urlsplit

import pytest

from ..conftest import HEALTH
from ..lti_platform import Person, Platform, Served, login_query
from .harness import Service, request, wait_for

pytestmark = pytest.mark.e2e
TOOL = "https://grader.test"


class Browser:
    """A browser on plain HTTP to gunicorn that keeps every cookie (Secure ones too: the
    tool sits behind TLS in production, which this test leaves out)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict[str, str] | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        for raw in resp.headers.get_all("Set-Cookie") or []:
            # By hand: Python 3.11's http.cookies drops a cookie with the Partitioned flag.
            pair, _, attributes = raw.partition(";")
            name, _, value = pair.strip().partition("=")
            if not value or "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        conn.close()
        return resp.status, resp.headers, text


def launch(browser: Browser, lms: Platform, hint: str) -> tuple[int, str]:
    status, headers, _ = browser.send("GET", "/lti/login?" + login_query(lms, hint))
    assert status == 302
    auth = urlsplit(headers["Location"])
    conn = http.client.HTTPConnection(auth.hostname, auth.port, timeout=10)
    conn.request("GET", f"{auth.path}?{auth.query}")
    html = conn.getresponse().read().decode()
    conn.close()
    token = re.search(r'name="id_token" value="([^"]+)"', html).group(1)
    state = re.search(r'name="state" value="([^"]+)"', html).group(1)
    status, headers, _ = browser.send("POST", "/lti/launch", {"id_token": token, "state": state})
    return status, headers.get("Location", "")


def test_launch_submit_grade_release_reaches_the_gradebook(service: Service):
    lms = Platform(custom={"assignment": "ml-health-check"})
    lms.people = {
        "ann": Person("sub-ann", "Ann Learner", "learner"),
        "ida": Person("sub-ida", "Ida Instructor", "instructor"),
    }
    served = Served(lms)
    try:
        service.settings.update(
            {
                "GRADER_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
                "GRADER_WEBHOOK_RETRY_SCALE": "0.05",
                "GRADER_PUBLIC_URL": TOOL,
            }
        )
        port = service.start_web()
        service.start_worker()
        t = service.tokens
        code, body = request(
            port,
            "POST",
            "/api/v1/lti/platforms",
            token=t["admin"],
            body=lms.urls() | {"trust_instructors": True},
        )
        assert code == 201, body
        code, lms.tool_jwks = request(port, "GET", "/lti/jwks")
        assert code == 200 and lms.tool_jwks["keys"]

        # The instructor's launch attaches the link (its custom parameter names the assignment).
        status, where = launch(Browser(port), lms, "ida")
        assert status == 303 and where.endswith("/open")

        ann = Browser(port)
        status, where = launch(ann, lms, "ann")
        assert status == 303 and where.endswith("/assignments/ml-health-check")
        status, _, page = ann.send("GET", "/assignments/ml-health-check")
        assert status == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        key = re.search(r'name="submit_key" value="([^"]+)"', page).group(1)
        lms.fail_scores = [503]  # the gradebook is down for the first score
        status, headers, _ = ann.send(
            "POST",
            "/assignments/ml-health-check/submit",
            {"csrf_token": csrf, "submit_key": key, "content": (HEALTH / "sub-029.md").read_text()},
        )
        assert status == 303
        sid = int(headers["Location"].rsplit("/", 1)[1])

        wait_for(lambda: len(lms.scores) >= 1, 60, what="PendingManual in the gradebook")
        assert lms.scores[0]["gradingProgress"] == "PendingManual"
        assert lms.scores[0]["userId"] == "sub-ann"

        def status_of() -> str:
            return request(port, "GET", f"/api/v1/submissions/{sid}", token=t["instructor"])[1][
                "status"
            ]

        wait_for(lambda: status_of() == "graded", 60, what="the grade")
        code, _ = request(port, "POST", f"/api/v1/submissions/{sid}/release", token=t["instructor"])
        assert code == 200
        wait_for(lambda: len(lms.scores) >= 2, 60, what="FullyGraded in the gradebook")
        final = lms.scores[1]
        total = request(port, "GET", f"/api/v1/submissions/{sid}", token=t["instructor"])[1]
        assert final["gradingProgress"] == "FullyGraded"
        assert final["scoreGiven"] == pytest.approx(total["grade"]["total"], abs=1e-3)
        code, listed = request(
            port, "GET", "/api/v1/assignments/ml-health-check/lti/scores", token=t["instructor"]
        )
        first = listed["items"][-1]
        assert [a["status_code"] for a in first["attempt_log"] if a["url"].endswith("/scores")] == [
            503,
            204,
        ]
    finally:
        served.close()
