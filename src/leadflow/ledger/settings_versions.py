"""The settings kept in the ledger, versioned: leadflow.toml is the bootstrap of a fresh ledger;
once anyone changes a setting from the app or imports a file, the newest version in the ledger
is in force, for every server and command reading that ledger.

Each version is whole (the settings as validated), with who made it, when, and each setting
changed from the version before (dotted path: [before, after]), so that a change is reviewed
like a commit and `leadflow config export` writes any of them back to TOML.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from typing import Any

from pydantic import ValidationError
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from leadflow.models import SettingsVersion, utcnow
from leadflow.settings import ConfigError, Settings

_parsed: dict[str, Settings] = {}  # by digest: validating a version once per process is enough
_KEEP_PARSED = 8
_with_table: weakref.WeakSet[Any] = weakref.WeakSet()


def _canonical(settings: Settings) -> tuple[dict[str, Any], str]:
    body = settings.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body, digest


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Settings by dotted path; a table's keys each, a list (of rules, of criteria) whole."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat |= _flat(item, f"{prefix}.{key}" if prefix else str(key))
        return flat
    return {prefix: _compact(value)}


def changed_settings(before: Settings, after: Settings) -> dict[str, list[Any]]:
    """Each setting that differs, by dotted path (``routing.teams.EMEA.policy``), as [before, after];
    a list (territory rules, criteria) counts as one setting. A team without routing of its own
    routes by the default, so a team's setting missing on one side is the default's there."""
    old, new = _flat(before.model_dump(mode="json")), _flat(after.model_dump(mode="json"))

    def value(flat: dict[str, Any], path: str) -> Any:
        if path in flat or not path.startswith("routing.teams."):
            return flat.get(path)
        field = path.split(".", 3)[-1]
        return flat.get(f"routing.default.{field}")

    changed = {}
    for path in sorted(old.keys() | new.keys()):
        was, now = value(old, path), value(new, path)
        if was != now:
            changed[path] = [was, now]
    return changed


def current_version(session: Session) -> SettingsVersion | None:
    """The version in force, or None while the ledger keeps none (leadflow.toml rules)."""
    if not _has_versions(session):
        return None
    return session.scalars(select(SettingsVersion).order_by(SettingsVersion.id.desc()).limit(1)).first()


def _validated(version: SettingsVersion) -> Settings:
    found = _parsed.get(version.digest)
    if found is None:
        try:
            found = Settings.model_validate(version.body)
        except ValidationError as exc:
            raise ConfigError(f"settings version {version.id} in the ledger is not valid: {exc}") from exc
        if len(_parsed) >= _KEEP_PARSED:
            _parsed.pop(next(iter(_parsed)))
        _parsed[version.digest] = found
    return found


def editable_settings(session: Session, *, bootstrap: Settings) -> Settings:
    """A copy of the settings in force, to change and keep with :func:`save_settings`."""
    return settings_in_force(session, bootstrap=bootstrap).model_copy(deep=True)


def settings_in_force(session: Session, *, bootstrap: Settings) -> Settings:
    """The ledger's newest settings, else ``bootstrap`` (leadflow.toml). Shared: read them; to
    make a new version, start from :func:`editable_settings`."""
    version = session.execute(
        select(SettingsVersion.id, SettingsVersion.digest).order_by(SettingsVersion.id.desc()).limit(1)
    ).first() if _has_versions(session) else None  # fmt: skip
    if version is None:
        return bootstrap
    cached = _parsed.get(version.digest)
    if cached is not None:
        return cached
    row = session.get(SettingsVersion, version.id)
    assert row is not None
    return _validated(row)


def _has_versions(session: Session) -> bool:
    """Whether the ledger has the table (one older than it is upgraded by `leadflow init`); once
    seen it is remembered, since a table only ever appears."""
    bind = session.get_bind()
    if bind in _with_table:
        return True
    found = inspect(session.connection()).has_table(SettingsVersion.__tablename__)
    if found:
        _with_table.add(bind)
    return found


def save_settings(
    session: Session, *, settings: Settings, bootstrap: Settings, by: str, note: str | None = None
) -> SettingsVersion | None:
    """Keep ``settings`` as the newest version, with what changed from the one in force (from
    ``bootstrap`` when it is the first); None when nothing would change."""
    before = settings_in_force(session, bootstrap=bootstrap)
    body, digest = _canonical(Settings.model_validate(settings.model_dump()))
    changes = changed_settings(before, settings)
    if not changes and current_version(session) is not None:
        return None
    version = SettingsVersion(
        body=body, digest=digest, changed_by=by, changed_at=utcnow(), note=note,
        changes=changes or {"(first version)": [None, "the settings in force, kept in the ledger"]},
    )  # fmt: skip
    session.add(version)
    session.flush()
    return version


def settings_history(session: Session, *, limit: int = 50) -> list[SettingsVersion]:
    """The newest versions first."""
    if not _has_versions(session):
        return []
    return list(session.scalars(select(SettingsVersion).order_by(SettingsVersion.id.desc()).limit(limit)))


def settings_version(session: Session, *, version: int) -> Settings:
    """The settings of one version (for an export or a look back)."""
    row = session.get(SettingsVersion, version) if _has_versions(session) else None
    if row is None:
        raise ConfigError(f"there is no settings version {version} in this ledger")
    return _validated(row)
