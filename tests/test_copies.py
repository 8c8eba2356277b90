"""Near-duplicate answers: an answer copied half from another is listed with the shared
passage (staff only, the grade unchanged); independently written answers give no pairs;
quoting the exercise is not copying."""

from __future__ import annotations

import itertools
from pathlib import Path

from grader.scoring import load_rubric
from grader.scoring.overlap import (
    compare,
    fingerprints,
    prepare,
    run_hashes,
    shared_passages,
    words,
)

from .browser.support import add_web_users, login
from .conftest import ADVERSARIAL, HEALTH, ROOT, learner_tokens, run_worker_inline

RUBRIC = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
IGNORE = frozenset(run_hashes(words(RUBRIC.exercise)))
SAMPLES = "\n\n".join(r for c in RUBRIC.criteria for r in c.references)
# Answers written independently of each other: the graded sample and the ordinary
# adversarial answers (four writers; the unusual kinds are variants of shared bases).
INDEPENDENT = sorted(HEALTH.glob("sub-*.md")) + sorted((ADVERSARIAL / "answers").glob("o*.md"))


def _half_copy(source: str, own: str) -> str:
    """The first half of source's paragraphs, then the second half of own's."""
    a, b = source.split("\n\n"), own.split("\n\n")
    return "\n\n".join(a[: len(a) // 2] + b[len(b) // 2 :])


def _submitted(client, token: str, text: str) -> int:
    """A learner's answer, handed in (not graded yet): its id."""
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data=text,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/markdown"},
    )
    assert r.status_code == 202, r.get_json()
    return r.get_json()["id"]


def test_independent_answers_share_no_long_passages():
    texts = [p.read_text() for p in INDEPENDENT]
    assert len(texts) >= 40
    flagged = [
        (INDEPENDENT[i].name, INDEPENDENT[j].name)
        for i, j in itertools.combinations(range(len(texts)), 2)
        if compare(texts[i], texts[j], IGNORE).possible_copy
    ]
    assert flagged == []
    assert [
        p.name
        for p, t in zip(INDEPENDENT, texts, strict=True)
        if compare(t, SAMPLES, IGNORE).possible_copy
    ] == []


def test_a_half_copied_answer_is_found_with_its_passage():
    source, own = (
        (ADVERSARIAL / "answers" / "o01.md").read_text(),
        (ADVERSARIAL / "answers" / "o05.md").read_text(),
    )
    copied = _half_copy(source, own)
    verdict = compare(copied, source, IGNORE)
    assert verdict.possible_copy and verdict.longest >= 30 and 0.3 <= verdict.share <= 0.8
    longest = max(verdict.passages, key=lambda p: p.words)
    assert copied[longest.a_start : longest.a_end] == source[longest.b_start : longest.b_end]
    # The index finds it: the two share fingerprints, an unrelated answer hardly any.
    assert len(fingerprints(copied, IGNORE) & fingerprints(source, IGNORE)) >= 10
    # Copying the sample answers is a hint too.
    assert compare(SAMPLES[:3000] + "\n\n" + own, SAMPLES, IGNORE).possible_copy


def test_passages_end_where_the_texts_part_wherever_that_falls():
    """Passages are followed a block of words at a time: each ends at the first word that
    differs, before, on and after a block's edge, and at either text's end."""
    base = [f"w{i}" for i in range(200)]
    for cut in (8, 9, 31, 32, 33, 63, 64, 65, 199):
        other = base[:cut] + ["changed"] + base[cut + 1 :]
        passages = shared_passages(" ".join(base), " ".join(other))
        assert passages[0].words == cut
        if cut < 191:  # what follows the changed word is a passage of its own
            assert passages[1].words == 199 - cut
    assert [p.words for p in shared_passages(" ".join(base), " ".join(base[:100]))] == [100]
    assert [p.words for p in shared_passages(" ".join(base[50:]), " ".join(base))] == [150]


def test_words_are_normalised_the_same_in_ascii_and_other_text():
    ascii_text = "Drift Detection is DISABLED; the AUC fell to 0.78."
    w = words(ascii_text)
    assert w.tokens == (
        "drift",
        "detection",
        "is",
        "disabled",
        "the",
        "auc",
        "fell",
        "to",
        "0",
        "78",
    )
    assert [ascii_text[a:b] for a, b in zip(w.starts, w.ends, strict=True)][:2] == [
        "Drift",
        "Detection",
    ]
    # Full-width letters and a ligature (NFKC), a German sharp s (case folding).
    other = words("ＤＲＩＦＴ ﬁle Straße")
    assert other.tokens == ("drift", "file", "strasse")
    assert (tuple(other.starts), tuple(other.ends)) == ((0, 6, 10), (5, 9, 16))


def test_a_prepared_text_compares_as_its_text_does():
    texts = [p.read_text() for p in INDEPENDENT[:6]]
    copied = _half_copy(texts[0], texts[1])
    for a, b in itertools.permutations([*texts, copied], 2):
        assert compare(prepare(a), prepare(b), IGNORE) == compare(a, b, IGNORE)
        assert fingerprints(prepare(a), IGNORE) == fingerprints(a, IGNORE)


def test_quoting_the_exercise_is_not_copying():
    exercise = RUBRIC.exercise
    a = exercise + "\n\n" + (HEALTH / "sub-010.md").read_text()
    b = exercise + "\n\n" + (HEALTH / "sub-020.md").read_text()
    assert not compare(a, b, IGNORE).possible_copy
    assert compare(a, b).possible_copy  # without the exercise ignored, it would be


def test_copy_hints_through_the_service(app, client, actors, assignment, enqueued):
    staff = actors.h("instructor")
    source = (ADVERSARIAL / "answers" / "o01.md").read_text()
    copied = _half_copy(source, (ADVERSARIAL / "answers" / "o05.md").read_text())
    ids = []
    tokens = learner_tokens(app, 4)
    for token, text in zip(
        tokens,
        [source, (HEALTH / "sub-010.md").read_text(), copied, (HEALTH / "sub-020.md").read_text()],
        strict=True,
    ):
        ids.append(_submitted(client, token, text))
        assert run_worker_inline(app, ids[-1]) == "graded"
    first, _, second, _ = ids
    seen = client.get(f"/api/v1/submissions/{second}", headers=staff).get_json()
    (hint,) = seen["possible_copy"]
    assert hint["submission"] == first and hint["longest"] >= 30
    # Each passage as the answer words it (cut at 600 characters), found in the source.
    assert any(len(p.split()) >= 30 and p.rstrip("…") in source for p in hint["passages"])
    other = client.get(f"/api/v1/submissions/{first}", headers=staff).get_json()
    assert [h["submission"] for h in other["possible_copy"]] == [second]
    unrelated = client.get(f"/api/v1/submissions/{ids[1]}", headers=staff).get_json()
    assert "possible_copy" not in unrelated
    # Never shown to the learner; the grade is not touched.
    mine = client.get(
        f"/api/v1/submissions/{second}", headers={"Authorization": f"Bearer {tokens[2]}"}
    ).get_json()
    assert "possible_copy" not in mine
    assert "possible_copy" not in seen["grade"]["flags"]
    # The queue filters on it and shows it.
    queue = client.get(
        "/api/v1/review-queue?flag=possible_copy&status=all", headers=staff
    ).get_json()
    assert sorted(i["id"] for i in queue["items"]) == sorted([first, second])
    assert all("possible_copy" in i["flags"] for i in queue["items"])
    listed = client.get("/api/v1/assignments/ml-health-check/copies", headers=staff).get_json()
    assert [(p["submission"], p["other"]) for p in listed["items"]] == [(second, first)]
    assert (
        client.get(
            "/api/v1/assignments/ml-health-check/copies", headers=actors.h("learner")
        ).status_code
        == 403
    )
    # The review page lists it with the passage marked.
    people = add_web_users(app)
    web = app.test_client()
    login(web, people["instructor"])
    page = web.get(f"/review/submissions/{second}").get_data(as_text=True)
    assert 'id="possible-copy"' in page and "<mark>" in page
    assert f"/review/submissions/{first}" in page
    # A repeated grading does not double the hints.
    from grader.service.operations import copies

    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert copies.record(s, second) == 0


def test_a_long_copied_answer_is_found(app, client, actors, assignment, enqueued):
    """An answer with thousands of fingerprints (more than one lookup used to carry) is
    looked up in one statement and still finds the answer it copies."""
    source = "\n\n".join(p.read_text() for p in sorted(HEALTH.glob("sub-*.md")))
    assert len(fingerprints(source, IGNORE)) > 2000
    ids = []
    for token, text in zip(learner_tokens(app, 2), [source, source + " Mine."], strict=True):
        ids.append(_submitted(client, token, text))
        assert run_worker_inline(app, ids[-1]) == "graded"
    seen = client.get(f"/api/v1/submissions/{ids[1]}", headers=actors.h("instructor")).get_json()
    assert [h["submission"] for h in seen["possible_copy"]] == [ids[0]]
    assert seen["possible_copy"][0]["share"] == 1.0


def test_a_hint_counts_on_both_answers_and_changes_neither_stamp(
    app, client, actors, assignment, enqueued
):
    """The copy's hint is counted on the copied answer too, in one update, and neither
    row's updated_at moves (what the API shows and the lost-regrade check read)."""
    from grader.service.models import Submission

    source = (ADVERSARIAL / "answers" / "o01.md").read_text()
    ids = []
    for token, text in zip(
        learner_tokens(app, 3), [source, source, source + " Mine."], strict=True
    ):
        ids.append(_submitted(client, token, text))
        with app.app_context(), app.extensions["db"].session_scope() as s:
            stamps = {i: s.get(Submission, i).updated_at for i in ids[:-1]}
        assert run_worker_inline(app, ids[-1]) == "graded"
        with app.app_context(), app.extensions["db"].session_scope() as s:
            assert {i: s.get(Submission, i).updated_at for i in ids[:-1]} == stamps
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert [s.get(Submission, i).copy_hints for i in ids] == [2, 2, 2]


def test_the_candidate_cache_keeps_only_ordinary_answers():
    """Candidates are cached prepared (the same few answers are every copy's candidates), but
    not a long answer: the cache's memory stays bounded whatever the answers' size."""
    from grader.service.operations import copies

    short = (HEALTH / "sub-010.md").read_text() + "\n\nCache me."
    long = short * 10
    assert len(short) <= copies._CACHED_CHARS < len(long)
    before = len(copies._RECENT)
    assert copies._prepared(long).words.tokens == words(long).tokens
    assert len(copies._RECENT) == before
    p = copies._prepared(short)
    fresh = words(short)
    assert (p.words.tokens, p.words.starts, p.words.ends) == (
        fresh.tokens,
        fresh.starts,
        fresh.ends,
    )
    assert copies._prepared(short) is p  # prepared once: its index and positions too
    assert copies._RECENT.held <= copies._RECENT.budget


def test_the_candidate_cache_drops_the_least_recently_used_past_its_budget():
    from grader.service.operations.copies import _Recent

    recent = _Recent(budget=25)
    a, b, c = "a " * 5, "b " * 5, "c " * 5  # ten characters each
    first = recent.get(a)
    recent.get(b)
    assert recent.get(a) is first  # used again: b is now the oldest
    recent.get(c)
    assert (len(recent), recent.held) == (2, 20)
    assert recent.get(a) is first  # kept
    assert recent.get(b).words.tokens == ("b",) * 5  # prepared again: it was dropped
    assert recent.held <= 25


def test_candidates_with_the_same_text_are_measured_once(
    monkeypatch, app, client, actors, assignment, enqueued
):
    """Three learners hand in one text: the third answer's two candidates share that text,
    so it is compared with them once, yet both pairs get their hint."""
    from grader.service.operations import copies

    text = (ADVERSARIAL / "answers" / "o01.md").read_text()
    measured: list[str] = []
    real = copies.compare

    def counting(a, b, ignore=frozenset()):
        measured.append(b if isinstance(b, str) else b.words.text)
        return real(a, b, ignore)

    monkeypatch.setattr(copies, "compare", counting)
    ids = []
    for token in learner_tokens(app, 3):
        ids.append(_submitted(client, token, text))
        measured.clear()
        assert run_worker_inline(app, ids[-1]) == "graded"
    # The third answer: once with the samples, once with the two identical candidates.
    assert len(measured) == 2 and measured.count(text) == 1
    seen = client.get(f"/api/v1/submissions/{ids[2]}", headers=actors.h("instructor")).get_json()
    assert sorted(h["submission"] for h in seen["possible_copy"]) == sorted(ids[:2])
    assert all(h["share"] == 1.0 for h in seen["possible_copy"])


def test_the_index_never_compares_every_pair(app, client, actors, assignment, enqueued):
    """40 independent answers: no hints, and each answer measures only its few candidates."""
    import grader.service.operations.copies as copies

    measured = []
    real = copies.compare

    def counting(a, b, ignore=frozenset()):
        measured.append(1)
        return real(a, b, ignore)

    copies.compare = counting
    try:
        for token, path in zip(learner_tokens(app, 40), INDEPENDENT[:40], strict=True):
            r = client.post(
                "/api/v1/assignments/ml-health-check/submissions",
                data=Path(path).read_text(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/markdown"},
            )
            assert run_worker_inline(app, r.get_json()["id"]) == "graded"
    finally:
        copies.compare = real
    listed = client.get(
        "/api/v1/assignments/ml-health-check/copies", headers=actors.h("instructor")
    ).get_json()
    assert listed["items"] == []
    # One comparison with the samples per answer, plus at most CANDIDATES others.
    assert len(measured) <= 40 * (1 + copies.CANDIDATES)


def test_two_answers_indexed_at_once_still_find_each_other(
    app, client, actors, assignment, enqueued, monkeypatch
):
    """Two workers index near-identical answers at the same moment: one of them must see
    the other (a lock per assignment on PostgreSQL, the write lock first on SQLite)."""
    import threading

    from sqlalchemy import func, select

    from grader.service.models import CopyHint, Submission
    from grader.service.operations import copies

    monkeypatch.setattr(copies, "after_grading", lambda *a, **k: None)  # index by hand
    source = (ADVERSARIAL / "answers" / "o01.md").read_text()
    ids = []
    for token in learner_tokens(app, 2):
        ids.append(_submitted(client, token, source + "\n\nMine."))
        assert run_worker_inline(app, ids[-1]) == "graded"
    together = threading.Barrier(2, timeout=2)
    real = copies.fingerprints

    def in_step(text, ignore=frozenset()):
        try:  # both compute their fingerprints at the same time, where a lock allows
            together.wait()
        except threading.BrokenBarrierError:
            pass
        return real(text, ignore)

    monkeypatch.setattr(copies, "fingerprints", in_step)
    db = app.extensions["db"]
    errors = []

    def index(sid):
        try:
            with db.sessionmaker() as session, session.begin():
                copies.record(session, sid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=index, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with db.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(CopyHint)) == 1
        assert [s.get(Submission, i).copy_hints for i in ids] == [1, 1]


def test_an_answer_whose_indexing_failed_is_indexed_by_the_reconciler(
    app, client, actors, assignment, enqueued, monkeypatch
):
    """A failed copy indexing leaves the grade standing and the answer marked unindexed;
    the reconciler's pass indexes it later (once it has settled), finds the copy it makes,
    and leaves it alone afterwards."""
    from datetime import timedelta

    from sqlalchemy import select

    from grader.service import tasks
    from grader.service.models import AnswerFingerprint, Submission
    from grader.service.operations import copies

    source = (ADVERSARIAL / "answers" / "o01.md").read_text()
    copied = _half_copy(source, (ADVERSARIAL / "answers" / "o05.md").read_text())
    ids = []
    real = copies.record
    for i, (token, text) in enumerate(zip(learner_tokens(app, 2), [source, copied], strict=True)):
        if i == 1:

            def broken(session, submission_id, answer=None):
                raise RuntimeError("the index is unavailable")

            monkeypatch.setattr(copies, "record", broken)
        ids.append(_submitted(client, token, text))
        assert run_worker_inline(app, ids[-1]) == "graded"  # the grade stands
    monkeypatch.setattr(copies, "record", real)
    first, second = ids

    def state():
        with app.app_context(), app.extensions["db"].session_scope() as s:
            return {
                sid: (
                    s.get(Submission, sid).copy_indexed,
                    s.get(Submission, sid).copy_hints,
                    s.scalar(
                        select(AnswerFingerprint.hash)
                        .where(AnswerFingerprint.submission_id == sid)
                        .limit(1)
                    )
                    is not None,
                )
                for sid in ids
            }

    assert state() == {first: (True, 0, True), second: (False, 0, False)}
    # A fresh grade is the worker's to index: the reconciler waits for it to settle.
    with app.app_context():
        tasks.reconcile.run()
    assert state()[second] == (False, 0, False)
    factory = app.extensions["db"].sessionmaker
    monkeypatch.setattr(copies, "record", broken)  # still failing: tried, left for later
    assert copies.index_missed(factory, older_than=timedelta(0)) == (1, 0)
    assert state()[second] == (False, 0, False)
    monkeypatch.setattr(copies, "record", real)
    assert copies.index_missed(factory, older_than=timedelta(0)) == (1, 1)
    assert state() == {first: (True, 1, True), second: (True, 1, True)}
    assert copies.index_missed(factory, older_than=timedelta(0)) == (0, 0)


def test_an_answer_that_always_fails_to_index_does_not_hold_up_the_others(
    app, client, actors, assignment, enqueued, monkeypatch
):
    """A pass goes past a failing answer to the others (drawn in random order, so the same
    one cannot come first every time), and stops after a few failures in a row."""
    from datetime import timedelta

    from grader.service.models import Submission
    from grader.service.operations import copies

    real = copies.record
    monkeypatch.setattr(copies, "record", lambda session, sid, answer=None: 1 / 0)
    ids = []
    names = ["sub-010.md", "sub-020.md", "sub-027.md", "sub-029.md"]
    for token, name in zip(learner_tokens(app, 4), names, strict=True):
        ids.append(_submitted(client, token, (HEALTH / name).read_text()))
        assert run_worker_inline(app, ids[-1]) == "graded"
    factory = app.extensions["db"].sessionmaker
    # The index is down: a pass stops after MISSED_FAILURES, nothing marked.
    assert copies.index_missed(factory, older_than=timedelta(0)) == (copies.MISSED_FAILURES, 0)
    bad = ids[0]

    def poisoned(session, sid, answer=None):
        if sid == bad:
            raise RuntimeError("this one always fails")
        return real(session, sid, answer)

    monkeypatch.setattr(copies, "record", poisoned)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        stamps = [s.get(Submission, i).updated_at for i in ids]
    assert copies.index_missed(factory, older_than=timedelta(0)) == (4, 3)
    assert copies.index_missed(factory, older_than=timedelta(0)) == (1, 0)
    with app.app_context(), app.extensions["db"].session_scope() as s:
        assert [s.get(Submission, i).copy_indexed for i in ids] == [False, True, True, True]
        # Marking a row indexed is bookkeeping: its updated_at stays (no hints were found).
        assert [s.get(Submission, i).updated_at for i in ids] == stamps
