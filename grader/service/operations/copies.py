"""Near-duplicate answers: pairs that share long passages word for word, and answers that
copy the rubric's sample answers, as hints for instructors (staff only, never a penalty).

When an answer is first graded, :func:`record` stores its fingerprints
(:func:`grader.scoring.overlap.fingerprints`), finds the assignment's other current
answers (other learners') that share some by index lookups, measures the passages with
each of the few best candidates and keeps a :class:`~grader.service.models.CopyHint` for
each pair that passes :attr:`~grader.scoring.overlap.Verdict.possible_copy`. The cost per
answer grows with its own length and its candidates, not with the assignment's size.
The exercise's own wording is ignored (quoting the task is not copying). An answer whose
indexing failed stays marked unindexed and :func:`index_missed` (the reconciler) indexes it.

Long because: indexing, its retry, the hints' reads and the pair listing share one set of
statements written for both databases (array lookups on PostgreSQL, ``json_each`` on SQLite).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    any_,
    bindparam,
    case,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from grader.scoring import Rubric
from grader.scoring.overlap import (
    Prepared,
    Verdict,
    compare,
    fingerprints,
    prepare,
    run_hashes,
    words,
)

from ..models import (
    AnswerFingerprint,
    Assignment,
    CopyHint,
    RubricVersion,
    Status,
    Submission,
    User,
    utcnow,
)
from .assignments import learner_shown, shown_learner
from .rubrics import parsed, rubric_for

__all__ = ["CANDIDATES", "after_grading", "hints_for", "index_missed", "pairs", "record"]

log = logging.getLogger(__name__)
#: Candidates measured per answer: those sharing the most fingerprints.
CANDIDATES = 10
#: Hints listed for one answer (the largest), whatever points at it.
SHOWN = 20
# Rows per insert (well inside every database's parameter limit).
_INSERT_BATCH = 1000
# Advisory-lock keys of copy indexing: this offset plus the assignment id.
_LOCK_SPACE = 7_340_000_000
#: Fingerprints two answers must share to be measured (a 30-word passage leaves >= 5).
_MIN_COMMON = 3
#: Passages shown per pair, each cut to this many characters.
_SHOWN, _CUT = 5, 600

_FINGERPRINTS = cast(Table, AnswerFingerprint.__table__)
_HINTS = cast(Table, CopyHint.__table__)
_SUBMISSIONS = cast(Table, Submission.__table__)
# Answers lately compared, prepared (words, where each lies, the index of runs): the same
# few are every copy's candidates, and preparing a candidate costs forty times comparing
# it with a copy. The cache is bounded by the characters it holds (a prepared text takes
# about 47 bytes per character: under 36 MB per worker process); a long answer is not kept.
_CACHED_CHARS, _CACHE_BUDGET = 12_000, 750_000


class _Recent:
    """Prepared texts, least recently used dropped first once ``budget`` characters are held."""

    def __init__(self, budget: int) -> None:
        self.budget, self.held = budget, 0
        self._items: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Prepared:
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
                return found
        made = Prepared(words(text))
        with self._lock:
            if text not in self._items:
                self._items[text] = made
                self.held += len(text)
                while self.held > self.budget:
                    dropped, _ = self._items.popitem(last=False)
                    self.held -= len(dropped)
        return made

    def __len__(self) -> int:
        return len(self._items)


_RECENT = _Recent(_CACHE_BUDGET)


def _prepared(text: str) -> Prepared:
    if len(text) > _CACHED_CHARS:
        return Prepared(words(text))
    return _RECENT.get(text)


_IGNORE: dict[str, tuple[frozenset[int], Prepared | None]] = {}
_LOCK = threading.Lock()


def _rubric_texts(rubric: Rubric) -> tuple[frozenset[int], Prepared | None]:
    """The run hashes of the exercise's wording, and the sample answers' text prepared
    for comparison (every answer is compared with it), per rubric version."""
    with _LOCK:
        found = _IGNORE.get(rubric.version)
    if found is None:
        samples = "\n\n".join(r for c in rubric.criteria for r in c.references)
        found = (
            frozenset(run_hashes(words(rubric.exercise))),
            prepare(samples) if samples else None,
        )
        with _LOCK:
            _IGNORE[rubric.version] = found
    return found


class Answer(NamedTuple):
    """What indexing reads of an answer, when the caller has it already (the worker did)."""

    id: int
    assignment_id: int
    learner_id: int
    content: str
    rubric_version: str


def record(session: Session, submission_id: int, answer: Answer | None = None) -> int:
    """Index a newly graded answer and keep a hint for each answer (or the sample answers)
    it shares long passages with; returns the hints kept. Safe to run again: an answer
    already indexed is left alone. The caller commits.

    Two answers graded at once must see each other: on PostgreSQL a lock per assignment
    orders the indexing; on SQLite the fingerprints are written first, which takes the
    database's write lock before the candidates are read. The worker runs this after
    every first grade, so it is a fixed handful of statements whatever the answer shares:
    on PostgreSQL the lock, the index (check, insert and mark in one statement) and the
    candidates with their text (the answer is read first unless the caller passes it),
    and only where hints are kept one insert of them and one update of the counts."""
    sub = (
        answer
        or session.execute(
            select(
                Submission.id,
                Submission.assignment_id,
                Submission.learner_id,
                Submission.content,
                Assignment.rubric_version,
            )
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .where(Submission.id == submission_id)
        ).one_or_none()
    )
    if sub is None:
        return 0
    rubric = parsed(sub.rubric_version) or rubric_for(
        session.get_one(RubricVersion, sub.rubric_version)
    )
    ignore, samples = _rubric_texts(rubric)
    content = prepare(sub.content)
    found = sorted(fingerprints(content, ignore))  # before the lock: others need not wait
    if not found:
        session.execute(_INDEXED, {"sid": sub.id})
        return 0
    postgresql = session.get_bind().dialect.name == "postgresql"
    if not _index(session, sub.id, sub.assignment_id, found, postgresql):
        return 0  # indexed already (a repeated run)
    candidates = session.execute(
        _SHARED_POSTGRESQL if postgresql else _SHARED_SQLITE,
        {
            "aid": sub.assignment_id,
            "sid": sub.id,
            "lid": sub.learner_id,
            "hashes": found if postgresql else json.dumps(found),
        },
    ).all()
    kept: list[tuple[int | None, Verdict]] = []
    measured: dict[str, Verdict] = {}  # candidates with the same text are measured once
    for other_id, other in candidates:
        other = other or ""
        verdict = measured.get(other)
        if verdict is None:
            verdict = measured[other] = compare(content, _prepared(other), ignore)
        if verdict.possible_copy:
            kept.append((other_id, verdict))
    if samples is not None:
        verdict = compare(content, samples, ignore)
        if verdict.possible_copy:
            kept.append((None, verdict))
    if not kept:
        return 0
    now = utcnow()
    session.execute(
        insert(_HINTS),
        [
            {
                "assignment_id": sub.assignment_id,
                "submission_id": sub.id,
                "other_id": hinted,
                "shared_words": verdict.shared_words,
                "longest": verdict.longest,
                "share": verdict.share,
                "spans": [[p.a_start, p.a_end, p.b_start, p.b_end] for p in _largest(verdict)],
                "created_at": now,
            }
            for hinted, verdict in kept
        ],
    )
    # One update for every count: this answer gains a hint per pair, each other answer one
    # (candidates are distinct). Bookkeeping again: updated_at stays.
    hinted_ids = sorted(h for h, _ in kept if h is not None)
    session.execute(
        update(_SUBMISSIONS)
        .where(_SUBMISSIONS.c.id.in_([sub.id, *hinted_ids]))
        .values(
            copy_hints=_SUBMISSIONS.c.copy_hints
            + case((_SUBMISSIONS.c.id == sub.id, len(kept)), else_=1),
            updated_at=_SUBMISSIONS.c.updated_at,
        )
    )
    return len(kept)


def _shared(given: Any) -> Any:
    """The ``CANDIDATES`` other learners' current answers in the assignment that hold most of
    the ``given`` hashes (at least ``_MIN_COMMON``), most first, with their text. The hashes
    are one parameter (an array; JSON on SQLite), so the statement is the same for every
    answer (compiled once) whatever its length."""
    best = (
        select(AnswerFingerprint.submission_id.label("sid"), func.count().label("n"))
        .join(Submission, Submission.id == AnswerFingerprint.submission_id)
        .where(
            AnswerFingerprint.assignment_id == bindparam("aid"),
            given,
            AnswerFingerprint.submission_id != bindparam("sid"),
            Submission.learner_id != bindparam("lid"),
            Submission.current,
        )
        .group_by(AnswerFingerprint.submission_id)
        .having(func.count() >= _MIN_COMMON)
        .order_by(func.count().desc(), AnswerFingerprint.submission_id)
        .limit(CANDIDATES)
        .subquery()
    )
    return (
        select(best.c.sid, Submission.content)
        .join(Submission, Submission.id == best.c.sid)
        .order_by(best.c.n.desc(), best.c.sid)
    )


_SHARED_POSTGRESQL = _shared(
    AnswerFingerprint.hash == any_(bindparam("hashes", type_=ARRAY(BigInteger)))
)
_SHARED_SQLITE = _shared(
    AnswerFingerprint.hash.in_(
        select(literal_column("value")).select_from(
            func.json_each(bindparam("hashes", type_=String()))
        )
    )
)
# A bookkeeping mark: the row's updated_at (what the API shows, the dashboard's stamp, the
# lost-regrade check) stays as it is.
_INDEXED = (
    update(_SUBMISSIONS)
    .where(_SUBMISSIONS.c.id == bindparam("sid"))
    .values(copy_indexed=True, updated_at=_SUBMISSIONS.c.updated_at)
)
# Under the assignment's lock (taken with the plan setting the candidates' lookup wants:
# a plan for this answer's hashes, not a generic one for "= ANY" scans), one statement:
# store the fingerprints unless a run before this one did, and mark the answer indexed.
_LOCK_POSTGRESQL = text(
    "SELECT pg_advisory_xact_lock(:k), set_config('plan_cache_mode', 'force_custom_plan', true)"
)
_INDEX_POSTGRESQL = text("""
WITH done AS (
    SELECT EXISTS (SELECT 1 FROM answer_fingerprints WHERE submission_id = :sid) AS yes
), f AS (
    INSERT INTO answer_fingerprints (submission_id, hash, assignment_id)
    SELECT :sid, h, :aid FROM unnest(CAST(:hashes AS bigint[])) AS h
    WHERE NOT (SELECT yes FROM done)
), m AS (
    UPDATE submissions SET copy_indexed = true WHERE id = :sid
)
SELECT NOT yes FROM done
""")


def _index(
    session: Session,
    submission_id: int,
    assignment_id: int,
    found: list[int],
    postgresql: bool,
) -> bool:
    """Store an answer's fingerprints and mark it indexed, under the lock that orders the
    assignment's indexing; False when it was indexed already (nothing is stored again).
    Two statements on PostgreSQL (the hashes as one array); SQLite's executemany is a loop
    in C already."""
    if postgresql:
        session.execute(_LOCK_POSTGRESQL, {"k": _LOCK_SPACE + assignment_id})
        fresh = session.scalar(
            _INDEX_POSTGRESQL,
            # An array literal: the driver's list adapter costs more per element than a
            # join. (The candidates' lookup takes the list: its planner must see the values.)
            {
                "sid": submission_id,
                "aid": assignment_id,
                "hashes": "{" + ",".join(map(str, found)) + "}",
            },
        )
        return bool(fresh)
    if session.scalar(
        select(AnswerFingerprint.hash)
        .where(AnswerFingerprint.submission_id == submission_id)
        .limit(1)
    ):
        session.execute(_INDEXED, {"sid": submission_id})
        return False
    for start in range(0, len(found), _INSERT_BATCH):
        session.execute(
            insert(_FINGERPRINTS),
            [
                {"submission_id": submission_id, "hash": h, "assignment_id": assignment_id}
                for h in found[start : start + _INSERT_BATCH]
            ],
        )
    session.execute(_INDEXED, {"sid": submission_id})
    return True


def after_grading(
    session_factory: Callable[[], Session],
    submission_id: int,
    outcome: str,
    answer: Answer | None = None,
) -> bool:
    """Index a first-graded answer (the worker calls it, with the ``answer`` it graded). A
    hint must never cost a grade: a failure is logged (False), the grade stands, the answer
    stays unindexed until the reconciler's :func:`index_missed` indexes it."""
    if outcome != "graded":
        return True
    try:
        with session_factory() as session, session.begin():
            record(session, submission_id, answer)
    except Exception:
        log.exception("copy hints for submission %s failed; the grade stands", submission_id)
        return False
    return True


