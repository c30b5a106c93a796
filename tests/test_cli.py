"""Every command explains itself with an example."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from leadflow.cli import app


def commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(root, [])
    return found


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_help_says_what_and_gives_an_example(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.stdout and "leadflow" in result.stdout


def test_the_contracted_commands_exist() -> None:
    names = {" ".join(p) for p in commands()}
    for expected in (
        "init",
        "leads import",
        "reps import",
        "sources import",
        "activities import",
        "leads list",
        "leads show",
        "reps list",
        "activity log",
        "stage set",
        "assign",
        "export",
        "demo",
    ):
        assert expected in names
