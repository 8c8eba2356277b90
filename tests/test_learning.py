"""Learning from instructors: the per-assignment calibration and its intervals
(grader.scoring.learning) and the `grader calibrate` / `grader grade --calibration` commands."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.scoring.learning import MIN_LABELS, TRUST_LABELS, Calibration, Label, fit, read_grades

from .conftest import HEALTH, RUBRIC_PATH

CRITERIA = {"a": 30.0, "b": 20.0}


def _labels(n, bias=0.0, noise=1.0, seed=0, confidence=0.9):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ga, gb = rng.uniform(0, 30), rng.uniform(0, 20)
        out.append(
            Label(
                f"answer-{i}",
                {"a": ga, "b": gb},
                {
                    "a": min(30, max(0, ga + bias + rng.gauss(0, noise))),
                    "b": min(20, max(0, gb + rng.gauss(0, noise))),
                },
                confidence,
            )
        )
    return out


def test_a_systematic_bias_is_learned_and_beats_the_grader_out_of_fold():
    cal = fit(_labels(40, bias=5.0), CRITERIA, rubric_version="r")
    a, b = (m for m in cal.maps)
    assert a.applied and a.mae_after < a.mae_before
    assert 3.0 < cal.apply({"a": 10.0, "b": 10.0}, 0.9).points["a"] - 10.0 < 5.5
    # Nothing to learn for b: whether or not its map is kept, it barely moves the points.
    assert abs(cal.apply({"a": 10.0, "b": 10.0}, 0.9).points["b"] - 10.0) < 0.5


def test_a_map_that_would_not_beat_the_grader_out_of_fold_is_refused():
    cal = fit(_labels(40, noise=0.0, seed=3), CRITERIA, rubric_version="r")
    assert not cal.applied
    assert all("out of fold" in m.reason for m in cal.maps)


def test_few_labels_change_nothing_and_say_so():
    cal = fit(_labels(MIN_LABELS - 1, bias=5.0), CRITERIA, rubric_version="r")
    assert not cal.applied
    assert all("at least" in m.reason for m in cal.maps)
    assert cal.apply({"a": 10.0, "b": 10.0}, 0.9).interval.source == "few labels"


def test_intervals_cover_about_the_stated_share_of_new_answers():
    cal = fit(_labels(60, noise=4.0, seed=1), CRITERIA, rubric_version="r", level=0.9)
    fresh = _labels(400, noise=4.0, seed=2)
    inside = 0
    for lb in fresh:
        got = cal.apply(lb.grader, lb.confidence)
        truth = sum(lb.instructor.values())
        inside += got.interval.low <= truth <= got.interval.high
        assert 0 <= got.interval.low <= got.total <= got.interval.high <= 50
    assert 0.83 <= inside / len(fresh) <= 0.98


def test_criterion_intervals_cover_about_the_stated_share_once_there_are_enough_labels():
    assert not fit(_labels(MIN_LABELS - 1), CRITERIA, rubric_version="r").criterion_quantiles
    cal = fit(_labels(60, noise=4.0, seed=1), CRITERIA, rubric_version="r", level=0.9)
    fresh = _labels(400, noise=4.0, seed=2)
    inside = {c: 0 for c in CRITERIA}
    for lb in fresh:
        got = cal.apply(lb.grader, lb.confidence)
        for c, bounds in got.criteria_intervals.items():
            inside[c] += bounds.low <= lb.instructor[c] <= bounds.high
            assert 0 <= bounds.low <= got.points[c] <= bounds.high <= CRITERIA[c]
    assert all(0.8 <= n / len(fresh) <= 0.99 for n in inside.values()), inside


def test_an_unsure_grade_gets_a_wider_interval():
    cal = fit(_labels(30, noise=3.0), CRITERIA, rubric_version="r")
    sure = cal.apply({"a": 15.0, "b": 10.0}, 0.95).interval
    unsure = cal.apply({"a": 15.0, "b": 10.0}, 0.5).interval
    assert unsure.high - unsure.low > sure.high - sure.low


def test_held_out_errors_floor_the_interval_until_there_are_many_labels():
    tight = _labels(30, noise=0.5)
    floor = [12.0] * 20
    plain = fit(tight, CRITERIA, rubric_version="r")
    floored = fit(tight, CRITERIA, rubric_version="r", held_out=floor)
    assert floored.quantile == 12.0 > plain.quantile
    assert floored.apply({"a": 15.0, "b": 10.0}, 0.9).interval.source == "held-out answers"
    many = fit(_labels(TRUST_LABELS, noise=0.5), CRITERIA, rubric_version="r", held_out=floor)
    assert many.quantile < 12.0


def test_the_fit_is_deterministic_and_its_version_names_its_content():
    labels = _labels(30, bias=3.0)
    one = fit(labels, CRITERIA, rubric_version="r")
    two = fit(list(reversed(labels)), CRITERIA, rubric_version="r")
    assert one.version == two.version and one.to_dict() == two.to_dict()
    assert fit(labels, CRITERIA, rubric_version="other").version != one.version
    again = Calibration.from_dict(json.loads(json.dumps(one.to_dict())))
    assert again.version == one.version
    tampered = one.to_dict()
    tampered["quantile"] = 0.1
    with pytest.raises(ValueError, match="changed"):
        Calibration.from_dict(tampered)


def test_labels_must_cover_every_criterion():
    with pytest.raises(ValueError, match="lacks points for b"):
        fit([Label("x", {"a": 1.0}, {"a": 2.0}, 0.9)], CRITERIA, rubric_version="r")


def test_grades_file_rows_are_averaged_and_problems_named(tmp_path):
    good = tmp_path / "g.tsv"
    good.write_text("file\tgrader\ta\tb\nx.md\tA\t10\t4\nx.md\tB\t12\t6\ny.md\tA\t1\t0\n")
    assert read_grades(good, ["a", "b"]) == {
        "x.md": {"a": 11.0, "b": 5.0},
        "y.md": {"a": 1.0, "b": 0.0},
    }
    bad = tmp_path / "bad.tsv"
    bad.write_text("file\ta\tb\nx.md\t10\tlots\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: column 'b': 'lots' is not a number"):
        read_grades(bad, ["a", "b"])
    with pytest.raises(ValueError, match="missing column 'c'"):
        read_grades(bad, ["a", "c"])


def test_calibrate_then_grade_with_the_calibration(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cal.json"
    answers = sorted(str(p) for p in HEALTH.glob("sub-*.md"))
    r = runner.invoke(
        main, ["calibrate", "--grades", str(HEALTH / "grades.tsv"), "--out", str(out), *answers]
    )
    assert r.exit_code == 0, r.output
    assert "labels: 23" in r.output and "90% interval" in r.output
    stored = json.loads(out.read_text())
    assert stored["labels"] == 23 and stored["version"] in r.output
    r = runner.invoke(main, ["grade", "--calibration", str(out), "--format", "json", answers[0]])
    assert r.exit_code == 0, r.output
    graded = json.loads(r.output)
    interval = graded["interval"]
    assert set(interval) == {"low", "high", "level", "source", "criteria"}
    assert interval["level"] == 0.9
    assert interval["low"] <= graded["total"] <= interval["high"]
    # 23 labels are enough for an interval per criterion too, around its points.
    for c in graded["criteria"]:
        bounds = interval["criteria"][c["id"]]
        assert 0 <= bounds["low"] <= c["points"] <= bounds["high"] <= c["max_points"]
    r = runner.invoke(main, ["grade", "--calibration", str(out), answers[0]])
    assert r.exit_code == 0 and r.output.count(f"({bounds['low']:g}-{bounds['high']:g})") >= 1
    assert graded["calibration_version"] == stored["version"]


def test_a_calibration_for_another_rubric_version_is_refused(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cal.json"
    data = fit(
        [Label(f"k{i}", {"a": 1.0}, {"a": 1.0}, 0.9) for i in range(3)],
        {"a": 30.0},
        rubric_version="not-this-one",
    ).to_dict()
    out.write_text(json.dumps(data))
    r = runner.invoke(main, ["grade", "--rubric", str(RUBRIC_PATH), "--calibration", str(out),
                             str(HEALTH / "sub-010.md")])  # fmt: skip
    assert r.exit_code == 1 and "fitted for rubric version not-this-one" in r.output


def test_once_calibrated_the_confidence_is_the_measured_chance_of_being_within_15_points():
    from grader.scoring import grade_text, load_rubric
    from grader.scoring.learning import apply_to

    rubric = load_rubric(RUBRIC_PATH)
    grade = grade_text((HEALTH / "sub-029.md").read_text(), rubric)
    criteria = {c.id: c.points for c in rubric.criteria}

    def labels(error):
        """Instructors off by +-error per criterion, alternately: nothing a map can fix."""
        half = {c: p / 2 for c, p in criteria.items()}
        return [
            Label(
                f"k{i}",
                half,
                {c: p + (error if i % 2 else -error) for c, p in half.items()},
                0.9,
            )
            for i in range(20)
        ]

    wide = apply_to(grade, fit(labels(6.0), criteria, rubric_version=rubric.version))
    assert wide.confidence < 0.1  # every label was off by 24 points of 100
    assert [r["code"] for r in wide.review_reasons] == ["interval"]
    tight = apply_to(grade, fit(labels(0.5), criteria, rubric_version=rubric.version))
    assert tight.confidence > 0.9 and tight.review_reasons == []
    # Without a calibration (the rubric's held-out intervals only) the grader's own stays.
    from grader.scoring.learning import from_held_out

    prior = from_held_out(rubric)
    assert prior is not None and apply_to(grade, prior).confidence == grade.confidence


def test_criterion_intervals_are_floored_like_the_total_while_labels_are_few():
    """Fifteen confirmed grades (every label says "exactly right") with held-out errors that
    floor the total: each criterion's interval is floored by its share, never zero-wide."""
    labels = [
        Label(f"k{i}", {"a": 10.0 + i % 5, "b": 8.0}, {"a": 10.0 + i % 5, "b": 8.0}, 0.8)
        for i in range(MIN_LABELS)
    ]
    cal = fit(labels, CRITERIA, rubric_version="r", held_out=(10.0,) * 20)
    got = cal.apply({"a": 12.0, "b": 8.0}, 0.8)
    total_width = got.interval.high - got.interval.low
    widths = {c: i.high - i.low for c, i in got.criteria_intervals.items()}
    assert total_width > 0 and all(w > 0 for w in widths.values()), widths
    assert widths["a"] > widths["b"]  # a holds 30 of the 50 points
