"""The pages in real headless Chromium: submit, review, override, release, see the grade;
hostile Markdown stays inert; learners cannot open each other's submissions."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from ..conftest import HEALTH, run_worker_inline
from .support import WebUser, submit_as

GOOD = (HEALTH / "sub-029.md").read_text()


def sign_in(page: Any, user: WebUser) -> None:
    page.goto("/login")
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text(user.name)


def submission_id(page: Any) -> int:
    match = re.search(r"/submissions/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def test_submit_review_override_release(app, live, people, new_page):
    learner = new_page()
    sign_in(learner, people["learner"])
    learner.click("text=ML System Health Check")
    learner.fill("#content", GOOD)
    learner.click("text=Submit for grading")
    sid = submission_id(learner)
    status = learner.locator("#status")
    expect(status).to_have_text("Waiting to be graded")

    # The worker grades it; the open page notices by itself (it polls, then reloads).
    assert run_worker_inline(app, sid) == "graded"
    expect(status).to_have_text(re.compile("waiting for your instructor"), timeout=8_000)
    expect(learner.locator("#grade-pending")).to_be_visible()

    staff = new_page()
    sign_in(staff, people["instructor"])
    staff.click("text=Review queue")
    expect(staff.locator("tr[data-row]")).to_have_count(1)
    # The keys work once the page's script has run: a key pressed before that is lost (CI,
    # under load, pressed "j" first and stayed on the queue).
    staff.wait_for_load_state("load")
    staff.keyboard.press("j")
    staff.keyboard.press("Enter")
    expect(staff.locator("h1")).to_contain_text(f"#{sid}")
    # The evidence is highlighted in the rendered answer, beside the parser's findings.
    assert staff.locator("#answer mark.ev").count() > 10
    expect(staff.locator("#plan-h + p")).to_contain_text("priority matrix found")
    expect(staff.locator(".bucket-critical")).to_contain_text("Great Expectations")
    first_quote = staff.locator("#criterion-problem_identification a.quote").first
    target = first_quote.get_attribute("href")
    assert target and staff.locator(f"#answer {target}").count() == 1

    form = staff.locator("#criterion-risk_management form.override")
    form.locator("input[name=points]").fill("20")
    form.locator("input[name=reason]").fill("The rollback plan names both the DAG and the model.")
    form.locator("button").click()
    expect(staff.locator(".notice-ok")).to_contain_text("risk management is now 20 points")
    expect(staff.locator("#criterion-risk_management .override-note")).to_contain_text(
        "The rollback plan names both"
    )
    expect(staff.locator(".history")).to_contain_text("override")
    staff.click("#release")
    expect(staff.locator(".notice-ok")).to_contain_text("Released")

    # The learner's open page polls while the grade waits for release and reloads itself when
    # it is released (a reload of our own could race that one).
    expect(status).to_have_text("Grade released", timeout=8_000)
    rm = learner.locator("#criterion-risk_management")
    expect(rm.locator(".points")).to_contain_text("20 / 20")
    expect(rm).to_contain_text("set by your instructor")
    expect(learner.locator("#grade-total")).to_be_visible()
    # Never the answer key: no missing concepts, no instructor-only notes.
    assert learner.locator(".missing").count() == 0
    assert "Not found:" not in learner.content()
    assert learner.locator("#answer mark.ev").count() > 0


def test_keyboard_next_previous(app, live, people, new_page):
    ids = [
        submit_as(app, people[who].id, (HEALTH / name).read_text())
        for who, name in (("learner", "sub-029.md"), ("learner2", "sub-009.md"))
    ]
    for sid in ids:
        run_worker_inline(app, sid)
    staff = new_page()
    sign_in(staff, people["instructor"])
    staff.goto("/review")
    rows = staff.locator("tr[data-row]")
    expect(rows).to_have_count(2)
    staff.wait_for_load_state("load")
    staff.keyboard.press("j")
    staff.keyboard.press("j")
    staff.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("is-current"))
    first = rows.nth(0).locator("a.row-link").inner_text()
    second = rows.nth(1).locator("a.row-link").inner_text()
    staff.keyboard.press("Enter")
    expect(staff.locator("h1")).to_contain_text(f"#{first}")
    # The keys work once the page's script has run: a key pressed before that is lost.
    staff.wait_for_load_state("load")
    staff.keyboard.press("n")
    expect(staff.locator("h1")).to_contain_text(f"#{second}")
    expect(staff.locator(".reviewnav")).to_contain_text("2 of 2")
    staff.wait_for_load_state("load")
    staff.keyboard.press("p")
    expect(staff.locator("h1")).to_contain_text(f"#{first}")


HOSTILE = """# Plan <script>window.__xss = 1; alert(1)</script>

