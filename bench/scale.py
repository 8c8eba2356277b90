"""How the instructors' requests grow with an assignment's size.

Seeds one assignment with N graded submissions the way any user can
(``grader seed --synthetic N``: answers made from the rubric's sample answers, really
graded), then times, through the Flask app in this process (no
network, so the figures are the service's own cost):

- the review queue API, first page, a deep page by offset (``page``) and the same depth by
  cursor (``cursor``, following ``next_cursor``), and page 1 and the middle page by cursor
  of every other sort it offers,
- the ``/review`` page and the dashboard (its first view after the data changed, when the
  score distributions are computed, and the views after it),
- the gradebook CSV (read to the end), with the process's peak memory.

    python bench/scale.py [--sizes 10000,100000] [--database-url URL] [--repeat 3]

PostgreSQL by default (``postgresql://postgres@127.0.0.1:5432/grader_scale``, created if
missing); ``sqlite:///path`` works too.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from grader.service import create_app  # noqa: E402
from grader.service.auth import issue_token  # noqa: E402
from grader.service.models import (  # noqa: E402
    Assignment,
    Base,
    Role,
    User,
)
from grader.service.operations.rubrics import rubric_path, store_rubric  # noqa: E402
from grader.service.operations.synthetic import seed_synthetic  # noqa: E402
from grader.service.passwords import hash_password  # noqa: E402

SLUG = "ml-health-check"
PASSWORD = "scale-bench-password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _database(url: str) -> str:
    if url.startswith("postgresql"):
        base, _, name = url.rpartition("/")
        admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    return url


def bench_app(database_url: str, name: str, rubrics: Path = ROOT / "rubrics") -> Any:
    """The app a bench drives in process: its database (created if missing), no broker, a
    private instance folder."""
    return create_app(
        {
            "DATABASE_URL": _database(database_url),
            "BROKER_URL": "memory://",
            "SECRET_KEY": f"{name}-bench",
            "INSTANCE_PATH": tempfile.mkdtemp(prefix=f"grader-{name}-"),
            "RUBRICS_DIR": str(rubrics),
        }
    )


def seed(app: Any, n: int) -> tuple[str, str]:
    """n learners with one graded submission each; returns (instructor token, email)."""
    db = app.extensions["db"]
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    with app.app_context():
        s = db.session
        version = store_rubric(s, rubric_path(app.config["RUBRICS_DIR"], "ml-health-check.toml"))
        staff = User(
            name="Scale Instructor",
            email="scale@example.org",
            role=Role.INSTRUCTOR,
            password_hash=hash_password(PASSWORD),
        )
        s.add(staff)
        s.flush()
        a = Assignment(
            slug=SLUG,
            title="ML System Health Check",
            rubric_file="ml-health-check.toml",
            rubric_version=version.version,
            created_by_id=staff.id,
        )
        s.add(a)
        s.flush()
        token = issue_token(s, staff, "scale")
        s.commit()
        # The data any user can make: `grader seed --synthetic N` (operations.synthetic).
        started = time.perf_counter()
        seed_synthetic(s, a, n)
        s.commit()
        print(f"seeded {n} synthetic graded submissions in {time.perf_counter() - started:.1f} s")
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                # What autovacuum does soon after a bulk load: index-only scans need it.
                c.execute(text("VACUUM ANALYZE"))
    return token, "scale@example.org"


SORTS = ("-confidence", "time", "-time", "total", "-total")


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(app: Any, n: int, token: str, email: str, repeat: int) -> dict[str, float]:
    api = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    per_page = 50
    deep = max(1, (n // per_page) // 2)  # the middle of the queue
    q = f"/api/v1/review-queue?assignment={SLUG}&per_page={per_page}"

    def ok(r: Any) -> Any:
        assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
        return r

    out: dict[str, float] = {}
    out["queue page 1"] = best(lambda: ok(api.get(q, headers=h)), repeat)
    out["queue middle page (offset)"] = best(
        lambda: ok(api.get(f"{q}&page={deep}", headers=h)), repeat
    )
    cursor = _cursor_at(api, h, q, deep)
    if cursor is not None:
        out["queue middle page (cursor)"] = best(
            lambda: ok(api.get(f"{q}&cursor={cursor}", headers=h)), repeat
        )
    # Every other sort the queue offers, page 1 and the middle page by cursor (the cursor
    # taken, untimed, from the offset page before it).
    for sort in SORTS:
        sq = f"{q}&sort={sort}"
        out[f"queue sort={sort}, page 1"] = best(lambda u=sq: ok(api.get(u, headers=h)), repeat)
        before = ok(api.get(f"{sq}&page={max(1, deep - 1)}", headers=h)).get_json()
        cursor = before.get("next_cursor")
        if cursor is not None:
            out[f"queue sort={sort}, middle (cursor)"] = best(
                lambda u=f"{sq}&cursor={cursor}": ok(api.get(u, headers=h)), repeat
            )
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    match = _CSRF.search(page)
    assert match
    r = web.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": match[1]})
    assert r.status_code == 303, r.status_code
    out["/review page"] = best(lambda: ok(web.get("/review")), repeat)
    out["dashboard page, first view"] = best(lambda: ok(web.get(f"/dashboard/{SLUG}")), 1)
    out["dashboard page"] = best(lambda: ok(web.get(f"/dashboard/{SLUG}")), repeat)
    size = len(web.get(f"/dashboard/{SLUG}").get_data())
    out["dashboard KB"] = size / 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["grades.csv"] = best(
        lambda: ok(api.get(f"/api/v1/assignments/{SLUG}/grades.csv", headers=h)).get_data(),
        repeat,
    )
    out["grades.csv peak RSS growth MB"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    ) / 1024
    return out


def _cursor_at(api: Any, h: dict[str, str], q: str, page: int) -> str | None:
    """The cursor that starts page ``page`` (walked there once, untimed), or None when the
    queue offers no cursors."""
    r = api.get(q, headers=h).get_json()
    if "next_cursor" not in r:
        return None
    cursor = r["next_cursor"]
    for _ in range(page - 2):
        if cursor is None:
            return None
        cursor = api.get(f"{q}&cursor={cursor}", headers=h).get_json()["next_cursor"]
    return cursor  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/grader_scale"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    app = bench_app(args.database_url, "scale")
    results: dict[int, dict[str, float]] = {}
    for n in (int(x) for x in args.sizes.split(",")):
        t0 = time.perf_counter()
        token, email = seed(app, n)
        print(f"seeded {n:,} submissions in {time.perf_counter() - t0:.1f} s", flush=True)
        results[n] = measure(app, n, token, email, args.repeat)
    names = list(dict.fromkeys(k for r in results.values() for k in r))
    sizes = list(results)
    print(f"\n{'request (best of ' + str(args.repeat) + ', seconds)':42}" + "".join(
        f"{n:>12,}" for n in sizes))  # fmt: skip
    for name in names:
        cells = "".join(
            f"{results[n][name]:>12.3f}" if name in results[n] else f"{'-':>12}" for n in sizes
        )
        print(f"{name:42}{cells}")
    print(f"\ndatabase: {app.extensions['db'].engine.dialect.name}")


if __name__ == "__main__":
    main()
