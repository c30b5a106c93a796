"""Settings kept in the ledger: leadflow.toml until a version is kept, then the newest version,
with who changed what; `config export` and `config import` round-trip them through TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path

from leadflow.db import session_scope
from leadflow.ledger.settings_versions import (
    editable_settings,
    save_settings,
    settings_history,
    settings_in_force,
)
from leadflow.settings import Settings, TeamRouting, TerritoryRule, settings_from_toml
from tests.conftest import Database

TOML = """
[routing]
period = "week"
fallback_team = "Inside"

[[routing.territories]]
name = "UK"
countries = ["GB", "IE"]

[[routing.territories]]
name = "DACH"
countries = ["DE", "AT", "CH"]
size_min = 50

[routing.teams.Inside]
policy = "merit"
merit_spread = 0.4

[sla.first_touch_hours]
A = 0.5
B = 2
C = 8
D = 24
"""


def test_the_bootstrap_rules_until_a_version_is_kept_then_the_newest(db: Database) -> None:
    bootstrap = Settings()
    with session_scope(db.engine) as s:
        assert settings_in_force(s, bootstrap=bootstrap) == bootstrap
        changed = bootstrap.model_copy(deep=True)
        changed.routing.teams["East"] = TeamRouting(policy="merit")
        first = save_settings(
            s, settings=changed, bootstrap=bootstrap, by="ops@example.com", note="East on merit"
        )
        assert first is not None
        assert first.changes["routing.teams.East.policy"] == ["round_robin", "merit"]
        # the same settings again: no new version
        assert save_settings(s, settings=changed, bootstrap=bootstrap, by="ops@example.com") is None
    with session_scope(db.engine) as s:
        assert settings_in_force(s, bootstrap=bootstrap).routing.for_team("East").policy == "merit"
        again = editable_settings(s, bootstrap=bootstrap)
        again.routing.teams["East"].policy = "weighted"  # a copy: what is in force is not touched
        assert settings_in_force(s, bootstrap=bootstrap).routing.for_team("East").policy == "merit"
        again.routing.teams["East"].policy = "merit"
        again.routing.territories = [TerritoryRule(name="UK", countries=["GB"])]
        second = save_settings(s, settings=again, bootstrap=bootstrap, by="boss@example.com")
        assert second is not None
        assert set(second.changes) == {"routing.territories"}
        assert second.changes["routing.territories"] == [[], [{"name": "UK", "countries": ["GB"]}]]
    with session_scope(db.engine) as s:
        history = settings_history(s)
        assert [(v.changed_by, v.note) for v in history] == [
            ("boss@example.com", None),
            ("ops@example.com", "East on merit"),
        ]
        # a different bootstrap (another server's leadflow.toml) does not override the ledger
        other = Settings.model_validate({"routing": {"period": "week"}})
        assert settings_in_force(s, bootstrap=other).routing.period == "month"


def test_config_export_and_import_round_trip_through_toml(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "team.toml"
    source.write_text(TOML, encoding="utf-8")
    code, out, err = db.cli("--as", "ops@example.com", "config", "import", str(source), "--note", "Q1 map")
    assert code == 0, err
    assert "settings version 1 in force" in out
    assert 'routing.teams.Inside.policy: "round_robin" -> "merit"' in out
    exported = tmp_path / "exported.toml"
    assert db.cli("config", "export", str(exported))[0] == 0
    assert settings_from_toml(exported.read_text(), source="x") == settings_from_toml(TOML, source="y")
    # only what differs from the defaults is written
    assert "date_formats" not in exported.read_text()
    assert tomllib.loads(exported.read_text())["routing"]["period"] == "week"
    # importing it again changes nothing
    code, out, _ = db.cli("config", "import", str(exported))
    assert code == 0 and "nothing changed" in out
    code, out, _ = db.cli("config", "history")
    assert "version 1 by ops@example.com" in out and "(Q1 map)" in out


def test_a_bad_file_names_each_wrong_setting_and_keeps_nothing(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[routing.teams.Inside]\npolicy = "best_guess"\n[sla]\nmax_passes = -1\n', encoding="utf-8"
    )
    code, _, err = db.cli("config", "import", str(bad))
    assert code == 1
    assert "routing.teams.Inside.policy" in err and "sla.max_passes" in err
    code, out, _ = db.cli("config", "history")
    assert "keeps no settings yet" in out
    code, out, _ = db.cli("config", "import", str(bad.with_name("missing.toml")))
    assert code == 1


def test_a_leadflow_toml_that_differs_from_the_ledger_is_said(db: Database, tmp_path: Path) -> None:
    kept = tmp_path / "kept.toml"
    kept.write_text('[routing]\nperiod = "week"\n', encoding="utf-8")
    assert db.cli("config", "import", str(kept))[0] == 0
    edited = tmp_path / "edited.toml"
    edited.write_text('[routing]\nperiod = "month"\n', encoding="utf-8")
    code, out, err = db.cli("--config", str(edited), "config", "export", "-")
    assert code == 0
    assert 'period = "week"' in out  # the ledger's are in force
    assert "the settings in force are the ledger's (version 1" in " ".join(err.split())
