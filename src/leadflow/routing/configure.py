"""Changing how leads flow from the app: a team's policy and options, a rep's daily cap and
weight, the territory rules (with a preview of what they would move). Each change is a new
version of the settings in the ledger (who, when, before and after), checked as leadflow.toml is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from leadflow.errors import InvalidChange
from leadflow.ledger.settings_versions import editable_settings, save_settings
from leadflow.models import Rep, SettingsVersion, Team
from leadflow.routing.queue import take_queue
from leadflow.routing.roster import territory_rules
from leadflow.routing.territories import match_territory
from leadflow.settings import Settings, TeamRouting, TerritoryRule


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


def _saved(
    session: Session, *, settings: Settings, bootstrap: Settings, by: str, note: str
) -> SettingsVersion | None:
    try:
        checked = Settings.model_validate(settings.model_dump())
    except ValidationError as exc:
        raise InvalidChange(_problems(exc)) from exc
    return save_settings(session, settings=checked, bootstrap=bootstrap, by=by, note=note)


def set_team_routing(
    session: Session, *, team: Team, changes: dict[str, Any], bootstrap: Settings, by: str
) -> SettingsVersion | None:
    """Change a team's routing (policy, weights, merit spread, daily cap...); the team starts from
    the default routing when it had none of its own. None when nothing changed."""
    settings = editable_settings(session, bootstrap=bootstrap)
    current = settings.routing.for_team(team.name).model_dump()
    try:
        settings.routing.teams[team.name] = TeamRouting.model_validate(current | changes)
    except ValidationError as exc:
        raise InvalidChange(_problems(exc)) from exc
    return _saved(session, settings=settings, bootstrap=bootstrap, by=by, note=f"routing of {team.name}")


def set_rep_routing(
    session: Session,
    *,
    rep: Rep,
    team: Team | None,
    bootstrap: Settings,
    by: str,
    daily_cap: int | Any | None = ...,
    weight: float | Any | None = ...,
) -> SettingsVersion | None:
    """Set (a number) or clear (None) a rep's own daily cap and their weight in their team's
    weighted routing; ``...`` leaves either as it is."""
    settings = editable_settings(session, bootstrap=bootstrap)
    routing = settings.routing
    if daily_cap is not ...:
        if daily_cap is None:
            routing.daily_caps.pop(rep.external_id, None)
        elif daily_cap < 1:
            raise InvalidChange(f"a daily cap is 1 lead or more (got {daily_cap}); clear it for none")
        else:
            routing.daily_caps[rep.external_id] = int(daily_cap)
    if weight is not ...:
        if team is None:
            raise InvalidChange(f"{rep.name} is on no team: a weight is a share within a team")
        if weight is not None and weight <= 0:
            raise InvalidChange(f"a weight is more than 0 (got {weight}); deactivate the rep for none")
        current = routing.for_team(team.name).weights.get(rep.external_id)
        if weight != current and not (weight == 1.0 and current is None):  # 1 is everyone's default
            own = routing.teams.setdefault(team.name, routing.default.model_copy(deep=True))
            if weight is None:
                own.weights.pop(rep.external_id, None)
            else:
                own.weights[rep.external_id] = float(weight)
    return _saved(session, settings=settings, bootstrap=bootstrap, by=by, note=f"routing of {rep.name}")


def set_territory_rules(
    session: Session, *, rules: list[dict[str, Any]], bootstrap: Settings, by: str
) -> SettingsVersion | None:
    """Make these rules, in this order, the territory rules in force."""
    settings = editable_settings(session, bootstrap=bootstrap)
    settings.routing.territories = parse_rules(rules)
    return _saved(session, settings=settings, bootstrap=bootstrap, by=by, note="territory rules")


def parse_rules(rules: list[dict[str, Any]]) -> list[TerritoryRule]:
    """Rules as given (from a form or a request), checked; each problem names its rule."""
    parsed = []
    for number, rule in enumerate(rules, start=1):
        try:
            parsed.append(TerritoryRule.model_validate(rule))
        except ValidationError as exc:
            raise InvalidChange(f"rule {number} ({rule.get('name') or 'no name'}): {_problems(exc)}") from exc
    names = [r.name.lower() for r in parsed]
    if len(set(names)) != len(names):
        raise InvalidChange("two rules have the same territory name: give each territory one rule")
    return parsed


@dataclass
class RulePreview:
    """What new territory rules would do to the leads waiting to be routed."""

    waiting: int = 0  # unowned leads routing would place
    kept: int = 0  # of them, those that already carry a territory (the rules do not move those)
    now: Counter[str] = field(default_factory=Counter)  # territory -> leads matching the new rules
    before: Counter[str] = field(default_factory=Counter)  # territory -> leads matching today's
    moved: Counter[tuple[str, str]] = field(default_factory=Counter)  # (from, to) -> leads

    def sentences(self) -> list[str]:
        """What a manager reads before saving: "40 waiting leads would now match EMEA (12 before)"."""
        said = [f"{self.waiting:,} leads are waiting to be routed; {self.kept:,} already carry a territory"]
        for name in sorted(self.now.keys() | self.before.keys()):
            if self.now[name] != self.before[name]:
                said.append(f"{self.now[name]:,} would now match {name} ({self.before[name]:,} before)")
        for (old, new), count in self.moved.most_common(5):
            said.append(f"{count:,} would move from {old} to {new}")
        if len(said) == 1:
            said.append("no waiting lead would match another territory")
        return said


def preview_territory_rules(
    session: Session, *, settings: Settings, rules: list[dict[str, Any]]
) -> RulePreview:
    """Match the leads waiting to be routed against today's rules and the proposed ones."""
    proposed = parse_rules(rules)
    leads = take_queue(session, None, None, stages=settings.routing.routable_stages, lock=False)
    preview = RulePreview(waiting=leads.height)
    if leads.is_empty():
        return preview
    preview.kept = int(leads["lead_territory"].is_not_null().sum())
    free = leads.filter(leads["lead_territory"].is_null())
    old = match_territory(free, territory_rules(session, settings=settings)).fill_null("no territory")
    new = match_territory(free, proposed).fill_null("no territory")
    preview.before = Counter(old.to_list())
    preview.now = Counter(new.to_list())
    preview.moved = Counter((a, b) for a, b in zip(old.to_list(), new.to_list(), strict=True) if a != b)
    return preview
