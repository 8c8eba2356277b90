"""One tokenised text per answer, with the span of every part of the plan.

Criteria read overlapping parts of a plan (Step 1, the matrix's issues, its solutions...).
Rather than tokenising each combination again, the plan's parts are laid out once in a fixed
order, tokenised once, and every view (a criterion's sources, one matrix item, one sentence)
is a slice of those tokens. Quotes taken from any view point into the same text.
"""

from __future__ import annotations

from bisect import bisect_left

from .matching import Doc, sentence_bounds
from .negation import cue_offsets
from .parse import FIELDS, STEP1_PARTS, STEP3_PARTS, Plan
from .text import Lexicon, scan

__all__ = ["Layout"]


class Layout:
    """The plan's content as one text; ``spans`` maps part keys to character ranges.

    Keys: ``step1.<part>``, ``matrix.<field>.<item index>``, ``step3.<part>``, ``other``.
    """

    def __init__(self, plan: Plan, lexicon: Lexicon):
        pieces: list[tuple[str, str]] = [(f"step1.{p}", plan.step1[p]) for p in STEP1_PARTS]
        for i, item in enumerate(plan.items()):
            pieces.extend((f"matrix.{f}.{i}", getattr(item, f)) for f in FIELDS)
        pieces.extend((f"step3.{p}", plan.step3[p]) for p in STEP3_PARTS)
        pieces.append(("other", plan.other))
        chunks: list[str] = []
        self.spans: list[tuple[str, int, int]] = []
        pos = 0
        for key, text in pieces:
            if not text:
                continue
            self.spans.append((key, pos, pos + len(text)))
            chunks.append(text)
            pos += len(text) + 1
        self.text = "\n".join(chunks)
        raw_terms, self.starts, self.ends, self.word_count = scan(self.text)
        self.stopword_ratio = 1 - len(raw_terms) / self.word_count if self.word_count else 0.0
        self._lexicon = lexicon
        self.terms = lexicon.canonical_list(raw_terms)
        # Where negations and dismissals may start, so most phrases skip those checks.
        self.cues = cue_offsets(raw_terms, self.starts)
        self._cache: dict[tuple[tuple[int, int], ...], Doc] = {}
        self.sentence_starts = sentence_bounds(self.text)

    def ranges(self, sources: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
        """Character ranges of the parts named by sources ('all', 'step1', 'matrix.issue'...)."""
        if "all" in sources:
            return [(0, len(self.text))] if self.text else []
        out = []
        for key, start, end in self.spans:
            for s in sources:
                if key == s or key.startswith(s + "."):
                    out.append((start, end))
                    break
        return out

    def doc(self, ranges: list[tuple[int, int]]) -> Doc:
        """A Doc of the tokens inside ranges (in order), quoting from the whole text."""
        key = tuple(ranges)
        doc = self._cache.get(key)
        if doc is None:
            idx: list[int] = []
            for start, end in ranges:
                idx.extend(range(bisect_left(self.starts, start), bisect_left(self.starts, end)))
            doc = Doc(
                self.text,
                self._lexicon,
                starts=[self.starts[i] for i in idx],
                ends=[self.ends[i] for i in idx],
                terms=[self.terms[i] for i in idx],
                bounds=self.sentence_starts,
                cues=self.cues,
            )
            self._cache[key] = doc
        return doc

    def source_text(self, ranges: list[tuple[int, int]]) -> str:
        return "\n".join(self.text[a:b] for a, b in ranges)
