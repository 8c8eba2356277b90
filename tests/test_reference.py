"""ReferenceModel: features, concepts, evidence, determinism and speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.scoring.calibration import DEFAULT_CALIBRATION, LinearCalibration
from grader.scoring.reference import FEATURES, ReferenceModel, is_empty_answer
from grader.scoring.text import clean

SAF = Path(__file__).resolve().parent / "data" / "saf-en" / "train.jsonl"

QUESTION = (
    'What happens to the "collision domain diameter" if you use CSMA / CD and increase the '
    "speed of a network by a factor of 10, eg from 10Mb / s to 100Mb / s?"
)
REFERENCE = "Diameter decreases by a factor of 10, e.g 300m to 30m."
PIGGYBACK = (
    "Piggybacking only makes sense if there is a full-duplex or semi-duplex connection between "
    "sender and receiver i.e. two-way communication or Frames must contain additional field "
    "for acknowledgement."
)


@pytest.fixture(scope="module")
def model() -> ReferenceModel:
    return ReferenceModel([REFERENCE], QUESTION)


@pytest.fixture(scope="module")
def saf_rows() -> list[dict]:
    with SAF.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh][:400]


def test_features_are_named_in_fixed_order(model: ReferenceModel) -> None:
    features = model.features("The diameter decreases by a factor of ten.")
    assert tuple(features) == FEATURES
    assert all(isinstance(v, float) for v in features.values())


def test_same_answer_same_references_same_features(saf_rows: list[dict]) -> None:
    row = saf_rows[5]
    a = ReferenceModel(row["reference_answers"], row["question"])
    b = ReferenceModel(list(row["reference_answers"]), row["question"])
    for other in saf_rows[:60]:  # scoring other answers must not change the model
        a.features(other["answer"])
    assert a.features(row["answer"]) == b.features(row["answer"])
    assert a.vocabulary_ == b.vocabulary_ and a.idf_ == b.idf_
    assert a.concepts_ == b.concepts_


def test_fitted_state_comes_from_rubric_text_only(model: ReferenceModel) -> None:
    before = dict(model.vocabulary_)
    model.features("Zebras gallop across the savannah diameter")
    assert model.vocabulary_ == before
    assert "zebra" not in model.vocabulary_
    assert len(model.idf_) == len(model.vocabulary_)
    assert len(model.char_idf_) == len(model.char_vocabulary_)
    assert {"diamet", "decreas"} <= set(model.term_weights_)


def test_reference_itself_earns_full_marks(model: ReferenceModel) -> None:
    features = model.features(REFERENCE)
    assert features["coverage"] == pytest.approx(1.0)
    assert model.points(REFERENCE, points=4.0) == pytest.approx(4.0)


def test_better_answers_score_higher(model: ReferenceModel) -> None:
    good = model.points("The diameter decreases by a factor of 10, e.g. from 300m to 30m.")
    partial = model.points("The diameter gets smaller.")
    wrong = model.points("Nothing changes, the network just gets faster.")
    assert good > partial > wrong


def test_typos_are_forgiven(model: ReferenceModel) -> None:
    clean_cov = model.features("The diameter decreases")["coverage"]
    typo_cov = model.features("The diammeter decreses")["coverage"]
    assert typo_cov == pytest.approx(clean_cov)


@pytest.mark.parametrize(
    "answer", ["", "   ", "No response.", "No submission.", "Empty submission", "n/a", "?!"]
)
def test_empty_answers_score_zero(model: ReferenceModel, answer: str) -> None:
    assert is_empty_answer(answer)
    features = model.features(answer)
    assert features["empty"] == 1.0
    assert all(v == 0.0 for k, v in features.items() if k != "empty")
    assert model.points(answer, points=5.0) == 0.0


def test_off_topic_answer_scores_zero(model: ReferenceModel) -> None:
    features = model.features("I like pizza and football very much.")
    assert features["off_topic"] == 1.0
    assert model.points("I like pizza and football very much.") == 0.0


def test_copying_the_question_does_not_pay(model: ReferenceModel) -> None:
    assert model.features(QUESTION)["question_copy"] == 1.0
    assert model.points(QUESTION) == 0.0
    assert model.points(QUESTION + " I think so, honestly.") == 0.0
    # Adding what the question does not say is an answer again.
    assert model.points(QUESTION + " The diameter decreases.") > 0.5


def test_best_of_several_references_counts() -> None:
    single = ReferenceModel(["The diameter decreases tenfold."])
    both = ReferenceModel(["The diameter decreases tenfold.", "Maximum cable length shrinks."])
    answer = "The diameter decreases tenfold."
    assert both.features(answer)["coverage"] == pytest.approx(1.0)
    assert single.features(answer)["coverage"] == pytest.approx(1.0)


def test_n_of_the_listed_alternatives_is_a_complete_answer() -> None:
    references = [
        "Possible challenges: 1. Adaptation: nodes move and the topology changes. "
        "2. Security: packets are easily intercepted. 3. Energy: batteries run out. "
        "4. Medium access: hidden and exposed terminals."
    ]
    two = "Adaptation, since nodes move and the topology changes; and security, since packets "
    two += "are easily intercepted."
    asked = ReferenceModel(references, "Name and describe two challenges of mobile routing.")
    unasked = ReferenceModel(references, "What are the challenges of mobile routing?")
    assert asked.features(two)["coverage"] == pytest.approx(1.0)
    assert unasked.features(two)["coverage"] < 0.7
    # One of the two asked for is half an answer, not a complete one.
    assert asked.features("Security: packets are easily intercepted.")["coverage"] < 0.6


def test_a_references_examples_weigh_less_than_its_point() -> None:
    model = ReferenceModel(["Diameter decreases by a factor of 10, e.g. 300m to 30m."])
    plain = ReferenceModel(["Diameter decreases by a factor of 10, 300m to 30m."])
    answer = "The diameter decreases by a factor of 10."
    assert model.features(answer)["coverage"] > plain.features(answer)["coverage"]


def test_concepts_are_key_phrases_with_weights() -> None:
    model = ReferenceModel([PIGGYBACK], "What requirement has to be met for piggybacking?")
    labels = [c.label for c in model.concepts_]
    assert "two-way communication" in labels
    assert "additional field" in " ".join(labels)
    assert all(c.weight > 0 and c.terms for c in model.concepts_)
    weights = [c.weight for c in model.concepts_]
    assert weights == sorted(weights, reverse=True)


def test_evidence_quotes_found_concepts_and_lists_missing_ones() -> None:
    model = ReferenceModel([PIGGYBACK], "What requirement has to be met for piggybacking?")
    answer = "You need two-way communication, so that acknowledgements ride along with data."
    evidence = model.evidence(answer)
    found = {h.label: h for h in evidence.found}
    assert "two-way communication" in found
    quote = found["two-way communication"].quote.strip(".")
    assert quote in clean(answer)
    assert "two-way communication" in quote
    missing = {c.label for c in evidence.missing}
    assert "semi-duplex connection between" in missing
    assert len(evidence.found) + len(evidence.missing) == len(model.concepts_)
    assert evidence.coverage == pytest.approx(model.features(answer)["coverage"])
    assert not evidence.empty
    assert model.evidence("No response.").empty


def test_points_with_a_stored_calibration(model: ReferenceModel) -> None:
    calibration = LinearCalibration(("coverage",), (1.0,), 0.0)
    answer = "The diameter decreases"
    expected = model.features(answer)["coverage"] * 3.0
    assert model.points(answer, points=3.0, calibration=calibration) == pytest.approx(expected)
    assert model.points(answer) == pytest.approx(
        DEFAULT_CALIBRATION.predict_one(model.features(answer))
    )


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (([],), "references"),
        (("just a string",), "references"),
        (([1, 2],), "references"),
        ((["the of and"],), "references"),
        ((["Diameter decreases"], 7), "question"),
    ],
)
def test_bad_parameters_raise(args: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ReferenceModel(*args)


def test_bad_answer_raises(model: ReferenceModel) -> None:
    with pytest.raises(ValueError, match="answer"):
        model.features(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="points"):
        model.points("The diameter decreases", points=-1.0)


def test_scoring_one_answer_is_fast(saf_rows: list[dict]) -> None:
    models: dict[tuple, ReferenceModel] = {}
    for row in saf_rows:
        key = (row["question"], tuple(row["reference_answers"]))
        if key not in models:
            models[key] = ReferenceModel(row["reference_answers"], row["question"])
    start = time.perf_counter()
    for row in saf_rows:
        key = (row["question"], tuple(row["reference_answers"]))
        models[key].points(row["answer"])
    per_answer = (time.perf_counter() - start) / len(saf_rows)
    assert per_answer < 0.005


@settings(max_examples=60, deadline=None)
@given(
    references=st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=3),
    question=st.one_of(st.none(), st.text(max_size=60)),
    answer=st.text(max_size=120),
)
def test_any_text_gives_bounded_features(
    references: list[str], question: str | None, answer: str
) -> None:
    try:
        model = ReferenceModel(references, question)
    except ValueError:
        return  # references without a content word are refused, by design
    features = model.features(answer)
    assert tuple(features) == FEATURES
    assert 0.0 <= features["coverage"] <= 1.0 + 1e-9
    assert 0.0 <= model.points(answer, points=3.0) <= 3.0
    evidence = model.evidence(answer)
    assert len(evidence.found) + len(evidence.missing) == len(model.concepts_)
