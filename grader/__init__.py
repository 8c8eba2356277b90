"""grader: auto-grading of written submissions against data-defined rubrics."""

__version__ = "0.1.0"
