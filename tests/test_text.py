"""Typo-tolerant vocabulary lookup and its synonym classes."""

from grader.scoring.synonyms import SYNONYMS
from grader.scoring.text import Lexicon


def test_lexicon_maps_a_synonym_to_the_vocabulary_word_of_its_class():
    lex = Lexicon(["decreas", "transmiss"], synonyms=SYNONYMS)
    assert lex.canonical("reduc") == "decreas"
    assert lex.canonical("shrink") == "decreas"
    # No word of the class in the vocabulary: the typo lookup still gets the word.
    assert lex.canonical("transmit") == "transmiss"
    assert lex.canonical("increas") == "increas"
