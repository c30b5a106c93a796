"""Configuration: environment variables and leadflow.toml, every setting with a sensible default.

The database URL comes from the CLI's ``--db``, else ``LEADFLOW_DATABASE_URL``, else a SQLite file
in the working directory. The TOML file comes from ``--config``, else ``LEADFLOW_CONFIG``, else
``./leadflow.toml`` when it exists; a missing file means all defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadflow.errors import LeadflowError

DEFAULT_DATABASE_URL = "sqlite:///leadflow.db"


class ConfigError(LeadflowError, ValueError):
    """leadflow.toml is unreadable or holds a value that makes no sense."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


SIZE_WORDS = {
    "micro": 1,
    "small": 10,
    "mid": 50,
    "medium": 50,
    "mid-market": 50,
    "large": 250,
    "enterprise": 1000,
}


class MergeSettings(_Section):
    # Lead fields whose differing value in a duplicate replaces the lead's own. By default the
    # lead merged into keeps its values (and its date, owner, territory and stage); a duplicate
    # fills its blanks, and what it says otherwise is kept beside the lead as a note.
    overwrite: list[str] = Field(default_factory=list)


class ImportSettings(_Section):
    merge: MergeSettings = Field(default_factory=MergeSettings)
    # Company sizes given as words: each word's number of employees (a band's lower bound).
    size_words: dict[str, int] = Field(default_factory=lambda: dict(SIZE_WORDS))
    batch_size: int = Field(default=50_000, ge=100, le=1_000_000)
    max_cell_bytes: int = Field(default=1_000_000, ge=1_000)
    # A leads file of at least this many rows, more than the ledger holds, is written without the
    # indexes of leads, stage changes and assignments, which are built once at its end (a bulk load).
    defer_indexes: bool = True
    defer_indexes_from_rows: int = Field(default=100_000, ge=1)
    # Day-first formats are tried after month-first ones, so 03/04/2024 reads as March 4th.
    date_formats: list[str] = Field(
        default_factory=lambda: [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d",
            "%Y-%m-%dT%H:%M:%S%.fZ",
            "%Y-%m-%dT%H:%M:%SZ",
            "%m/%d/%Y, %I:%M %p",
            "%m/%d/%Y %I:%M %p",
            "%m/%d/%Y %H:%M",
            "%m/%d/%Y",
            "%d.%m.%Y",
            "%d/%m/%Y",
            "%Y/%m/%d",
            "%d %b %Y",
            "%b %d, %Y",
        ]
    )


CriterionOp = Literal[
    "eq", "in", "not_in", "gte", "lte", "between", "matches", "is_true", "is_false", "known"
]


class Criterion(_Section):
    """One rule of the ideal-customer profile: when ``field`` satisfies ``op value``, add points.

    ``field`` is a lead attribute (industry, company_size, title, lead_type, source, budget,
    authority, need, timeline, country, region, ...) or ``extra.NAME`` for an extra attribute.
    """

    name: str
    field: str
    op: CriterionOp
    value: str | float | bool | list[str] | list[float] | None = None
    points: float = Field(ge=-100, le=100)


class Behaviour(_Section):
    """Points for engagement: each positive contact, fading with a half-life, up to a cap."""

    points_per_contact: float = Field(default=5.0, ge=0)
    cap: float = Field(default=15.0, ge=0, le=100)
    half_life_days: float = Field(default=30.0, gt=0)
    positive_outcomes: list[str] = Field(
        default_factory=lambda: ["connected", "meeting set", "replied", "completed"]
    )


def _default_criteria() -> list[Criterion]:
    return [
        Criterion(name="decision maker", field="authority", op="is_true", points=15),
        Criterion(name="budget of 10,000 or more", field="budget", op="gte", value=10_000, points=15),
        Criterion(name="high need", field="need", op="eq", value="high", points=15),
        Criterion(name="medium need", field="need", op="eq", value="medium", points=7),
        Criterion(name="buying this quarter", field="timeline", op="eq", value="this quarter", points=12),
        Criterion(name="buying next quarter", field="timeline", op="eq", value="next quarter", points=6),
        Criterion(
            name="senior title",
            field="title",
            op="matches",
            value=r"(?i)\b(chief|ceo|cto|cfo|coo|cio|vp|vice president|head|director)\b",
            points=10,
        ),
        Criterion(
            name="50 to 5,000 employees", field="company_size", op="between", value=[50, 5000], points=10
        ),
        Criterion(
            name="referral or inbound call",
            field="lead_type",
            op="in",
            value=["referral", "inbound call"],
            points=8,
        ),
    ]


class Profile(_Section):
    """The ideal-customer profile: explicit criteria and engagement; a score from 0 to 100."""

    criteria: list[Criterion] = Field(default_factory=_default_criteria)
    behaviour: Behaviour = Field(default_factory=Behaviour)