#: First grades left unindexed (their indexing failed) tried again per reconciler run, and
#: the failures after which a run stops (the index is probably down).
MISSED_BATCH, MISSED_FAILURES = 50, 3


def index_missed(
    session_factory: Callable[[], Session], *, older_than: timedelta, limit: int = MISSED_BATCH
) -> tuple[int, int]:
    """Index again, one transaction each, graded current answers whose first indexing failed
    and that have not changed for ``older_than`` (the worker indexes a fresh grade itself):
    returns (tried, indexed). The reconciler calls it. They are drawn in random order, so an
    answer that always fails cannot hold up the others, whichever process runs the pass."""
    with session_factory() as session:
        ids = list(
            session.scalars(
                select(Submission.id)
                .where(
                    Submission.copy_indexed == false(),  # the partial index's "NOT copy_indexed"
                    Submission.current,
                    Submission.status.in_([Status.GRADED, Status.RELEASED]),
                    Submission.updated_at < utcnow() - older_than,
                )
                .order_by(func.random())
                .limit(limit)
            )
        )
    tried = indexed = failures = 0
    for sid in ids:
        tried += 1
        if after_grading(session_factory, sid, "graded"):
            indexed += 1
        else:
            failures += 1
            if failures >= MISSED_FAILURES:
                break
    return tried, indexed


