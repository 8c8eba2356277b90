"""The `grader` command line: grade files, check rubrics, measure agreement with humans.

Service commands (database, tokens, platforms, users, run) come from
:mod:`grader.service.commands` when the service's dependencies are installed; the scoring
commands never need them. Every command imports what it uses when it runs, so
``grader --help`` imports neither scikit-learn nor Flask.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from .answer_files import answers_in
from .lazy_commands import SERVICE_COMMANDS, LazyGroup

if TYPE_CHECKING:
    from .scoring import Grade
    from .scoring.learning import Calibration
    from .scoring.rubric import Rubric

_REPO_RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"


def rubrics_dir() -> Path:
    """Where rubric files live: $GRADER_RUBRICS_DIR, else the repository's rubrics/."""
    return Path(os.environ.get("GRADER_RUBRICS_DIR") or _REPO_RUBRICS)


def default_rubric_path() -> Path:
    return rubrics_dir() / "ml-health-check.toml"


def _load(path: str | Path) -> Rubric:
    from .scoring import RubricError, load_rubric

    try:
        return load_rubric(path)
    except RubricError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from exc


def _load_calibration(path: str, rubric: Rubric) -> Calibration:
    from .scoring.learning import Calibration

    try:
        found = Calibration.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        click.echo(f"{path}: {exc}", err=True)
        raise SystemExit(1) from None
    if found.rubric_version != rubric.version:
        click.echo(
            f"{path}: fitted for rubric version {found.rubric_version}; "
            f"this rubric is version {rubric.version} (calibrate again)",
            err=True,
        )
        raise SystemExit(1)
    return found


def grade_json(name: str, grade: Grade) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if grade.interval is not None:
        extra = {"interval": grade.interval, "calibration_version": grade.calibration_version}
    return {
        "file": name,
        "total": grade.total,
        "max_total": grade.max_total,
        "criteria": [
            {
                "id": c.id,
                "name": c.name,
                "points": c.points,
                "max_points": c.max_points,
                "feedback": c.feedback,
            }
            for c in grade.criteria
        ],
        "confidence": grade.confidence,
        "flags": grade.flags,
        "rubric_id": grade.rubric_id,
        "rubric_version": grade.rubric_version,
        "warnings": grade.warnings,
        **extra,
    }


def grade_report(name: str, grade: Grade) -> str:
    lines = [
        f"{name}: {grade.total:g}/{grade.max_total:g}  (confidence {grade.confidence:.2f}, "
        f"rubric {grade.rubric_id}@{grade.rubric_version})"
    ]
    if grade.interval is not None:
        lines.append(
            f"  {grade.interval['level']:.0%} interval {grade.interval['low']:g}-"
            f"{grade.interval['high']:g}, calibration {grade.calibration_version}"
        )
    if grade.flags:
        lines.append("  flags: " + ", ".join(grade.flags))
    per = (grade.interval or {}).get("criteria", {})
    for c in grade.criteria:
        bounds = f" ({per[c.id]['low']:g}-{per[c.id]['high']:g})" if c.id in per else ""
        lines.append(f"  {c.name}: {c.points:g}/{c.max_points:g}{bounds}")
        lines.append(f"    {c.feedback}")
    if grade.warnings:
        lines.append("  parser: " + "; ".join(grade.warnings))
    return "\n".join(lines)


@click.group(cls=LazyGroup, lazy={})
@click.version_option(package_name="grader")
def main() -> None:
    """grader: grade written answers against data-defined rubrics."""


@main.command()
@click.option(
    "--rubric",
    "rubric_path",
    type=click.Path(dir_okay=False),
    help="Rubric file (default: rubrics/ml-health-check.toml).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="A calibration file from `grader calibrate`: calibrated points and an interval.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="Processes grading at once (0: one per core). The output keeps the input's order.",
)
@click.argument("files", nargs=-1, required=True)
def grade(
    rubric_path: str | None,
    fmt: str,
    calibration_path: str | None,
    jobs: int,
    files: tuple[str, ...],
) -> None:
    """Grade answer FILES (Markdown files, folders of them, or JSON-lines files)."""
    rubric = _load(rubric_path or default_rubric_path())
    calibration = _load_calibration(calibration_path, rubric) if calibration_path else None
    answers = list(answers_in(files))
    bulk = len(answers) > 1 or any(Path(f).is_dir() or f.endswith(".jsonl") for f in files)
    failed = 0
    progress = None
    if bulk:
        from tqdm import tqdm

        progress = tqdm(
            total=len(answers),
            unit="answer",
            file=sys.stderr,
            disable=not sys.stderr.isatty() and "GRADER_PROGRESS" not in os.environ,
        )
    _WORK.update(rubric=rubric, calibration=calibration, fmt=fmt)
    for name, line, error in _graded(answers, jobs or os.cpu_count() or 1):
        if error is not None:
            failed += 1
            if fmt == "json":
                click.echo(json.dumps({"file": name, "error": error}))
            else:
                click.echo(f"{name}: error: {error}", err=True)
        else:
            click.echo(line)
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    if failed:
        raise SystemExit(1)


# What each grading process needs, set before they fork (they inherit it, with every
# module the parent imported: no process imports scikit-learn or compiles the rubric again).
_WORK: dict[str, Any] = {}
#: Answers handed to a process at a time.
_CHUNK = 8


