"""Find rubric phrases in answers, tolerant of typos, word order, inflection and filler words.

A phrase matches when all its terms occur within a small window of each other, so "AUC
dropped from 0.85 to 0.78" matches both "auc dropped" and "0.78 0.85". In a phrase, "#"
stands for any number ("auc #" matches "AUC >= 0.83").

>>> lex = Lexicon(["drift", "detect", "disabl"])
>>> doc = Doc("Drfit detection is dissabled.", lex)
>>> doc.find(compile_phrase("drift detection disabled", lex)) is not None
True
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

from .text import Lexicon, Token, tokenize

__all__ = ["ANY_NUMBER", "Doc", "compile_phrase", "phrase_vocabulary", "sentence_bounds"]

ANY_NUMBER = "#"
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n")


def _phrase_terms(phrase: str) -> list[str]:
    out: list[str] = []
    for part in phrase.split():
        if part == ANY_NUMBER:
            out.append(ANY_NUMBER)
        else:
            out.extend(t.term for t in tokenize(part))
    return out


def sentence_bounds(text: str) -> list[int]:
    return [m.end() for m in _SENTENCE_END.finditer(text)]


def phrase_vocabulary(phrases: Iterable[str]) -> set[str]:
    """All terms the phrases use, for building the rubric's Lexicon."""
    return {t for p in phrases for t in _phrase_terms(p) if t != ANY_NUMBER}


def compile_phrase(phrase: str, lexicon: Lexicon) -> tuple[str, ...]:
    return tuple(t if t == ANY_NUMBER else lexicon.canonical(t) for t in _phrase_terms(phrase))


class Doc:
    """A text indexed by canonical term, for phrase lookups and evidence quotes."""

    __slots__ = ("text", "starts", "ends", "terms", "index", "numbers", "_bounds", "cues")

    def __init__(
        self,
        text: str,
        lexicon: Lexicon,
        tokens: list[Token] | None = None,
        terms: list[str] | None = None,
        bounds: list[int] | None = None,
        *,
        starts: list[int] | None = None,
        ends: list[int] | None = None,
        cues: tuple[int, ...] | None = None,
    ):
        self.text = text
        self._bounds = bounds
        self.cues = cues  # offsets of negation cues in text, when known (grader.scoring.negation)
        if starts is None or ends is None or terms is None:
            tokens = tokenize(text) if tokens is None else tokens
            starts = [t.start for t in tokens]
            ends = [t.end for t in tokens]
            terms = lexicon.canonical_terms(tokens) if terms is None else terms
        self.starts = starts
        self.ends = ends
        self.terms = terms
        index: dict[str, list[int]] = {}
        for i, term in enumerate(self.terms):
            positions = index.get(term)
            if positions is None:
                index[term] = [i]
            else:
                positions.append(i)
        self.index = index
        self.numbers = sorted(i for term, ps in index.items() if term[0].isdigit() for i in ps)

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, phrase: tuple[str, ...]) -> tuple[int, int] | None:
        """Token span (first, last) of the earliest match of phrase, or None."""
        # Most phrases miss on a term that does not occur: settle that without a generator.
        lists = self._positions(phrase)
        if lists is None:
            return None
        if len(lists) == 1:
            return lists[0][0], lists[0][0]
        return next(self.find_iter(phrase), None)

    def _positions(self, phrase: tuple[str, ...]) -> list[list[int]] | None:
        """Each term's token positions, or None when some term does not occur at all."""
        lists: list[list[int]] = []
        for term in phrase:
            positions = self.numbers if term == ANY_NUMBER else self.index.get(term)
            if not positions:
                return None
            lists.append(positions)
        return lists

    def find_iter(self, phrase: tuple[str, ...]) -> Iterator[tuple[int, int]]:
        """Token spans of the matches of phrase, one per occurrence of its rarest term."""
        lists = self._positions(phrase)
        if lists is None:
            return
        if len(lists) == 1:
            for first in lists[0]:
                yield first, first
            return
        if not lists:
            return
        window = 2 * len(phrase) + 2
        anchor = min(range(len(lists)), key=lambda i: len(lists[i]))
        for p in lists[anchor]:
            lo, hi = p, p
            for i, positions in enumerate(lists):
                if i == anchor:
                    continue
                j = bisect_left(positions, p - window)
                best = None
                while j < len(positions) and positions[j] <= p + window:
                    if positions[j] != p or phrase[i] == phrase[anchor]:
                        if best is None or abs(positions[j] - p) < abs(best - p):
                            best = positions[j]
                    j += 1
                if best is None:
                    break
                lo, hi = min(lo, best), max(hi, best)
            else:
                yield lo, hi

    def find_ordered_iter(self, phrase: tuple[str, ...], gap: int = 3) -> Iterator[tuple[int, int]]:
        """Token spans where phrase's terms occur in its order, at most ``gap`` content words
        apart: "disable drift detection" (an action) but not "drift detection is disabled"."""
        lists = self._positions(phrase)
        if lists is None:
            return
        for first in lists[0]:
            prev = first
            for positions in lists[1:]:
                j = bisect_right(positions, prev)
                if j == len(positions) or positions[j] > prev + gap + 1:
                    break
                prev = positions[j]
            else:
                yield first, prev

    def bounds(self) -> list[int]:
        """Offsets where sentences or lines start, shared by every view of the same text."""
        if self._bounds is None:
            self._bounds = sentence_bounds(self.text)
        return self._bounds

    def quote(self, span: tuple[int, int], *, width: int = 110) -> str:
        """The sentence around a token span, trimmed to about ``width`` characters."""
        start = self.starts[span[0]]
        end = self.ends[span[1]]
        bounds = self.bounds()
        i = bisect_right(bounds, start)
        left = bounds[i - 1] if i else 0
        j = bisect_left(bounds, end)
        right = bounds[j] if j < len(bounds) else len(self.text)
        prefix = suffix = ""
        if right - left > width:
            pad = max(0, (width - (end - start)) // 2)
            if start - pad > left:
                cut = self.text.find(" ", start - pad, start)
                left, prefix = (cut + 1 if cut != -1 else start), "\u2026"
            if end + pad < right:
                cut = self.text.rfind(" ", end, end + pad)
                right, suffix = (cut if cut != -1 else end), "\u2026"
        if right < end:
            right = end
        snippet = prefix + " ".join(self.text[left:right].split()).strip(" -*:;,") + suffix
        return snippet
