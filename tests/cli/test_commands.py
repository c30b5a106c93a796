"""Every command explains itself with an example."""

from __future__ import annotations

import subprocess
import sys
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


def test_the_command_line_starts_without_the_numeric_libraries() -> None:
    """`leadflow --help` must not pay for SciPy and scikit-learn (seconds of CPU): commands
    import the services that need them when they run."""
    heavy = ("scipy", "sklearn", "fastapi", "leadflow.analytics.reps")
    probe = f"import sys, leadflow.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
