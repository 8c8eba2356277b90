"""Detect text copied from the exercise itself, so pasting the prompt or snapshot earns nothing.

A line counts as copied when most of its word 5-grams occur in the exercise text. Short lines
are never judged copied: quoting one value of the snapshot ("drift_detection: disabled") is
evidence, pasting the whole snapshot is not. Code blocks are judged line by line.

>>> ex = Exercise("What are the top 3 issues you identify in the system today?")
>>> ex.is_copied("What are the top 3 issues you identify in the system today?")
True
>>> ex.is_copied("The top 3 issues are drift, data quality and the AUC drop.")
False
"""

from __future__ import annotations

import math
import re

__all__ = ["Exercise"]

_N = 5
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)?")


def _shingles(text: str) -> list[tuple[str, ...]]:
    """Word 5-grams, lower-cased; copying is verbatim, so no stemming is needed."""
    words = _WORD.findall(text.lower())
    return [tuple(words[i : i + _N]) for i in range(len(words) - _N + 1)]


class Exercise:
    """The text learners were given, indexed for copy detection."""

    def __init__(self, text: str, *, threshold: float = 0.7):
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        self.threshold = threshold
        self.shingles_ = frozenset(s for line in text.splitlines() for s in _shingles(line)) | (
            frozenset(_shingles(text))
        )
        self._heads = frozenset(s[0] for s in self.shingles_)
        self._trigrams: frozenset[tuple[str, ...]] | None = None

    def __bool__(self) -> bool:
        return bool(self.shingles_)

    def overlaps(self, text: str, *, min_hits: int = 4) -> bool:
        """Whether text shares at least ``min_hits`` 5-grams with the exercise at all.

        One pass over the whole answer; only answers that pass it are checked line by line.
        """
        if not self.shingles_:
            return False
        words = _WORD.findall(text.lower())
        shingles, heads = self.shingles_, self._heads
        hits = 0
        for i in range(len(words) - _N + 1):
            if words[i] in heads and tuple(words[i : i + _N]) in shingles:
                hits += 1
                if hits >= min_hits:
                    return True
        return False

    def restated_share(self, text: str) -> float:
        """Share of text's word 3-grams found in the exercise: a reworded copy keeps many."""
        words = _WORD.findall(text.lower())
        grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
        if not grams:
            return 0.0
        if self._trigrams is None:
            self._trigrams = frozenset(g for s in self.shingles_ for g in (s[0:3], s[1:4], s[2:5]))
        return sum(1 for g in grams if g in self._trigrams) / len(grams)

    def is_copied(self, line: str) -> bool:
        if not self.shingles_:
            return False
        words = _WORD.findall(line.lower())
        n = len(words) - _N + 1
        if n <= 0:
            return False
        # Stop at the first miss that makes the threshold unreachable: most lines are not
        # copied, and this rejects them after a shingle or two.
        allowed_misses = n - math.ceil(self.threshold * n)
        misses = 0
        shingles = self.shingles_
        for i in range(n):
            if tuple(words[i : i + _N]) not in shingles:
                misses += 1
                if misses > allowed_misses:
                    return False
        return True

    def copied_part(self, block: str) -> tuple[str, int]:
        """Split a multi-line block: return its uncopied lines and the copied word count."""
        if self.is_copied(block):
            return "", len(block.split())
        kept: list[str] = []
        copied = 0
        for line in block.splitlines():
            if self.is_copied(line):
                copied += len(line.split())
            else:
                kept.append(line)
        return "\n".join(kept), copied