class Grades(_Section):
    """Lowest fit score (0-100) for grades A, B and C; anything lower is D."""

    fit: tuple[float, float, float] = (70.0, 50.0, 30.0)

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        a, b, c = self.fit
        if not a > b > c:
            raise ValueError("grade thresholds must fall from A to C, e.g. [70, 50, 30]")
        return self


Stage = Literal["inquiry", "lead", "qualified", "opportunity", "won", "lost", "nurture", "disqualified"]
OPEN_STAGES: tuple[Stage, ...] = ("inquiry", "lead", "qualified", "opportunity", "nurture")
ROUTABLE_BY_DEFAULT: tuple[Stage, ...] = ("inquiry", "lead", "qualified", "opportunity")


def _routable_by_default() -> list[Stage]:
    return list(ROUTABLE_BY_DEFAULT)


PolicyName = Literal["round_robin", "weighted", "load_balance", "merit", "optimal"]
# lead attributes over which `optimal` learns each rep's own close rate (rep x segment)
SegmentName = Literal["industry", "source", "product", "lead_type", "country", "region"]


class TerritoryRule(_Section):
    """Leads matching every condition given here belong to ``name``; rules are tried in order.

    Text conditions compare case-insensitively; ``postal_prefixes`` match the start of the
    lead's ``extra.postal_code``; ``accounts`` are named companies.
    """

    name: str
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    postal_prefixes: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    size_min: int | None = None
    size_max: int | None = None
    accounts: list[str] = Field(default_factory=list)


class TeamRouting(_Section):
    """One team's routing policy and its parameters."""

    policy: PolicyName = "round_robin"
    weights: dict[str, float] = Field(default_factory=dict)
    merit_spread: float = Field(default=0.6, ge=0, lt=1)
    merit_proportional: bool = False
    min_share: float = Field(default=0.0, ge=0, le=1)
    # optimal: a rep whose close-rate interval is wider than exploration_width (new, few closed
    # leads) gets at least exploration_share of a batch, so that the estimate can improve.
    exploration_share: float = Field(default=0.05, ge=0, le=1)
    exploration_width: float = Field(default=0.2, gt=0, le=1)
    # optimal: also learn each rep's close rate per value of this lead attribute (a rep who closes
    # one industry better than their average gets more of it once the evidence is there)
    segment_by: SegmentName | None = None
    daily_cap: int | None = Field(default=None, ge=1)

    def weight_of(self, rep_external_id: str) -> float:
        """A rep's weight in weighted routing: their own, else 1 (an equal share)."""
        return self.weights.get(rep_external_id, 1.0)


class Routing(_Section):
    """Who gets which lead: territory rules, each team's policy, and the capacity period."""

    period: Literal["week", "month"] = "month"
    # Unowned leads in these stages are routed; unowned leads in other open stages (nurture) are
    # listed by `leadflow queue` as not routed, with why.
    routable_stages: list[Stage] = Field(default_factory=_routable_by_default)
    # Which leads get the capacity there is: the most likely to win first (win probability, else
    # fit score, then the oldest), or the oldest first. The reserve goes before either.
    order: Literal["best_first", "oldest_first"] = "best_first"
    # At most this many new leads a day per rep (none: no daily limit), so that one run does not
    # spend a rep's month; per rep by external id in daily_caps, else the team's daily_cap.
    daily_caps: dict[str, int] = Field(default_factory=dict)
    territories: list[TerritoryRule] = Field(default_factory=list)
    fallback_team: str | None = None
    default: TeamRouting = Field(default_factory=TeamRouting)
    teams: dict[str, TeamRouting] = Field(default_factory=dict)
    # When the buyer's territory and the company headquarters' differ, the headquarters' rep
    # gets this share of the credit and the owner the rest (0 turns split credit off).
    headquarters_share: float = Field(default=0.5, ge=0, lt=1)
    # Reps' close rates from history are recomputed for a batch, and for a single lead routed in
    # real time when older than this (they move slowly; recounting the ledger per lead does not).
    estimates_max_age_minutes: int = Field(default=60, ge=0)

    def for_team(self, name: str | None) -> TeamRouting:
        """The routing of a team, or the default one."""
        return self.teams.get(name or "", self.default)


class WorkingHours(_Section):
    """When reps work, in their own time zone: deadlines count only these hours."""

    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=17, ge=1, le=24)
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday is 0

    @model_validator(mode="after")
    def _sane(self) -> WorkingHours:
        if self.end_hour <= self.start_hour or not self.days or not set(self.days) <= set(range(7)):
            raise ValueError("working hours need start_hour < end_hour and days among 0 (Monday) to 6")
        return self


