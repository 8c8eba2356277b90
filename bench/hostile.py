"""Hostile answers: grading and rendering time for pathological shapes at 16, 64 and 256 KB.

Each shape is a run of one Markdown or HTML construct (delimiters, nesting, long lines,
tables, headings) repeated to the size. Grading reads the first 32 KB (``READ_LIMIT``) and
rendering formats the first 16 KB (``FORMAT_LIMIT``, the rest as escaped plain text), so
past those sizes time should stop growing: the last columns are the 64-to-256 KB ratios (4x
would be linear; about 1x is bounded). Targets (issue 10): a 256 KB answer of any shape
grades in under 1 s and renders in under 0.5 s on this machine.

    python bench/hostile.py [--sizes 16,64,256] [--shapes "[,**x "]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.scoring import grade_text, load_rubric  # noqa: E402
from grader.service.render import render_markdown  # noqa: E402

SHAPES = [
    "[",
    "]",
    "![",
    "](",
    "[a](",
    "**x ",
    "__x ",
    "*",
    "_",
    "`",
    "``x ",
    "<",
    "<a",
    "<script",
    "<!--",
    "<div>",
    "<details>",
    "&amp;",
    "\\",
    ">",
    "> ",
    "- ",
    "  - x\n",
    "1. ",
    "# x\n",
    "| a ",
    "|a|\n|-|\n",
    "a",
    "a ",
    "\n",
    "```\n",
    "~~~x\n",
    "http://x.y/ ",
]


def _time(fn, arg) -> float:
    started = time.perf_counter()
    fn(arg)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64,256", help="sizes in KB")
    parser.add_argument("--shapes", default=None, help="comma-separated shapes (default: all)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",") if args.shapes else SHAPES
    rubric = load_rubric(ROOT / "rubrics" / "ml-health-check.toml")
    grade_text("warm up", rubric)

    def grade(text: str) -> None:
        grade_text(text, rubric)

    header = "".join(f"{f'grade {k}K':>11}" for k in sizes) + "".join(
        f"{f'render {k}K':>11}" for k in sizes
    )
    print(f"{'shape':<16}{header}{'grade x':>9}{'render x':>10}")
    worst_grade = worst_render = 0.0
    for shape in shapes:
        grades, renders = [], []
        for kb in sizes:
            text = (shape * (kb * 1024 // len(shape) + 1))[: kb * 1024]
            grades.append(_time(grade, text))
            renders.append(_time(render_markdown, text))
        worst_grade, worst_render = max(worst_grade, grades[-1]), max(worst_render, renders[-1])
        growth = (
            f"{grades[-1] / max(grades[-2], 1e-6):9.1f}{renders[-1] / max(renders[-2], 1e-6):10.1f}"
            if len(sizes) > 1
            else ""
        )
        cells = "".join(f"{t:11.3f}" for t in grades + renders)
        print(f"{shape!r:<16}{cells}{growth}")
    print(
        f"\nslowest at {sizes[-1]} KB: grading {worst_grade:.2f} s (target < 1), "
        f"rendering {worst_render:.2f} s (target < 0.5)"
    )


if __name__ == "__main__":
    main()
