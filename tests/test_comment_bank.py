"""Comment banks: an override can keep its comment for the criterion; the bank grows with
use, is offered in the review page's comment field, and is managed by staff only."""

from __future__ import annotations

from .browser.support import add_web_users, csrf_from, signed_in_client
from .conftest import graded

BANK = "/api/v1/assignments/ml-health-check/comments"


def test_overrides_grow_the_bank_and_the_api_manages_it(app, client, actors, assignment, enqueued):
    sid = graded(app, client, actors)
    text = "Name the trigger for the rollback and how long it takes."
    for _ in range(2):
        r = client.post(
            f"/api/v1/submissions/{sid}/overrides",
            json={
                "criterion": "risk_management",
                "points": 12,
                "reason": "no trigger",
                "comment": text,
                "save_comment": True,
            },
            headers=actors.h("instructor"),
        )
        assert r.status_code == 201, r.get_json()
    # Without save_comment nothing is kept.
    client.post(
        f"/api/v1/submissions/{sid}/overrides",
        json={"criterion": "prioritization", "points": 20, "reason": "r", "comment": "one-off"},
        headers=actors.h("instructor"),
    )
    bank = client.get(BANK, headers=actors.h("instructor")).get_json()["items"]
    assert [(c["criterion"], c["text"], c["uses"]) for c in bank] == [("risk_management", text, 2)]
    r = client.post(
        BANK,
        json={"criterion": "prioritization", "text": "Say what comes first and why."},
        headers=actors.h("instructor"),
    )
    assert r.status_code == 201
    r = client.post(BANK, json={"criterion": "nope", "text": "x"}, headers=actors.h("instructor"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "criterion"
    r = client.post(
        BANK, json={"criterion": "prioritization", "text": " "}, headers=actors.h("instructor")
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "text"
    assert client.get(BANK, headers=actors.h("learner")).status_code == 403
    comment_id = bank[0]["id"]
    r = client.delete(f"{BANK}/{comment_id}", headers=actors.h("instructor"))
    assert r.status_code == 200 and [c["criterion"] for c in r.get_json()["items"]] == [
        "prioritization"
    ]
    assert client.delete(f"{BANK}/{comment_id}", headers=actors.h("instructor")).status_code == 404


def test_the_review_page_offers_the_bank_in_the_comment_field(
    app, client, actors, assignment, enqueued
):
    people = add_web_users(app)
    sid = graded(app, client, actors)
    staff = signed_in_client(app, people["instructor"])
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    r = staff.post(
        f"/review/submissions/{sid}/override",
        data={
            "csrf_token": csrf_from(page),
            "criterion": "risk_management",
            "points": "11",
            "reason": "no trigger",
            "comment": "Give the rollback <b>trigger</b>.",
            "keep": "1",
        },
    )
    assert r.status_code == 303
    page = staff.get(f"/review/submissions/{sid}").get_data(as_text=True)
    assert 'list="bank-risk_management"' in page
    assert '<option value="Give the rollback &lt;b&gt;trigger&lt;/b&gt;."></option>' in page
    assert 'list="bank-prioritization"' not in page
