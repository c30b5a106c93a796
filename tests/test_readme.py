"""What the README and the reference promise: valid configuration, a quick start near the top,
links that lead somewhere, and tour commands that exist."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.intake.columns import FileMapping
from leadflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")}
BLOCKS = [
    block
    for text in (README, *REFERENCE.values())
    for block in re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0] for b in BLOCKS])
def test_toml_shown_is_valid(block: str) -> None:
    data = tomllib.loads(block)
    if "columns" in data:
        FileMapping.model_validate(data)
    else:
        Settings.model_validate(data)


def test_configuration_is_shown() -> None:
    assert len(BLOCKS) >= 3
    assert "```toml" in REFERENCE["configuration.md"]


def test_quick_start_is_near_the_top() -> None:
    lines = README.splitlines()
    start = lines.index("## Quick start")
    assert start < 40
    assert any("make demo" in line for line in lines[start : start + 6])
    assert any("make test" in line for line in lines[start : start + 6])


def test_links_lead_somewhere() -> None:
    for text in (README, *REFERENCE.values()):
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", text):
            base = ROOT if text is README else ROOT / "docs"
            assert (base / target).is_file(), target


TOUR = re.findall(r"^\| [^|]+ \| `(leadflow [^`]+)`", README, flags=re.MULTILINE)


@pytest.mark.parametrize("line", TOUR)
def test_tour_commands_exist(line: str) -> None:
    command = typer.main.get_command(app)
    path: list[str] = []
    for word in shlex.split(line)[1:]:
        if word not in getattr(command, "commands", {}):
            break
        command, path = command.commands[word], [*path, word]
    assert path and not hasattr(command, "commands"), line
    options = {name for param in command.params for name in [*param.opts, *param.secondary_opts]}
    for option in re.findall(r"(?<![\w-])(--[a-z-]+)", line):
        assert option in options, (line, option)
    assert CliRunner().invoke(app, [*path, "--help"]).exit_code == 0