def _grade_one(item: tuple[str, str | None, str | None]) -> tuple[str, str, str | None]:
    """(name, the answer's output line, error): one answer graded as `grade` prints it."""
    from .scoring import grade_text
    from .scoring.learning import apply_to

    name, text, error = item
    if error is not None or text is None:
        return name, "", error or "no text"
    try:
        g = grade_text(text, _WORK["rubric"])
        if _WORK["calibration"] is not None:
            g = apply_to(g, _WORK["calibration"])
    except Exception as exc:  # one answer's failure is its own line; the others go on
        return name, "", f"grading failed ({type(exc).__name__}: {exc})"[:500]
    line = json.dumps(grade_json(name, g)) if _WORK["fmt"] == "json" else grade_report(name, g)
    return name, line, None


def _graded(
    answers: list[tuple[str, str | None, str | None]], jobs: int
) -> Iterator[tuple[str, str, str | None]]:
    """Each answer's output in the input's order, on ``jobs`` forked processes when there
    is enough to share (grading is deterministic, so the processes change nothing else)."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if jobs <= 1 or len(answers) < 2 * _CHUNK or "fork" not in methods:
        yield from map(_grade_one, answers)
        return
    from .scoring.compiled import compile_rubric

    compile_rubric(_WORK["rubric"])  # once, in the parent: the processes inherit it
    with multiprocessing.get_context("fork").Pool(min(jobs, len(answers) // _CHUNK)) as pool:
        yield from pool.imap(_grade_one, answers, chunksize=_CHUNK)


@main.command()
@click.option("--rubric", "rubric_path", type=click.Path(dir_okay=False), help="Rubric file.")
@click.option(
    "--grades",
    "grades_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Instructors' points: TSV with a file column and one column per criterion id.",
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write the calibration.")
@click.option("--level", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.99))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.argument("files", nargs=-1, required=True)
def calibrate(
    rubric_path: str | None,
    grades_path: str,
    out_path: str | None,
    level: float,
    fmt: str,
    files: tuple[str, ...],
) -> None:
    """Fit a calibration from instructors' GRADES of answer FILES: per-criterion maps kept
    only where they beat the grader out of fold, and interval quantiles."""
    from .scoring import grade_text
    from .scoring.learning import Label, fit, read_grades

    rubric = _load(rubric_path or default_rubric_path())
    criteria = {c.id: c.points for c in rubric.criteria}
    try:
        grades = read_grades(grades_path, list(criteria))
    except (OSError, ValueError) as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    labels = []
    for name, text, error in answers_in(files):
        key = Path(name).name
        if error is not None or text is None:
            click.echo(f"{name}: error: {error}", err=True)
            raise SystemExit(1)
        if key not in grades:
            click.echo(f"{name}: no grades for {key!r} in {grades_path}; left out", err=True)
            continue
        g = grade_text(text, rubric)
        labels.append(Label(key, {c.id: c.points for c in g.criteria}, grades[key], g.confidence))
    if not labels:
        click.echo("no answer has grades: nothing to fit", err=True)
        raise SystemExit(1)
    found = fit(
        labels,
        criteria,
        rubric_version=rubric.version,
        level=level,
        held_out=rubric.held_out_errors,
    )
    data = found.to_dict()
    if out_path:
        Path(out_path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if fmt == "json":
        click.echo(json.dumps(data))
        return
    click.echo(calibration_report(found))
    if out_path:
        click.echo(f"written to {out_path}")


def calibration_report(cal: Calibration) -> str:
    lines = [
        f"labels: {cal.labels}   rubric version {cal.rubric_version}   calibration {cal.version}",
        "",
        f"{'criterion':26}{'MAE before':>11}{'after':>8}   map (out of fold)",
    ]
    for m in cal.maps:
        how = f"{m.slope:.3f} * points {m.intercept:+.2f}" if m.applied else f"none: {m.reason}"
        lines.append(
            f"{m.criterion[:26]:26}{m.mae_before or 0:11.2f}{m.mae_after or 0:8.2f}   {how}"
        )
    figures = cal.figures
    lines += [
        f"{'total':26}{figures['mae_total_before']:11.2f}{figures['mae_total_after']:8.2f}",
        "",
        f"{cal.level:.0%} interval: total +- {cal.quantile:.1f} x (1 + 2 (1 - confidence)) "
        f"points ({cal.source})",
    ]
    return "\n".join(lines)


@main.group()
def rubric() -> None:
    """Work with rubric files."""


@rubric.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
def rubric_check(paths: tuple[str, ...]) -> None:
    """Validate rubric files; exit 1 listing every problem."""
    from .scoring import RubricError, load_rubric

    bad = 0
    for path in paths:
        try:
            r = load_rubric(path)
        except RubricError as exc:
            bad += 1
            click.echo(str(exc), err=True)
            continue
        click.echo(
            f"{path}: ok: {r.id} ({r.kind}), {len(r.criteria)} criteria, "
            f"{r.max_total:g} points, version {r.version}"
        )
    if bad:
        raise SystemExit(1)


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.argument("dataset", type=click.Path(dir_okay=False))
def evaluate(fmt: str, dataset: str) -> None:
    """Grade a human-graded DATASET (JSON lines) and report agreement (r, RMSE, QWK)."""
    from .scoring.evaluate import evaluate_dataset, format_report

    try:
        report = evaluate_dataset(dataset)
    except (OSError, ValueError) as exc:
        click.echo(str(exc) if str(exc).startswith(dataset) else f"{dataset}: {exc}", err=True)
        raise SystemExit(1) from exc
    if fmt == "json":
        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(format_report(report))


if importlib.util.find_spec("flask") is not None:  # else the scoring library alone
    cast(LazyGroup, main).lazy.update(SERVICE_COMMANDS)
if __name__ == "__main__":
    main()
