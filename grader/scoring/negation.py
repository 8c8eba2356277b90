"""Whether a phrase found in an answer is asserted, or negated and dismissed.

"We don't need drift detection" contains "drift detection"; it does not cover it. Two
readings matter, and a criterion says which one applies to its concepts:

- ``dismissal`` (findings): a concept dismissed ("the 15% missing values are not a concern",
  "we can ignore the schema changes") does not count. A negation alone does not dismiss:
  "without drift detection nobody noticed" identifies the problem.
- ``action`` (fixes): an action negated or ruled out ("deploy without a canary", "no rollback
  is needed", "skip validation") is not proposed, so it does not count either.

Both look only inside the sentence, a few words either side, and a double negation ("we
should not ignore the schema changes") asserts.

>>> dismissed("We don't need drift detection here.", 15, 30, "dismissal")
True
>>> dismissed("We should not ignore the schema changes.", 25, 39, "dismissal")
False
>>> dismissed("Deploy straight to production, no canary.", 33, 39, "action")
True
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .text import stem

__all__ = ["CUE_TERMS", "cue_offsets", "dismissed", "negations", "warns"]

_WINDOW = 60
_CLAUSE_END = re.compile(r"[.;:!?\n()]|,\s+(?:but|while|whereas|although)\b|\bbut\b", re.I)
_NEGATORS = re.compile(
    r"\b(?:not|no|never|without|none|nor|don't|doesn't|didn't|won't|isn't|aren't|wasn't"
    r"|weren't|shouldn't|cannot|can't|needn't|skip|skipping|skipped|ignore|ignoring|ignored"
    r"|dismiss|dismissing|forget|forgo|drop|dropping|avoid|instead of|rather than)\b",
    re.I,
)
_NOT_ONLY = re.compile(r"\bnot\s+(?:only|just|merely)\b|\bno\s+(?:longer|doubt)\b", re.I)
_DISMISS_BEFORE = re.compile(
    r"(?:\b(?:don't|do not|doesn't|does not|won't|will not)\s+(?:really\s+)?(?:need|require|bother)"
    r"|\bno\s+(?:real\s+)?need\s+(?:for|to)|\b(?:can|could|should|may)\s+(?:safely\s+)?ignore"
    r"|\bignore|\bnot\s+worry\s+about|\bforget\s+about|\bunnecessary\s+to|\bnot\s+bother\s+with"
    r"|\bdismiss)\b[^.;:!?\n]*$",
    re.I,
)
_DISMISS_AFTER = re.compile(
    r"^[\s,]*(?:(?:is|are|was|were|seems?|looks?|remains?)\s+)?(?:(?:really|just|simply|"
    r"probably|actually)\s+)?"
    r"(?:(?:not|n't)\s+(?:(?:a|an|any)\s+)?(?:real\s+|big\s+|major\s+|serious\s+)?"
    r"(?:concern|problem|issue|priority|needed|necessary|important|urgent|relevant|worth)"
    r"|(?:unnecessary|irrelevant|overkill|harmless|negligible|normal|fine|ok|okay|nothing to)\b"
    r"|(?:can|could|should|may)\s+(?:safely\s+)?(?:be\s+)?(?:ignored|skipped|wait|left)"
    r"|(?:doesn't|don't|does not|do not)\s+(?:really\s+)?matter"
    r"|(?:isn't|aren't)\s+(?:needed|necessary|a concern|important|a problem|relevant)"
    r"|(?:won't|will not|wouldn't)\s+be\s+(?:needed|necessary))",
    re.I,
)


_CLAUSE_START = re.compile(r"[.;:!?\n(),]|\b(?:but|and|while|whereas|although)\b", re.I)


def _clause_before(text: str, start: int) -> str:
    left = text[max(0, start - _WINDOW) : start]
    cuts = [m.end() for m in _CLAUSE_START.finditer(left)]
    return left[cuts[-1] :] if cuts else left


def _clause_after(text: str, end: int) -> str:
    right = text[end : end + _WINDOW]
    m = _CLAUSE_END.search(right)
    return right[: m.start()] if m else right


def _negations(fragment: str) -> int:
    return len(_NEGATORS.findall(_NOT_ONLY.sub(" ", fragment)))


def negations(fragment: str) -> int:
    """How many negating words (not, no, without, skip, ...) a fragment has."""
    return _negations(fragment)


# Every word that can start a negation or a dismissal. Most phrases have none nearby, and
# finding that out once per text keeps the reading linear and cheap.
_CUE = re.compile(
    r"\b(?:not|no|never|without|none|nor|\w+n't|cannot|skip\w*|ignor\w*|dismiss\w*|forget|"
    r"forgo|drop\w*|avoid|instead|rather|need\w*|unnecessary|irrelevant|overkill|harmless|"
    r"negligible|normal|fine|ok|okay|nothing|wait|left|matter|concern|bother|worry|require)\b",
    re.I,
)


#: The same words as terms (stemmed), for texts already tokenised (see :func:`cue_offsets`).
CUE_TERMS = frozenset(
    stem(w)
    for w in """not no never without none nor cannot skip skipping skipped ignore ignoring
    ignored dismiss dismissing forget forgo drop dropping avoid instead rather unnecessary
    irrelevant overkill harmless negligible normal fine ok okay nothing wait left""".split()
)


def cue_offsets(terms: Iterable[str], starts: Sequence[int]) -> tuple[int, ...]:
    """Offsets of the cue words among a text's tokens (terms as :func:`text.scan` gives)."""
    return tuple(
        s for t, s in zip(terms, starts, strict=True) if t in CUE_TERMS or t.endswith("n't")
    )


