"""Words that say the same thing in a short technical answer, for reference-answer grading.

Learners paraphrase: "the diameter is reduced tenfold" answers "the diameter decreases by a
factor of 10" as fully as the reference's own words do. Each class below maps its members'
stems to one term, on the reference's side and the answer's alike, so a paraphrase finds the
concept. The classes are few and deliberately narrow: directions of change, start and end,
enclosing ("bounded by" for "surrounded by"), grouping, sending, cost and effort, need,
permission, prevention, speed and size. Opposites stay apart ("increase" never meets
"decrease"), and positional words ("lower layer", "higher layer") are left out because
they name things rather than changes.

>>> SYNONYMS["reduc"], SYNONYMS["shrink"], SYNONYMS["decreas"]
('decreas', 'decreas', 'decreas')
>>> "increas" in SYNONYMS and SYNONYMS["increas"] != SYNONYMS["decreas"]
True
"""

from __future__ import annotations

from types import MappingProxyType

from grader.scoring.text import stem

__all__ = ["SYNONYMS"]

# The first word of each class names it; all are stemmed the way answers are.
_CLASSES: tuple[tuple[str, ...], ...] = (
    (
        "decrease",
        "reduce",
        "reduction",
        "shrink",
        "smaller",
        "diminish",
        "lessen",
        "decline",
        "divide",
        "halve",
    ),
    ("increase", "grow", "larger", "bigger", "enlarge", "multiply", "double"),
    ("start", "begin"),
    ("surround", "bound", "delimit", "enclose", "encapsulate", "wrap"),
    ("pool", "group", "bundle", "combine", "pack"),
    ("end", "stop", "finish"),
    ("send", "sent", "transmit"),
    ("cheap", "inexpensive"),
    ("simple", "easy"),
    ("complex", "complicated"),
    ("allow", "enable", "permit"),
    ("prevent", "avoid"),
    ("require", "need"),
    ("fast", "faster", "quick", "quicker", "rapid"),
    ("large", "big", "huge"),
)


def _build() -> dict[str, str]:
    table: dict[str, str] = {}
    for words in _CLASSES:
        head = stem(words[0])
        for word in words:
            term = stem(word)
            if table.setdefault(term, head) != head:
                raise ValueError(f"{word!r} is in two synonym classes")
    return table


#: Stem -> the stem that names its class (a class's head maps to itself).
SYNONYMS = MappingProxyType(_build())
