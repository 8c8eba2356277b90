"""End to end: a release and a regrade answer mailed by a real worker through a real SMTP
server on loopback, on each broker, including a retry after a temporary refusal."""

from __future__ import annotations

import pytest

from ..conftest import HEALTH
from ..smtp import SMTPServer
from .harness import Service, request, wait_for

pytestmark = pytest.mark.e2e
SUBMIT = "/api/v1/assignments/ml-health-check/submissions"


def test_release_and_regrade_answer_are_mailed_with_a_retry(service: Service):
    from grader.service.models import User

    with SMTPServer() as smtp:
        service.settings.update(
            {
                "GRADER_SMTP_HOST": "127.0.0.1",
                "GRADER_SMTP_PORT": str(smtp.port),
                "GRADER_MAIL_RETRY_SECONDS": "1",
                "GRADER_PUBLIC_URL": "https://grader.example.edu",
            }
        )
        app = service.app()
        with app.app_context(), app.extensions["db"].session_scope() as session:
            for user in session.query(User).all():
                user.email = f"{user.name.split()[-1]}@course.example"
        port = service.start_web()
        service.start_worker()
        t = service.tokens
        code, body = request(
            port, "POST", SUBMIT, token=t["learner"], body=(HEALTH / "sub-029.md").read_text()
        )
        sid = body["id"]
        wait_for(
            lambda: (
                request(port, "GET", f"/api/v1/submissions/{sid}", token=t["instructor"])[1][
                    "status"
                ]
                == "graded"
            ),
            60,
            what="grade",
        )
        smtp.inbox.refuse = ["451 4.3.0 try again later"]  # the first try is refused
        code, _ = request(port, "POST", f"/api/v1/submissions/{sid}/release", token=t["instructor"])
        assert code == 200
        wait_for(lambda: len(smtp.messages) == 1, 60, what="the release mail, after a retry")
        [released] = smtp.messages
        assert released["To"] == "learner@course.example"
        assert f"https://grader.example.edu/submissions/{sid}" in released.get_content()

        code, req = request(
            port,
            "POST",
            f"/api/v1/submissions/{sid}/regrade-requests",
            token=t["learner"],
            body={"criterion": "risk_management", "message": "I did plan a rollback."},
        )
        assert code == 201, req
        wait_for(lambda: len(smtp.messages) == 2, 60, what="the request mail to the instructor")
        assert smtp.messages[1]["To"] == "instructor@course.example"
        code, _ = request(
            port,
            "POST",
            f"/api/v1/regrade-requests/{req['id']}/answer",
            token=t["instructor"],
            body={"outcome": "kept", "reply": "The rollback has no trigger."},
        )
        assert code == 200
        wait_for(lambda: len(smtp.messages) == 3, 60, what="the answer mail")
        answered = smtp.messages[2]
        assert answered["To"] == "learner@course.example"
        assert "The rollback has no trigger." in answered.get_content()
        code, notes = request(port, "GET", "/api/v1/notifications", token=t["learner"])
        assert [n["kind"] for n in notes["items"]] == ["regrade_answered", "grade_released"]
        assert notes["unread"] == 2