@lru_cache(maxsize=8)
def _cues(text: str) -> tuple[int, ...]:
    return tuple(m.start() for m in _CUE.finditer(text))


def dismissed(
    text: str,
    start: int,
    end: int,
    reading: str,
    cues: Sequence[int] | None = None,
    own: int = 0,
) -> bool:
    """Whether the phrase at text[start:end] is dismissed (or, for an action, negated).

    ``cues``: the offsets of cue words in text, when the caller has them (else found here).
    ``own``: negations the phrase itself is written with (an action such as "skip staging"
    or "no rollback needed" is not negated by its own words; :func:`negations`).
    """
    cues = _cues(text) if cues is None else cues
    i = bisect_left(cues, start - _WINDOW)
    if i == len(cues) or cues[i] > end + _WINDOW:
        return False
    before = _clause_before(text, start)
    after = _clause_after(text, end)
    if reading == "action":
        inside = text[start:end]
        count = _negations(before) + max(0, _negations(inside) - own)
        if count % 2 == 1:
            return True
        return bool(_DISMISS_AFTER.match(after))
    if _DISMISS_BEFORE.search(before) and _negations(before) % 2 == 1:
        return True
    if _DISMISS_AFTER.match(after):
        # "...is not a concern" dismisses; "...is not a concern we can ignore" is rare enough.
        return _negations(before) % 2 == 0
    return False


# What follows an action written with a negating word ("skip staging", "without a backup")
# when the sentence judges it instead of proposing it: "skipping staging would be a serious
# mistake", "deploying without a backup is exactly what caused the outage", "without a backup
# a release cannot be undone". Read only within the phrase's own clause, a few words on.
_WARNING_AFTER = re.compile(
    r"^(?:\s+[\w.'’]+){0,6}?\s+(?:"
    r"(?:would be|is|was|are|has been|have been)\s+(?:exactly\s+|precisely\s+)?"
    r"(?:a\s+|an\s+|the\s+)?(?:serious\s+|big\s+|huge\s+|real\s+|classic\s+)?"
    r"(?:mistake|error|dangerous|risky|reckless|bad idea|unacceptable|irresponsible|"
    r"what caused|how we lost|why we lost)"
    r"|(?:cannot|can't|could not|couldn't)\b)",
    re.I,
)
_CLAUSE_STOP = re.compile(r"[,;:.!?()\n]|\s[-–—]\s")


#: How far after an action phrase a judgment of it is looked for (characters): a bound, so
#: text without punctuation is not scanned to its end for every phrase found in it.
_WARNING_REACH = 160


def warns(text: str, end: int) -> bool:
    """Whether the words after an action phrase ending at ``end`` judge it rather than
    propose it (:data:`_WARNING_AFTER`), within its clause."""
    after = text[end : end + _WARNING_REACH]
    stop = _CLAUSE_STOP.search(after)
    return _WARNING_AFTER.match(after[: stop.start()] if stop else after) is not None
