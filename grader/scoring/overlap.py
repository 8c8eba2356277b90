"""Passages two answers share word for word: a hint of copying for instructors, never a
penalty by itself.

Words are compared as written (NFKC, case-folded; punctuation and markup ignored). Each run
of ``N`` words is hashed (a stable 63-bit hash), and winnowing (Schleimer et al., 2003) keeps
the smallest hash of every ``W`` consecutive ones as the answer's fingerprints: any passage
of ``N + W - 1`` words or more that two answers share gives both at least one common
fingerprint, yet an answer keeps only about ``2 / (W + 1)`` of its hashes. A store of
fingerprints finds an answer's candidates by index lookups; :func:`shared_passages` then
measures the actual passages between two texts in linear time.

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
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "N",
    "Passage",
    "Verdict",
    "Words",
    "compare",
    "fingerprints",
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
_WORD = re.compile(r"[^\W_]+")
#: A possible copy: one passage this long (independently written answers to the health
#: check share at most 18 words in a row, tests/data), or this many words in all making up
#: this share of the shorter text.
LONGEST = 30
SHARED = 60
SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Words:
    """A text's words (normalised) and where each lies in the text."""

    tokens: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage both texts hold: character spans in each and its length in words."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    words: int


def words(text: str) -> Words:
    tokens, starts, ends = [], [], []
    for m in _WORD.finditer(text):
        tokens.append(unicodedata.normalize("NFKC", m.group()).casefold())
        starts.append(m.start())
        ends.append(m.end())
    return Words(tuple(tokens), tuple(starts), tuple(ends))


def _hash(run: Iterable[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(run).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # fits a signed 64-bit column


def run_hashes(w: Words) -> list[int]:
    """The hash of every run of N words, in order."""
    t = w.tokens
    return [_hash(t[i : i + N]) for i in range(len(t) - N + 1)]


def fingerprints(text: str, ignore: frozenset[int] = frozenset()) -> set[int]:
    """The winnowed run hashes of text, without those in ``ignore`` (text anyone may
    repeat): what a store of answers indexes to find shared passages."""
    hashes = run_hashes(words(text))
    if len(hashes) <= W:
        chosen = set(hashes)
    else:
        chosen = set()
        for i in range(len(hashes) - W + 1):
            chosen.add(min(hashes[i : i + W]))
    return chosen - ignore


def shared_passages(
    a: str, b: str, ignore: frozenset[int] = frozenset(), min_words: int = N
) -> list[Passage]:
    """The passages of at least ``min_words`` words that a and b share, in a's order,
    longest first where they overlap. Linear in the texts' lengths: each of a's runs
    follows at most a few of b's positions for it."""
    wa, wb = words(a), words(b)
    ha, hb = run_hashes(wa), run_hashes(wb)
    where: dict[int, list[int]] = {}
    for j, h in enumerate(hb):
        spots = where.setdefault(h, [])
        if len(spots) < _FOLLOW:
            spots.append(j)
    out: list[Passage] = []
    i = 0
    ta, tb = wa.tokens, wb.tokens
    while i < len(ha):
        h = ha[i]
        if h in ignore or h not in where:
            i += 1
            continue
        best, best_j = 0, -1
        for j in where[h]:
            k = 0
            while i + k < len(ta) and j + k < len(tb) and ta[i + k] == tb[j + k]:
                k += 1
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


def compare(a: str, b: str, ignore: frozenset[int] = frozenset()) -> Verdict:
    """The passages a and b share, with the figures the copy hint rests on."""
    passages = tuple(shared_passages(a, b, ignore))
    shared = sum(p.words for p in passages)
    shorter = min(len(words(a).tokens), len(words(b).tokens)) or 1
    return Verdict(
        passages, shared, max((p.words for p in passages), default=0), round(shared / shorter, 3)
    )
