"""The configuration shown in the README is valid configuration."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from leadflow.intake.columns import FileMapping
from leadflow.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```toml\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0] for b in BLOCKS])
def test_readme_toml_is_valid(block: str) -> None:
    data = tomllib.loads(block)
    if "columns" in data:
        FileMapping.model_validate(data)
    else:
        Settings.model_validate(data)


def test_readme_shows_settings() -> None:
    assert len(BLOCKS) >= 3