def hints_for(session: Session, sub: Submission, *, passages: bool = False) -> list[dict[str, Any]]:
    """The answers (or sample answers) sub shares long passages with, largest first (at
    most ``SHOWN``); with ``passages``, the longest shared passages as this answer words
    them, cut from the spans found when the hint was made (nothing is compared again)."""
    rows = session.scalars(
        select(CopyHint)
        .where(or_(CopyHint.submission_id == sub.id, CopyHint.other_id == sub.id))
        .order_by(CopyHint.shared_words.desc(), CopyHint.id)
        .limit(SHOWN)
    ).all()
    mine = (
        session.scalar(select(Submission.content).where(Submission.id == sub.id)) or ""
        if passages and rows
        else ""
    )
    out = []
    for h in rows:
        ours = h.submission_id == sub.id
        other_id = h.other_id if ours else h.submission_id
        item: dict[str, Any] = {
            "submission": other_id,
            "learner": None,
            "shared_words": h.shared_words,
            "longest": h.longest,
            "share": h.share,
        }
        if other_id is not None:
            other = session.get(Submission, other_id)
            item["learner"] = shown_learner(other)["name"] if other is not None else None
        if passages:
            item["passages"] = [
                _cut(mine[a:b] if ours else mine[c:d]) for a, b, c, d in (h.spans or [])
            ]
        out.append(item)
    return out


