"""Regrade requests and notifications on the pages (Flask test client): the learner's form,
the instructor's answer form with its errors in place, the queue's filter, the badge."""

from __future__ import annotations

import pytest

from .browser.support import (
    WebUser,
    add_assignment,
    add_web_users,
    csrf_from,
    signed_in_client,
    submit_as,
)
from .conftest import HEALTH, run_worker_inline

GOOD = (HEALTH / "sub-029.md").read_text()


@pytest.fixture()
def people(app) -> dict[str, WebUser]:
    add_assignment(app)
    return add_web_users(app)


def _client(app, people, who: str):
    return signed_in_client(app, people[who])


def _token(client, path: str = "/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _released(app, people) -> int:
    sid = submit_as(app, people["learner"].id, GOOD)
    assert run_worker_inline(app, sid) == "graded"
    staff = _client(app, people, "instructor")
    assert staff.post(f"/review/submissions/{sid}/release", data={"csrf_token": _token(staff)})
    return sid


def test_learner_asks_on_the_page_and_reads_the_answer(app, people):
    sid = _released(app, people)
    learner = _client(app, people, "learner")
    page = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "Ask for a regrade of Risk Management" in page
    assert '<span class="sr-only">(1 unread)</span>' in page  # the release notification
    r = learner.post(
        f"/submissions/{sid}/regrade-requests",
        data={
            "csrf_token": _token(learner),
            "criterion": "risk_management",
            "message": "My step 3 has a rollback <script>alert(1)</script>",
        },
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("#criterion-risk_management")
    page = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "Waiting for your instructor" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "Ask for a regrade of Risk Management" not in page  # once per criterion
    assert "Ask for a regrade of Prioritization" in page

    staff = _client(app, people, "instructor")
    queue = staff.get("/review?status=released&requests=open").get_data(as_text=True)
    assert f'href="/review/submissions/{sid}' in queue and "regrade request" in queue
    review = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert 'id="requests-h"' in review and "My step 3 has a rollback" in review
    req_id = int(review.split('id="request-')[1].split('"')[0])

    # A bad answer is shown inside that request's form, with what was typed kept.
    r = staff.post(
        f"/review/regrade-requests/{req_id}/answer",
        data={"csrf_token": _token(staff), "outcome": "changed", "points": "lots", "reply": "ok"},
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert f'id="request-error-{req_id}"' in body and "must be a number" in body
    assert 'value="lots"' in body
    r = staff.post(
        f"/review/regrade-requests/{req_id}/answer",
        data={"csrf_token": _token(staff), "outcome": "changed", "points": "99", "reply": "ok"},
    )
    assert r.status_code == 422 and "between 0 and 20" in r.get_data(as_text=True)
    r = staff.post(
        f"/review/regrade-requests/{req_id}/answer",
        data={
            "csrf_token": _token(staff),
            "outcome": "changed",
            "points": "17.5",
            "reply": "Yes: the rollback is there.",
        },
    )
    assert r.status_code == 303
    page = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "Your instructor changed the points" in page and "Yes: the rollback is there." in page
    assert "17.5" in page

    # The notifications page lists both; opening one marks it read and goes to its page.
    notes = learner.get("/notifications").get_data(as_text=True)
    assert "(2 unread)" in notes and "Your regrade request was answered" in notes
    first = int(notes.split('id="notification-')[1].split('"')[0])
    r = learner.get(f"/notifications/{first}")
    assert r.status_code == 303 and r.headers["Location"] == f"/submissions/{sid}"
    assert "(1 unread)" in learner.get("/notifications").get_data(as_text=True)
    # Someone else's notification does not exist for them.
    assert _client(app, people, "learner2").get(f"/notifications/{first}").status_code == 404
    for odd in ("²", "9" * 40, "-1"):  # not an id: nothing is marked, no error page
        assert (
            learner.post(
                "/notifications/read", data={"csrf_token": _token(learner), "id": odd}
            ).status_code
            == 303
        )
    r = learner.post("/notifications/read", data={"csrf_token": _token(learner)})
    assert r.status_code == 303
    assert "unread" not in learner.get("/notifications").get_data(as_text=True).split("<main")[1]


def test_the_forms_refuse_what_the_api_refuses(app, people):
    sid = _released(app, people)
    learner = _client(app, people, "learner")
    r = learner.post(
        f"/submissions/{sid}/regrade-requests",
        data={"csrf_token": _token(learner), "criterion": "risk_management", "message": " "},
    )
    assert r.status_code == 303
    page = learner.get(f"/submissions/{sid}").get_data(as_text=True)
    assert "Write what you would like the instructor to look at again" in page
    # Without the CSRF token nothing happens.
    r = learner.post(
        f"/submissions/{sid}/regrade-requests",
        data={"criterion": "risk_management", "message": "x"},
    )
    assert r.status_code == 400
    # Another learner's submission is not found; staff cannot use the learner's form.
    other = _client(app, people, "learner2")
    r = other.post(
        f"/submissions/{sid}/regrade-requests",
        data={"csrf_token": _token(other), "criterion": "risk_management", "message": "x"},
    )
    assert r.status_code == 404
    staff = _client(app, people, "instructor")
    r = staff.post(
        f"/submissions/{sid}/regrade-requests",
        data={"csrf_token": _token(staff), "criterion": "risk_management", "message": "x"},
    )
    assert r.status_code == 403