<img src=x onerror="window.__xss = 2; alert(2)">
<svg onload=alert(3)></svg> <iframe src="javascript:alert(4)"></iframe>
<details open ontoggle=alert(5)>x</details>

[click me](javascript:window.__xss=6) [upper](JaVaScRiPt:alert(7)) [enc](&#106;avascript:alert(8))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==) ![pic](javascript:alert(10))
<a href="javascript:alert(11)">raw link</a> [rel](/logout) [ok](https://example.com/)

**Model degraded**: AUC 0.78 vs 0.85 baseline, drift detection disabled while drift is 0.12.

| Issue | Impact |
|---|---|
| `<script>alert(12)</script>` | <b onmouseover=alert(13)>hover</b> |
"""


# Anything in the rendered answer that could run script or load something.
FIND_ACTIVE_CONTENT = """() => {
    const root = document.getElementById('answer');
    const tags = 'script, img, svg, iframe, object, embed, details, b, style';
    const attrs = [];
    for (const el of root.querySelectorAll('*')) {
        for (const a of el.attributes) {
            const v = a.value.trim().toLowerCase();
            if (a.name.startsWith('on') || a.name === 'style' || a.name === 'src'
                || v.startsWith('javascript:') || v.startsWith('data:')) {
                attrs.push(el.tagName + ' ' + a.name);
            }
        }
    }
    return {
        bad: root.querySelectorAll(tags).length,
        attrs,
        xss: window.__xss === undefined ? null : window.__xss,
        scripts: document.scripts.length,
    };
}"""


def test_hostile_answer_is_inert(app, live, people, new_page):
    dialogs: list[str] = []
    learner = new_page()
    learner.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(learner, people["learner"])
    learner.goto("/assignments/ml-health-check")
    learner.fill("#content", HOSTILE)
    learner.click("text=Submit for grading")
    sid = submission_id(learner)
    run_worker_inline(app, sid)
    # Let the open page finish its own reload after grading, so it cannot cut into the
    # navigation below.
    expect(learner.locator("#status")).to_have_text(
        re.compile("waiting for your instructor"), timeout=8_000
    )

    staff = new_page()
    staff.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(staff, people["instructor"])
    for page, url in ((learner, f"/submissions/{sid}"), (staff, f"/review/submissions/{sid}")):
        page.goto(url)
        answer = page.locator("#answer")
        expect(answer).to_contain_text("window.__xss = 1")  # shown as text
        answer.locator("text=hover").hover()
        for link in answer.locator("a").all():
            href = link.get_attribute("href") or ""
            assert href.startswith(("http://", "https://", "mailto:")), href
        page.wait_for_timeout(300)
        found = page.evaluate(FIND_ACTIVE_CONTENT)
        assert found == {"bad": 0, "attrs": [], "xss": None, "scripts": 1}, found
    # Clicking the would-be javascript: link does nothing either.
    staff.locator("#answer >> text=click me").click()
    staff.wait_for_timeout(200)
    assert staff.evaluate("window.__xss === undefined")
    assert dialogs == []


def test_learner_cannot_open_another_learners_submission(app, live, people, new_page):
    theirs = submit_as(app, people["learner2"].id, GOOD)
    page = new_page()
    sign_in(page, people["learner"])
    response = page.goto(f"/submissions/{theirs}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    assert "correct horse" not in page.content() and "Step 1" not in page.content()
    response = page.goto(f"/submissions/{theirs}/status")
    assert response is not None and response.status == 404
    response = page.goto(f"/review/submissions/{theirs}")
    assert response is not None and response.status == 403
    response = page.goto("/review")
    assert response is not None and response.status == 403
