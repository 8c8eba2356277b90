"""Passages two answers share word for word: a hint of copying for instructors, never a
penalty by itself.

Words are compared as written (NFKC, case-folded; punctuation and markup ignored). Each run
of ``N`` words is hashed (a stable 63-bit hash), and winnowing (Schleimer et al., 2003) keeps
the smallest hash of every ``W`` consecutive ones as the answer's fingerprints: any passage
of ``N + W - 1`` words or more that two answers share gives both at least one common
fingerprint, yet an answer keeps only about ``2 / (W + 1)`` of its hashes. A store of
fingerprints finds an answer's candidates by index lookups; :func:`shared_passages` then
measures the actual passages between two texts in linear time. A text compared more than
once (the new answer against each candidate, the sample answers against every answer) is
prepared once (:func:`prepare`): its words and run hashes are the costly part.

Text everyone may repeat (the exercise's own wording, given as ``ignore``: a set of run
hashes) starts no passage, so quoting the task or its snapshot is not copying.

>>> a = "We first freeze the feature pipeline and add schema validation before retraining at all"
>>> b = "Plan: we first freeze the feature pipeline and add schema validation before retraining."
>>> [p.words for p in shared_passages(a, b)]
[12]
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

__all__ = [
    "N",
    "Passage",
    "Prepared",
    "Verdict",
    "Words",
    "compare",
    "fingerprints",
    "prepare",
    "run_hashes",
    "shared_passages",
    "words",
]

#: Words in a hashed run.
N = 8
#: Winnowing window: every shared passage of N + W - 1 words leaves a common fingerprint.
W = 4
#: Candidates per run hash followed when measuring passages (repeated phrases in one text).
_FOLLOW = 4
#: Words compared at a time when following a passage.
_BLOCK = 32
_WORD = re.compile(r"[^\W_]+")
#: A possible copy: one passage this long (independently written answers to the health
#: check share at most 18 words in a row, tests/data), or this many words in all making up
#: this share of the shorter text.
LONGEST = 30
SHARED = 60
SHARE = 0.3


@dataclass(frozen=True)
class Words:
    """A text's words (normalised) and where each lies in the text (worked out when first
    asked: only a passage found needs it)."""

    tokens: tuple[str, ...]
    text: str = field(repr=False)

    @cached_property
    def _spans(self) -> tuple[array[int], array[int]]:
        # Arrays of C longs (built only when a passage is found): a cached candidate keeps
        # 16 bytes a word for both, not ~140 as int objects.
        found = [m.span() for m in _WORD.finditer(self.text)]
        return array("L", [a for a, _ in found]), array("L", [b for _, b in found])

    @property
    def starts(self) -> array[int]:
        return self._spans[0]

    @property
    def ends(self) -> array[int]:
        return self._spans[1]


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage both texts hold: character spans in each and its length in words."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    words: int


def words(text: str) -> Words:
    if text.isascii():  # NFKC leaves ASCII alone and casefold is lower: one pass in C
        return Words(tuple(_WORD.findall(text.lower())), text)
    return Words(
        tuple(unicodedata.normalize("NFKC", w).casefold() for w in _WORD.findall(text)), text
    )


def _hash(run: Iterable[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(run).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # fits a signed 64-bit column


def run_hashes(w: Words) -> list[int]:
    """The hash of every run of N words, in order."""
    t = w.tokens
    return [_hash(t[i : i + N]) for i in range(len(t) - N + 1)]


@dataclass(frozen=True)
class Prepared:
    """A text's words, with what comparing it needs worked out once, when first needed:
    its run hashes (as the first text) and its index of runs (as the second)."""

    words: Words

    @cached_property
    def hashes(self) -> tuple[int, ...]:
        return tuple(run_hashes(self.words))

    @cached_property
    def index(self) -> dict[tuple[str, ...], tuple[int, ...]]:
        """Where each run of N words starts (at most ``_FOLLOW`` places per run), keyed by
        the run's words: an in-memory index needs no stable hash. Built in C when no run
        repeats (the usual case)."""
        t = self.words.tokens
        runs = list(zip(*(t[k:] for k in range(N)), strict=False))  # tails end early
        first = dict(zip(reversed(runs), range(len(runs) - 1, -1, -1), strict=True))
        if len(first) == len(runs):
            return {run: (j,) for run, j in first.items()}
        where: dict[tuple[str, ...], list[int]] = {}
        for j, run in enumerate(runs):
            spots = where.setdefault(run, [])
            if len(spots) < _FOLLOW:
                spots.append(j)
        return {run: tuple(spots) for run, spots in where.items()}


def prepare(text: str | Prepared) -> Prepared:
    return text if isinstance(text, Prepared) else Prepared(words(text))


def fingerprints(text: str | Prepared, ignore: frozenset[int] = frozenset()) -> set[int]:
    """The winnowed run hashes of text, without those in ``ignore`` (text anyone may
    repeat): what a store of answers indexes to find shared passages."""
    hashes = prepare(text).hashes
    if len(hashes) <= W:
        chosen = set(hashes)
    else:
        chosen = set()
        for i in range(len(hashes) - W + 1):
            chosen.add(min(hashes[i : i + W]))
    return chosen - ignore


def _agree(ta: tuple[str, ...], i: int, tb: tuple[str, ...], j: int, k: int) -> int:
    """How many words ta (from i) and tb (from j) have in common in a row, knowing the
    first k agree: compared a block at a time (tuple slices compare in C), then word by
    word inside the first block that differs."""
    while True:
        x, y = ta[i + k : i + k + _BLOCK], tb[j + k : j + k + _BLOCK]
        if x != y or len(x) < _BLOCK:
            break
        k += _BLOCK
    while i + k < len(ta) and j + k < len(tb) and ta[i + k] == tb[j + k]:
        k += 1
    return k


def shared_passages(
    a: str | Prepared,
    b: str | Prepared,
    ignore: frozenset[int] = frozenset(),
    min_words: int = N,
) -> list[Passage]:
    """The passages of at least ``min_words`` words that a and b share, in a's order,
    longest first where they overlap. Linear in the texts' lengths: each of a's runs
    follows at most a few of b's positions for it (b's index); a's run hashes only
    serve ``ignore``."""
    pa, pb = prepare(a), prepare(b)
    wa, wb = pa.words, pb.words
    ta, tb = wa.tokens, wb.tokens
    where, ha = pb.index, pa.hashes
    out: list[Passage] = []
    i = 0
    while i < len(ha):
        follow = where.get(ta[i : i + N])
        if follow is None or ha[i] in ignore:
            i += 1
            continue
        best, best_j = 0, -1
        for j in follow:
            k = _agree(ta, i, tb, j, N)  # the index matched the first N words
            if k > best:
                best, best_j = k, j
        if best >= min_words:
            out.append(
                Passage(
                    wa.starts[i],
                    wa.ends[i + best - 1],
                    wb.starts[best_j],
                    wb.ends[best_j + best - 1],
                    best,
                )
            )
            i += best
        else:
            i += 1
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """How much two texts share, and whether that hints at copying."""

    passages: tuple[Passage, ...]
    shared_words: int
    longest: int
    share: float  # of the shorter text's words

    @property
    def possible_copy(self) -> bool:
        return self.longest >= LONGEST or (self.shared_words >= SHARED and self.share >= SHARE)


def compare(a: str | Prepared, b: str | Prepared, ignore: frozenset[int] = frozenset()) -> Verdict:
    """The passages a and b share, with the figures the copy hint rests on."""
    pa, pb = prepare(a), prepare(b)
    passages = tuple(shared_passages(pa, pb, ignore))
    shared = sum(p.words for p in passages)
    shorter = min(len(pa.words.tokens), len(pb.words.tokens)) or 1
    return Verdict(
        passages, shared, max((p.words for p in passages), default=0), round(shared / shorter, 3)
    )
