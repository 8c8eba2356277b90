"""Hostile and large inputs on the people, search and comment-bank endpoints: each answer's
status and time, and roster import at 1,000 and 5,000 rows (which must grow linearly).

    python bench/accounts_input.py

In-process through the Flask test client, on a throw-away SQLite database.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.service.auth import issue_token  # noqa: E402
from grader.service.models import Role, User  # noqa: E402
from tests.conftest import make_app  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    app = make_app(tmp, f"sqlite:///{tmp / 't.db'}")
    with app.app_context(), app.extensions["db"].session_scope() as s:
        admin = User(name="A", role=Role.ADMIN)
        s.add(admin)
        s.flush()
        token = issue_token(s, admin, "bench")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    csv_type = {**auth, "Content-Type": "text/csv"}
    client.post(
        "/api/v1/assignments", json={"slug": "x", "rubric": "ml-health-check.toml"}, headers=auth
    )

    def timed(what: str, call: object) -> None:
        started = time.perf_counter()
        r = call()  # type: ignore[operator]
        print(f"{what:<34} {r.status_code}  {time.perf_counter() - started:.3f} s")

    for ch in "[*_<`>":
        for size in (64 * 1024, 1024 * 1024 - 100):
            body = "name,email\n" + ch * size
            timed(
                f"roster {ch!r} x {size // 1024} KB",
                lambda b=body: client.post("/api/v1/users/import", data=b, headers=csv_type),
            )
        for name in ("learner", "text"):
            timed(
                f"queue {name}={ch!r} x 200",
                lambda n=name, c=ch: client.get(
                    "/api/v1/review-queue", query_string={n: c * 200}, headers=auth
                ),
            )
        timed(
            f"bank comment {ch!r} x 5000",
            lambda c=ch: client.post(
                "/api/v1/assignments/x/comments",
                json={"criterion": "risk_management", "text": c * 5000},
                headers=auth,
            ),
        )
    for n in (1000, 5000):
        body = "name,email\n" + "".join(f"P{i} <*_>,p{i}-{n}@x.example\n" for i in range(n))
        timed(
            f"roster of {n} new people",
            lambda b=body: client.post("/api/v1/users/import", data=b, headers=csv_type),
        )
    app.extensions["db"].engine.dispose()


if __name__ == "__main__":
    main()