def _largest(verdict: Verdict) -> list[Any]:
    return sorted(verdict.passages, key=lambda p: -p.words)[:_SHOWN]


def _cut(text: str) -> str:
    return text if len(text) <= _CUT else text[: _CUT - 1].rstrip() + "…"


def pairs(
    session: Session, assignment_id: int, blind: bool, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The assignment's copy hints between current answers (and with the sample answers),
    most shared first; under blind review (``blind``) without the names of the learners
    whose grades are not released."""
    mine, theirs = aliased(Submission), aliased(Submission)
    learner, other_learner = aliased(User), aliased(User)
    query = (
        select(
            CopyHint,
            learner.id,
            learner.name,
            mine.released_at,
            other_learner.id,
            other_learner.name,
            theirs.released_at,
        )
        .join(mine, mine.id == CopyHint.submission_id)
        .join(learner, learner.id == mine.learner_id)
        .outerjoin(theirs, theirs.id == CopyHint.other_id)
        .outerjoin(other_learner, other_learner.id == theirs.learner_id)
        .where(
            CopyHint.assignment_id == assignment_id,
            mine.current,
            or_(CopyHint.other_id.is_(None), theirs.current),
        )
        .order_by(CopyHint.shared_words.desc(), CopyHint.id)
        .limit(limit)
        .offset(offset)
    )
    out = []
    for h, lid, name, released, other_lid, other_name, other_released in session.execute(query):
        if other_name is not None and h.other_id is not None:
            other_name = learner_shown(
                blind, h.other_id, other_lid, other_name, other_released is not None
            )["name"]
        out.append(
            {
                "submission": h.submission_id,
                "learner": learner_shown(blind, h.submission_id, lid, name, released is not None)[
                    "name"
                ],
                "other": h.other_id,
                "other_learner": other_name,
                "shared_words": h.shared_words,
                "longest": h.longest,
                "share": h.share,
            }
        )
    return out
