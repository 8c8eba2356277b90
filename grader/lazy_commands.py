"""The `grader` command group whose service commands are imported only when they run, so
``grader --help`` lists them without importing Flask, SQLAlchemy or scikit-learn."""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["SERVICE_COMMANDS", "LazyGroup"]

#: The service's commands: (module:attribute, short help). Imported when run, so the
#: listing in ``grader --help`` costs no import of Flask or SQLAlchemy.
SERVICE_COMMANDS = {
    "db": ("grader.service.commands:db_group", "Database schema."),
    "lti": (
        "grader.service.lti.commands:lti_group",
        "LTI 1.3: LMS platforms that launch grader and take its grades.",
    ),
    "platform": (
        "grader.service.webhooks.commands:platform_group",
        "Course platforms that submit through signed webhooks.",
    ),
    "reconcile": (
        "grader.service.commands:reconcile",
        "Re-enqueue submissions stuck in queued or grading, once.",
    ),
    "run": (
        "grader.service.commands:run",
        "Migrate, seed, then run the web server and a grading worker together.",
    ),
    "seed": (
        "grader.service.commands:seed",
        "Create the ml-health-check assignment and demo accounts.",
    ),
    "token": ("grader.service.commands:token_group", "API tokens."),
    "user": (
        "grader.service.account_commands:user_group",
        "Web accounts (people who sign in with a password).",
    ),
}


class LazyGroup(click.Group):
    """A group whose service commands are imported only when they run (or show their own
    help)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, _, attr = self.lazy[name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][1]))
            elif (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
