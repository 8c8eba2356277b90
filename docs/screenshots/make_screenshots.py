"""Screenshots of the web pages for the README, taken in headless Chromium.

    .venv/bin/python docs/screenshots/make_screenshots.py [--out docs/screenshots]

It builds a throw-away installation (SQLite in a temporary folder, migrated like
`make run`), creates the demo accounts with `grader seed`'s code, submits the graded sample
answers from tests/data/health-check/ (and two gaming attempts) as learners, grades them with
the real grading code, has the instructor override and release a few, serves the app on a
loopback port and photographs the main pages. Needs Debian's chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from grader.service import create_app  # noqa: E402
from grader.service.commands import seed_demo  # noqa: E402
from grader.service.grade_task import GradingSettings, grade_submission  # noqa: E402
from grader.service.migrate import upgrade  # noqa: E402
from grader.service.models import Assignment, Role, Submission, User  # noqa: E402
from grader.service.operations import accounts, regrade_requests  # noqa: E402
from grader.service.operations.releases import release  # noqa: E402
from grader.service.operations.reviews import override  # noqa: E402
from grader.service.operations.submissions import submit  # noqa: E402
from grader.service.passwords import hash_password  # noqa: E402
from tests.browser.support import LiveServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HEALTH = ROOT / "tests" / "data" / "health-check"
GAMING = ROOT / "tests" / "data" / "gaming"
NAMES = [
    "Amara Okafor", "Ben Carter", "Chen Wei", "Dana Levi", "Elif Yilmaz", "Felix Braun",
    "Grace Kim", "Hugo Martin", "Isla Novak", "Jonas Berg", "Kavya Rao", "Liam Walsh",
    "Maya Cohen", "Nils Eriksen", "Olga Petrova", "Pablo Ruiz", "Quinn Hayes", "Rosa Diaz",
    "Sami Haddad", "Tara Singh", "Umar Farouk", "Vera Costa", "Will Turner", "Xenia Ivanova",
]  # fmt: skip


def build(workdir: Path) -> tuple[Any, dict[str, str]]:
    """A migrated, seeded, graded installation; returns the app and demo passwords."""
    url = f"sqlite:///{workdir / 'grader.db'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "BROKER_URL": "memory://",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "INSTANCE_PATH": str(workdir / "instance"),
        }
    )
    upgrade(url)
    passwords = {who.split()[1]: password for who, password, _t, _n in seed_demo(app)}
    db = app.extensions["db"]
    settings = GradingSettings(max_deliveries=3, lease_seconds=60)
    answers = [HEALTH / "sub-029.md", HEALTH / "sub-009.md"]
    answers += [p for p in sorted(HEALTH.glob("sub-*.md")) if p not in answers]
    answers += [GAMING / "buzzwords.md", GAMING / "copied-exercise.md"]
    ids: list[int] = []
    with app.app_context():
        with db.session_scope() as session:
            a = session.scalar(select(Assignment).where(Assignment.slug == "ml-health-check"))
            learners = [
                session.scalar(select(User).where(User.email == email))
                for email in ("learner@example.test", "learner2@example.test")
            ]
            for i, name in enumerate(NAMES[: len(answers) - 2]):
                user = User(
                    name=name,
                    role=Role.LEARNER,
                    email=f"learner{i + 3}@example.test",
                    password_hash=hash_password(secrets.token_urlsafe(12)),
                )
                session.add(user)
                learners.append(user)
            session.flush()
            for learner, path in zip(learners, answers, strict=False):
                sub, _ = submit(session, a.id, learner.id, path.read_text(encoding="utf-8"))
                ids.append(sub.id)
            # Five learners who hand in (nearly) the same answer: a group, and copy hints.
            base = (HEALTH / "sub-010.md").read_text(encoding="utf-8")
            for i, name in enumerate(("Ada Byrne", "Bo Lind", "Cy Moreau", "Di Park", "Eli Shaw")):
                user = User(
                    name=name,
                    role=Role.LEARNER,
                    email=f"alike{i}@example.test",
                    password_hash=hash_password(secrets.token_urlsafe(12)),
                )
                session.add(user)
                session.flush()
                sub, _ = submit(session, a.id, user.id, base + f"\n\nSubmitted from lab {i}.")
                ids.append(sub.id)
        for sid in ids:
            grade_submission(db.engine, db.sessionmaker, sid, settings)
        with db.session_scope() as session:
            instructor = session.scalar(select(User).where(User.email == "instructor@example.test"))
            mine = session.get(Submission, ids[0])
            override(
                session,
                mine,
                instructor,
                "risk_management",
                19,
                "Rollback names both the DAG and the model registry; canary thresholds given.",
                "Your rollback plan is complete: it names the DAG and the model registry.",
            )
            release(session, mine, instructor)
            learner = session.get(User, mine.learner_id)
            asked = regrade_requests.ask(
                session,
                mine,
                learner,
                "prioritization",
                "I put drift detection first because the AUC drop comes from the schema changes.",
                window_days=14,
            )
            regrade_requests.answer(
                session,
                asked,
                instructor,
                "changed",
                "Agreed: you tie the drift to the schema changes. Two more points.",
                min(25.0, _points(session, mine, "prioritization") + 2),
            )
            for sid in ids[3:7]:
                sub = session.get(Submission, sid)
                sub.reviewed = True
                release(session, sub, instructor)
            other = session.get(Submission, ids[3])
            regrade_requests.ask(
                session,
                other,
                session.get(User, other.learner_id),
                "risk_management",
                "My step 3 says we roll back when the AUC drops under 0.80: is that not a trigger?",
                window_days=14,
            )
            admin = session.scalar(select(User).where(User.email == "admin@example.test"))
            accounts.import_roster(
                session, admin, "name,email\nNia New,nia@example.test\nOmar Ode,omar@example.test\n"
            )
            second = session.get(Submission, ids[1])
            override(session, second, instructor, "prioritization", 20, "Good root-cause argument.")
    return app, passwords


def _points(session: Any, sub: Submission, criterion: str) -> float:
    from grader.service.operations.grades import effective_grade

    eff = effective_grade(session, sub)
    assert eff is not None
    return float(next(c["points"] for c in eff["criteria"] if c["id"] == criterion))


def sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".who")


def shoot(app: Any, passwords: dict[str, str], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    with app.app_context(), app.extensions["db"].session_scope() as session:
        first = session.scalar(
            select(Submission.id)
            .join(User, Submission.learner_id == User.id)
            .where(User.email == "learner@example.test")
        )
        second = session.scalar(
            select(Submission.id)
            .join(User, Submission.learner_id == User.id)
            .where(User.email == "learner2@example.test")
        )
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def page_for(width: int, height: int) -> Any:
            context = browser.new_context(
                base_url=live.url, viewport={"width": width, "height": height}
            )
            return context.new_page()

        def snap(page: Any, name: str, *, full: bool = False) -> None:
            path = out / name
            page.screenshot(path=str(path), full_page=full)
            files.append(path)

        page = page_for(1280, 720)
        page.goto("/login")
        snap(page, "sign-in.png")

        sign_in(page, "learner@example.test", passwords["learner@example.test"])
        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto("/assignments/ml-health-check")
        snap(page, "learner-assignment.png")
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.goto(f"/submissions/{first}")
        snap(page, "learner-submission.png")

        staff = page_for(1440, 900)
        sign_in(staff, "instructor@example.test", passwords["instructor@example.test"])
        staff.goto("/review")
        staff.keyboard.press("j")
        staff.keyboard.press("j")
        snap(staff, "review-queue.png", full=True)
        staff.set_viewport_size({"width": 1440, "height": 1700})
        staff.goto(f"/review/submissions/{second}?pos=0")
        snap(staff, "review-submission.png")
        grades = staff.locator("section:has(#grade-h)")
        grades.screenshot(path=str(out / "review-criteria.png"))
        files.append(out / "review-criteria.png")
        staff.set_viewport_size({"width": 1440, "height": 900})
        staff.goto("/dashboard/ml-health-check")
        snap(staff, "dashboard.png", full=True)
        # Instructors at scale: answer groups, a copy hint, the rubric as TOML.
        staff.goto("/dashboard/ml-health-check/groups")
        staff.locator("section.group summary").first.click()
        snap(staff, "groups.png", full=True)
        staff.goto("/review?flag=possible_copy&sort=-total")
        staff.locator("tr[data-row] a").first.click()
        staff.locator("#possible-copy").scroll_into_view_if_needed()
        snap(staff, "possible-copy.png")
        staff.goto("/dashboard/ml-health-check/rubric")
        snap(staff, "rubric-edit.png")

        # The learner's side (regrade requests, notifications) and accounts, at 1280 and 390.
        with app.app_context(), app.extensions["db"].session_scope() as session:
            open_request = session.scalar(
                select(Submission.id).where(Submission.open_requests > 0).limit(1)
            )
            token = accounts.issue_link(
                session,
                session.scalar(select(User).where(User.email == "nia@example.test")),
                "welcome",
            )
        admin = page_for(1280, 900)
        sign_in(admin, "admin@example.test", passwords["admin@example.test"])
        for width, suffix in ((1280, ""), (390, "-390")):
            for p in (page, staff, admin):
                p.set_viewport_size({"width": width, "height": 900})
            page.goto(f"/submissions/{first}#criterion-prioritization")
            snap(page, f"learner-regrade{suffix}.png", full=True)
            page.goto("/notifications")
            snap(page, f"notifications{suffix}.png")
            staff.goto(f"/review/submissions/{open_request}#requests")
            staff.locator("#requests").scroll_into_view_if_needed()
            snap(staff, f"review-request{suffix}.png")
            staff.goto("/review?status=released&requests=open")
            snap(staff, f"review-queue-requests{suffix}.png")
            admin.goto("/people")
            snap(admin, f"people{suffix}.png", full=True)
        fresh = page_for(1280, 720)
        fresh.goto(f"/account/password/{token}")
        snap(fresh, "set-password.png")
        fresh.set_viewport_size({"width": 390, "height": 720})
        snap(fresh, "set-password-390.png")
        browser.close()
    return files


def shoot_lti(app: Any, passwords: dict[str, str], out: Path) -> list[Path]:
    """grader inside an LMS course page (the simulated platform of the tests, on another
    site of this machine), as a learner and an instructor see it, and the admin's LTI page."""
    from playwright.sync_api import sync_playwright

    from grader.service.lti.registry import add_platform
    from grader.service.webhooks.urls import Allowlist
    from tests.lti_platform import Person, Platform, Served

    lms = Platform(custom={"assignment": "ml-health-check"})
    lms.people = {
        "ann": Person("sub-ann", "Ann Okafor", "learner"),
        "ida": Person("sub-ida", "Ida Brandt", "instructor"),
    }
    served = Served(lms)
    lms.return_url = f"{lms.base}/course"
    files: list[Path] = []
    app.config["WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    try:
        with LiveServer(app) as live, sync_playwright() as pw:
            tool = live.url.replace("127.0.0.1", "localhost")
            app.config["PUBLIC_URL"] = tool
            with app.app_context(), app.extensions["db"].session_scope() as session:
                add_platform(
                    session,
                    name="Moodle (demo)",
                    deployment_ids=[lms.deployment_id],
                    trust_instructors=True,
                    allowlist=Allowlist.parse(app.config["WEBHOOK_ALLOWED_HOSTS"]),
                    **{k: v for k, v in lms.urls().items() if k != "deployment_ids"},
                )
            lms.tool_jwks = app.test_client().get("/lti/jwks").get_json()
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for who, name, ready in (
                ("ida", "lti-instructor-frame.png", "#open-dashboard"),
                ("ann", "lti-learner-frame.png", "textarea#content"),
            ):
                page = browser.new_context(viewport={"width": 1100, "height": 820}).new_page()
                page.goto(f"{lms.base}/course?hint={who}&tool={tool}")
                page.frame_locator("#tool").locator(ready).wait_for()
                page.screenshot(path=str(out / name))
                files.append(out / name)
            admin = browser.new_context(
                base_url=tool, viewport={"width": 1280, "height": 900}
            ).new_page()
            sign_in(admin, "admin@example.test", passwords["admin@example.test"])
            admin.goto("/admin/lti")
            admin.screenshot(path=str(out / "lti-admin.png"), full_page=True)
            files.append(out / "lti-admin.png")
            browser.close()
    finally:
        served.close()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument(
        "--only", choices=("all", "lti"), default="all", help="lti: only the LTI pictures"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        app, passwords = build(Path(tmp))
        try:
            if args.only == "all":
                for path in shoot(app, passwords, args.out):
                    print(path)
            for path in shoot_lti(app, passwords, args.out):
                print(path)
        finally:
            app.extensions["db"].engine.dispose()


if __name__ == "__main__":
    main()
