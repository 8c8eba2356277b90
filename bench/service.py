"""Service throughput and submit latency, end to end, with real processes.

Starts a private redis-server, gunicorn (the web app) and one celery worker process per
core, against PostgreSQL when GRADER_BENCH_DATABASE_URL (or the local server) answers, else
SQLite. Then:

1. Sustained load: submits at --rate per second for --duration seconds (open loop: the
   sender keeps its schedule whatever the server does) and samples the backlog (queued +
   grading) every second. Reports graded per second over the run and in its steady second
   half, and the largest backlog: bounded means it stops growing.
2. Submit latency: 100 requests per second for --latency-seconds, p50 / p99 / max of
   HTTP submit (request sent to 202 received), while the worker grades them.
3. CPU per graded submission over the sustained run, by process group (gunicorn and its
   workers; the celery worker, its pool and beat; redis-server; the database server when
   it is this machine's PostgreSQL is left out), read from /proc, and its ratio to the
   grading core's own CPU per answer (grade_text on the sample answers, in this process,
   measured in the same run).

    python bench/service.py [--rate 150] [--duration 180] [--latency-seconds 30] [--learners 1000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import RedisServer, Service, setup_database  # noqa: E402

ANSWERS = sorted((ROOT / "tests" / "data" / "health-check").glob("sub-*.md"))
SUBMIT = "/api/v1/assignments/ml-health-check/submissions"


def pick_database(workdir: Path) -> str:
    url = os.environ.get(
        "GRADER_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    if url.startswith("postgresql"):
        try:
            engine = create_engine(url)
            schema = f"bench_{int(time.time())}"
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
            sep = "&" if "?" in url else "?"
            return f"{url}{sep}options=-csearch_path%3D{schema}"
        except Exception as exc:
            print(f"PostgreSQL unavailable ({type(exc).__name__}); using SQLite")
    return f"sqlite:///{workdir / 'bench.db'}"


class Sender:
    """Open-loop HTTP submitter: request i is due at start + i / rate."""

    def __init__(self, port: int, tokens: list[str], rate: float, seconds: float, threads: int = 8):
        self.port, self.tokens, self.rate, self.seconds = port, tokens, rate, seconds
        self.latencies: list[float] = []
        self.errors = 0
        self.lag = 0.0
        self._next = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.total = int(rate * seconds)

    def start(self) -> None:
        self.t0 = time.perf_counter() + 0.2
        for t in self._threads:
            t.start()

    def join(self) -> None:
        for t in self._threads:
            t.join()

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while True:
            with self._lock:
                i = self._next
                self._next += 1
            if i >= self.total:
                break
            due = self.t0 + i / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = ANSWERS[i % len(ANSWERS)].read_bytes() + f"\n<!-- {i} -->\n".encode()
            start = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    SUBMIT,
                    body=body,
                    headers={
                        "Authorization": f"Bearer {self.tokens[i % len(self.tokens)]}",
                        "Content-Type": "text/markdown",
                        "Idempotency-Key": f"bench-{self.rate}-{self.seconds}-{i}",
                    },
                )
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 202
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            end = time.perf_counter()
            with self._lock:
                if ok:
                    self.latencies.append(end - start)
                else:
                    self.errors += 1
                self.lag = max(self.lag, start - due)
        conn.close()


def counts(url: str) -> tuple[int, int]:
    from grader.service.models import Grade, Status, Submission

    engine = counts.engines.setdefault(
        url,
        create_engine(  # type: ignore[attr-defined]
            url.replace("postgresql://", "postgresql+psycopg://")
        ),
    )
    with engine.connect() as conn:
        graded = conn.execute(select(func.count()).select_from(Grade)).scalar_one()
        backlog = conn.execute(
            select(func.count())
            .select_from(Submission)
            .where(Submission.status.in_([Status.QUEUED, Status.GRADING]))
        ).scalar_one()
    return graded, backlog


counts.engines = {}  # type: ignore[attr-defined]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and all its live descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        # utime, stime (and reaped children's cutime, cstime)
        cpu[pid] = sum(int(v) for v in fields[11:15]) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def grading_core_cpu(passes: int = 5) -> float:
    """CPU seconds per answer of grade_text itself, on the sample answers."""
    from grader.scoring import grade_text, load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
    answers = [p.read_text() for p in ANSWERS]
    grade_text(answers[0], rubric)  # compiled once, as a worker does at start
    started = time.process_time()
    for _ in range(passes):
        for answer in answers:
            grade_text(answer, rubric)
    return (time.process_time() - started) / (passes * len(answers))


def main() -> None:
    # A SIGTERM (e.g. from `timeout`) must still stop the servers in the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=150.0, help="offered submissions/s")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument(
        "--learners", type=int, default=1000, help="learners submitting, round robin (a cohort)"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    redis = RedisServer(workdir / "redis")
    db_url = pick_database(workdir)
    svc = Service(workdir=workdir, database_url=db_url, redis_url=redis.url)
    tokens = setup_database(svc, extra_learners=args.learners)
    learners = [t for who, t in tokens.items() if who.startswith("learner-")]
    try:
        port = svc.start_web(workers=args.web_workers)
        svc.start_worker(concurrency=args.worker_processes, beat=True)
        print(
            f"{os.cpu_count()} cores; gunicorn x{args.web_workers}, celery worker x"
            f"{args.worker_processes}; redis {redis.url}; database "
            f"{'PostgreSQL' if db_url.startswith('postgresql') else 'SQLite'}"
        )

        web_proc, worker_proc = svc.procs[0], svc.procs[1]
        groups = {
            "web (gunicorn)": web_proc.pid,
            "worker (celery)": worker_proc.pid,
            "broker (redis)": redis.proc.pid if getattr(redis, "proc", None) else None,
        }
        cpu_before = {name: _tree_cpu(pid) for name, pid in groups.items() if pid}

        # 1. Sustained throughput.
        graded_before = counts(db_url)[0]
        sender = Sender(port, learners, args.rate, args.duration)
        samples: list[tuple[float, int, int]] = []
        sender.start()
        start = time.perf_counter()
        while any(t.is_alive() for t in sender._threads):
            time.sleep(1.0)
            graded, backlog = counts(db_url)
            samples.append((time.perf_counter() - start, graded, backlog))
        sender.join()
        send_end = time.perf_counter() - start
        drained = time.perf_counter()
        while counts(db_url)[1] > 0 and time.perf_counter() - drained < 120:
            time.sleep(0.5)
        drain_time = time.perf_counter() - drained
        graded_total = counts(db_url)[0]
        half = [s for s in samples if s[0] >= send_end / 2]
        steady = (
            (half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0])
            if len(half) > 1
            else float("nan")
        )
        overall = samples[-1][1] / samples[-1][0] if samples else float("nan")
        backlogs = [s[2] for s in samples]
        print(
            f"\nsustained load: offered {args.rate:.0f}/s for {args.duration:.0f} s "
            f"({sender.total} submissions, {sender.errors} errors, sender lag max "
            f"{sender.lag * 1e3:.0f} ms)"
        )
        print(f"  graded/s over the run:       {overall:7.1f}")
        print(f"  graded/s, second half:       {steady:7.1f}")
        print(
            f"  backlog max / at end of send: {max(backlogs)} / {backlogs[-1]}"
            f"  (first half max {max(b for t, _, b in samples if t < send_end / 2)})"
        )
        print(f"  drained the rest in {drain_time:.1f} s; graded {graded_total} of {sender.total}")
        cpu_after = {name: _tree_cpu(groups[name]) for name in cpu_before}  # type: ignore[arg-type]
        graded_run = max(1, graded_total - graded_before)
        core = grading_core_cpu()
        print(f"\nCPU per graded submission over the sustained run ({graded_run} graded):")
        total_cpu = 0.0
        for name in cpu_before:
            per = (cpu_after[name] - cpu_before[name]) / graded_run
            total_cpu += per
            print(f"  {name:18s} {per * 1e3:7.2f} ms")
        print(f"  {'all of them':18s} {total_cpu * 1e3:7.2f} ms")
        print(
            f"  grading core (grade_text, this process): {core * 1e3:.2f} ms per answer; "
            f"service / core = {total_cpu / core:.2f}x"
        )

        # 2. Submit latency at 100 req/s.
        lat = Sender(port, learners, 100.0, args.latency_seconds)
        lat.start()
        lat.join()
        ms = [v * 1e3 for v in lat.latencies]
        print(
            f"\nsubmit latency at 100 req/s for {args.latency_seconds:.0f} s "
            f"({len(ms)} ok, {lat.errors} errors):"
        )
        print(
            f"  p50 {statistics.median(ms):6.1f} ms   p99 {pct(ms, 0.99):6.1f} ms   "
            f"max {max(ms):6.1f} ms"
        )
    finally:
        svc.stop_all()
        redis.stop()
        for engine in counts.engines.values():  # type: ignore[attr-defined]
            engine.dispose()


if __name__ == "__main__":
    main()