class Sla(_Section):
    """First-touch deadlines per grade (working hours), then escalation and reassignment."""

    first_touch_hours: dict[str, float] = Field(
        default_factory=lambda: {"A": 1.0, "B": 4.0, "C": 8.0, "D": 24.0}
    )
    reassign_after_hours: float = Field(default=4, ge=0)
    max_passes: int = Field(default=2, ge=0)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    # `leadflow serve` runs the sweep (and nurture re-entry and the reserve) this often; 0: never
    sweep_every_minutes: float = Field(default=5, ge=0)


class Notify(_Section):
    """Messages on assignment and on SLA escalation: a signed webhook and email through SMTP.

    Secrets never sit in leadflow.toml: it names the environment variables that hold them."""

    webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    webhook_secret_env: str = "LEADFLOW_WEBHOOK_SECRET"  # HMAC-SHA256 key of the signature
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_user_env: str = "LEADFLOW_SMTP_USER"
    smtp_password_env: str = "LEADFLOW_SMTP_PASSWORD"
    email_from: str = "leadflow@localhost"
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_seconds: float = Field(default=30, gt=0)  # doubled after each failed attempt
    timeout_seconds: float = Field(default=5, gt=0)
    deliver_every_seconds: float = Field(default=15, ge=0)  # in `leadflow serve`; 0: never

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured (otherwise nothing is queued at all)."""
        return bool(self.webhook_url or self.smtp_host)


class Server(_Section):
    """`leadflow serve`: what a request may send, and how many wrong passwords lock a login."""

    max_body_bytes: int = Field(default=1_000_000, ge=1_024)  # a larger body: 413, unread
    failed_logins: int = Field(default=5, ge=1)  # wrong passwords in a row that lock ...
    lockout_minutes: float = Field(default=15, gt=0)  # ... the account or address this long


class Settings(_Section):
    """Everything leadflow.toml can say."""

    imports: ImportSettings = Field(default_factory=ImportSettings)
    profile: Profile = Field(default_factory=Profile)
    grades: Grades = Field(default_factory=Grades)
    routing: Routing = Field(default_factory=Routing)
    sla: Sla = Field(default_factory=Sla)
    notify: Notify = Field(default_factory=Notify)
    server: Server = Field(default_factory=Server)


def database_url(explicit: str | None = None) -> str:
    """The database to use: the explicit URL, else the environment, else the default file."""
    return explicit or os.environ.get("LEADFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL


def load_settings(path: str | Path | None = None) -> Settings:
    """Read leadflow.toml (explicit path, LEADFLOW_CONFIG, or ./leadflow.toml) into Settings."""
    candidate = settings_file(path)
    if candidate is None:
        return Settings()
    if not candidate.exists():
        raise ConfigError(f"{candidate}: configuration file not found")
    return settings_from_toml(candidate.read_text(encoding="utf-8"), source=str(candidate))


def settings_file(path: str | Path | None = None) -> Path | None:
    """The TOML file that would be read: explicit, LEADFLOW_CONFIG, or ./leadflow.toml if present."""
    explicit = path or os.environ.get("LEADFLOW_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path("leadflow.toml")
    return default if default.exists() else None


def settings_from_toml(text: str, *, source: str) -> Settings:
    """Settings from TOML text; a problem names ``source`` and each setting that is wrong."""
    try:
        return Settings.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def settings_to_toml(settings: Settings) -> str:
    """The settings as TOML, only what differs from the defaults (TOML has no null, and a
    reviewer wants to see what this team chose): reading it back gives the same settings."""
    body = _without_none(settings.model_dump(mode="json", exclude_defaults=True))
    text = tomlkit.dumps(body)
    if settings_from_toml(text, source="export") != settings:
        raise ConfigError("these settings cannot be written as TOML without changing them")
    return text


def write_profile(path: str | Path, criteria: list[Criterion]) -> tuple[int, int]:
    """Merge suggested criteria into a leadflow.toml's profile (created if missing): a criterion
    on the same field, test and value gets the new points, others are added, the user's own stay;
    comments and layout are kept. Returns (updated, added)."""
    target = Path(path)
    document = tomlkit.parse(target.read_text(encoding="utf-8")) if target.exists() else tomlkit.document()
    if "profile" not in document:
        document["profile"] = tomlkit.table()
    profile = document["profile"]
    if "criteria" not in profile:
        profile["criteria"] = tomlkit.aot()
    existing = profile["criteria"]

    def key(item: Any) -> tuple[Any, ...]:
        value = item.get("value")
        return (item.get("field"), item.get("op"), tuple(value) if isinstance(value, list) else value)

    known = {key(item): item for item in existing}
    updated = added = 0
    for criterion in criteria:
        row = criterion.model_dump(exclude_none=True)
        item = known.get(key(row))
        if item is not None:
            updated += item["points"] != row["points"]
            item["points"] = row["points"]
        else:
            existing.append(row)
            added += 1
    Settings.model_validate(document.unwrap())
    target.write_text(tomlkit.dumps(document), encoding="utf-8")
    return updated, added
