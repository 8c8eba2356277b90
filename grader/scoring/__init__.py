"""grader's scoring library: parse answers, load rubrics, grade. Pure Python.

Nothing here imports Flask, Celery or a database, so the service, the workers and the
command line all grade with exactly the same code.

>>> from grader.scoring import grade_text, load_rubric
>>> rubric = load_rubric("rubrics/ml-health-check.toml")  # doctest: +SKIP
>>> grade_text("## Step 1 ...", rubric).total  # doctest: +SKIP
"""

from .grade import grade_text
from .parse import Plan, parse_plan
from .rubric import Rubric, RubricError, load_rubric, rubric_from_dict
from .score import FLAG_MESSAGES, FLAGS, CriterionGrade, Grade

__all__ = [
    "FLAGS",
    "FLAG_MESSAGES",
    "CriterionGrade",
    "Grade",
    "Plan",
    "Rubric",
    "RubricError",
    "grade_text",
    "load_rubric",
    "parse_plan",
    "rubric_from_dict",
]
