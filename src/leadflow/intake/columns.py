"""Canonical columns of each importable kind, how other layouts map onto them, and presets.

A mapping says, for each canonical column, which column of the file holds it; a file's own
headers that already are canonical names (in any case or spacing) need no mapping. A preset is a
TOML mapping file shipped with leadflow that may span several files of one export.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow.errors import LeadflowError
from leadflow.models import ACTIVITY_KINDS, LEAD_TYPES, STAGES

Kind = Literal["leads", "reps", "sources", "activities", "companies", "products"]
KINDS: tuple[Kind, ...] = ("companies", "products", "sources", "reps", "leads", "activities")
ColumnType = Literal["text", "label", "int", "float", "bool", "datetime", "email", "phone", "domain", "enum"]


@dataclass(frozen=True)
class Column:
    """One canonical column: its type, its longest allowed text, and allowed values for enums.

    ``optional``: a bad value is a warning; the field is dropped and the row goes in (a lead is
    worth having without its industry). Otherwise a bad value sets the whole row aside: its
    identity, dates and outcome are what the ledger's reports stand on. ``minimum``: smaller
    numbers are bad values. ``bands``: a whole number also given as a band (``51-200``,
    ``1000+``) or a size word, read as the band's lower bound."""

    name: str
    type: ColumnType = "text"
    max_len: int = 300
    choices: tuple[str, ...] = ()
    required: bool = False
    optional: bool = False
    minimum: float | None = None
    bands: bool = False


@dataclass(frozen=True)
class KindSpec:
    """The canonical columns of one kind and whether unknown columns are kept as extras."""

    kind: Kind
    columns: tuple[Column, ...]
    keeps_extra: bool = False
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(c.name for c in self.columns))


SPECS: dict[Kind, KindSpec] = {
    "leads": KindSpec(
        "leads",
        (
            Column("external_id", max_len=200),
            Column("created_at", "datetime"),
            Column("first_name", max_len=200),
            Column("last_name", max_len=200),
            Column("email", "email", max_len=320, optional=True),
            Column("phone", "phone", max_len=64, optional=True),
            Column("title", optional=True),
            Column("company"),
            Column("domain", "domain", max_len=255, optional=True),
            Column("industry", "label", max_len=100, optional=True),
            Column("company_size", "int", optional=True, minimum=0, bands=True),
            Column("annual_revenue", "float", optional=True, minimum=0),
            Column("country", max_len=100, optional=True),
            Column("region", max_len=100, optional=True),
            Column("city", max_len=100, optional=True),
            Column("territory", max_len=200),
            Column("source", max_len=200),
            Column("lead_type", "enum", choices=LEAD_TYPES, optional=True),
            Column("budget", "float", optional=True, minimum=0),
            Column("authority", "bool", optional=True),
            Column("need", optional=True),
            Column("timeline", max_len=100, optional=True),
            Column("owner", max_len=320),
            Column("assigned_at", "datetime"),
            Column("first_touch_at", "datetime"),
            Column("stage", "enum", choices=STAGES),
            Column("won_at", "datetime"),
            Column("lost_at", "datetime"),
            # When the deal closed, either way: fills won_at or lost_at by the stage.
            Column("closed_at", "datetime"),
            Column("amount", "float", minimum=0),
            Column("product", max_len=200),
            Column("lost_reason"),
        ),
        keeps_extra=True,
    ),
    "reps": KindSpec(
        "reps",
        (
            Column("external_id", max_len=200),
            Column("name", max_len=200, required=True),
            Column("email", "email", max_len=320),
            Column("team", max_len=200),
            Column("manager", max_len=200),
            Column("territory", max_len=1000),
            Column("capacity", "int", minimum=0),
            Column("active", "bool"),
            # an out-of-office window: no leads from away_from (else now) until away_until
            Column("away_from", "datetime"),
            Column("away_until", "datetime"),
            Column("away_reason", max_len=200),
        ),
    ),
    "sources": KindSpec(
        "sources",
        (
            Column("name", max_len=200, required=True),
            Column("channel", max_len=100),
            Column("cost_per_lead", "float"),
            Column("spend", "float"),
        ),
    ),
    "activities": KindSpec(
        "activities",
        (
            Column("lead", max_len=200, required=True),
            Column("rep", max_len=320),
            Column("at", "datetime", required=True),
            Column("kind", "enum", choices=ACTIVITY_KINDS, required=True),
            Column("outcome", "label", max_len=40),
            Column("note", max_len=10_000),
        ),
    ),
    "companies": KindSpec(
        "companies",
        (
            Column("name", required=True),
            Column("domain", "domain", max_len=255),
            Column("industry", "label", max_len=100),
            Column("employees", "int"),
            Column("annual_revenue", "float"),
            Column("country", max_len=100),
            Column("year_established", "int"),
            Column("parent"),
        ),
    ),
    "products": KindSpec(
        "products",
        (
            Column("name", max_len=200, required=True),
            Column("series", max_len=100),
            Column("price", "float"),
        ),
    ),
}


# Columns `leadflow export` writes that leadflow computes itself: ignored on import, so an export
# imports back cleanly instead of turning them into extra attributes.
LEDGER_ONLY = frozenset(
    {"id", "fit_score", "win_probability", "grade", "self_sourced", "follow_up_at", "score_model_id"}
)


class MappingError(LeadflowError, ValueError):
    """A mapping or preset is malformed or names columns that do not exist."""


class FileMapping(BaseModel):
    """How one file maps onto one kind: column names, value translations, scale and strictness."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    # the export's own date formats (strftime codes), tried before the configured ones
    date_formats: list[str] = Field(default_factory=list)
    # columns named in ``columns`` may be absent (an export holds the columns its user chose)
    missing_ok: bool = False
    # Reject a lead whose company names an account that was never imported (CRM exports
    # reference their own accounts table); otherwise an unknown company is just a name.
    require_known_company: bool = False
    # Amounts in some exports are 0 on lost deals; an amount is only kept on won leads.
    amount_only_when_won: bool = False


class Preset(BaseModel):
    """A named import layout; several kinds for a multi-file export, imported in dependency order."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    companies: FileMapping | None = None
    products: FileMapping | None = None
    sources: FileMapping | None = None
    reps: FileMapping | None = None
    leads: FileMapping | None = None
    activities: FileMapping | None = None

    def files(self) -> list[tuple[Kind, FileMapping]]:
        """The kinds this preset covers, in the order they must be imported."""
        found = [(kind, getattr(self, kind)) for kind in KINDS]
        return [(kind, mapping) for kind, mapping in found if mapping is not None]


def header_key(name: str) -> str:
    """A header as compared with canonical names: 'Created At ' and 'created-at' match 'created_at'."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def preset_names() -> list[str]:
    """Presets shipped with leadflow."""
    folder = resources.files("leadflow.intake") / "presets"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name, or a TOML mapping file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
        label = str(path)
    else:
        resource = resources.files("leadflow.intake") / "presets" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise MappingError(
                f"unknown preset {name_or_path!r}; shipped presets: {', '.join(preset_names())}"
            )
        text = resource.read_text(encoding="utf-8")
        label = f"preset {name_or_path}"
    try:
        preset = Preset.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise MappingError(f"{label}: {exc}") from exc
    for kind, mapping in preset.files():
        _check_targets(kind, mapping, label)
    return preset


def single_file_mapping(kind: Kind, pairs: list[str], mapping_file: str | None) -> FileMapping:
    """A mapping from a TOML file's [columns] table and/or ``canonical=column`` pairs."""
    mapping = FileMapping()
    if mapping_file:
        try:
            data = tomllib.loads(Path(mapping_file).read_text(encoding="utf-8"))
            mapping = FileMapping.model_validate(data.get(kind, data))
        except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
            raise MappingError(f"{mapping_file}: {exc}") from exc
    columns = dict(mapping.columns)
    for pair in pairs:
        canonical, sep, column = pair.partition("=")
        if not sep or not canonical.strip() or not column.strip():
            raise MappingError(f"--map {pair!r}: expected canonical=column, e.g. owner=sales_agent")
        columns[canonical.strip()] = column.strip()
    mapping = mapping.model_copy(update={"columns": columns})
    _check_targets(kind, mapping, "--map")
    return mapping


def _check_targets(kind: Kind, mapping: FileMapping, label: str) -> None:
    known = set(SPECS[kind].names)
    for table in (mapping.columns, mapping.values, mapping.scale, mapping.defaults):
        unknown = sorted(set(table) - known)
        if unknown:
            raise MappingError(
                f"{label}: {kind} has no canonical column {', '.join(unknown)}; "
                f"known: {', '.join(SPECS[kind].names)}"
            )


# Headers other CRMs use for canonical columns, as header_key() makes them (case, spacing and
# punctuation do not matter): what a file says without a preset is matched by these.
SYNONYMS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "leads": {
        "external_id": ("record_id", "lead_id", "contact_id", "lead", "lead_no", "lead_number",
                        "lead_num", "crm_id", "opportunity_id", "prospect_id"),
        "created_at": ("create_date", "created", "created_date", "date_created", "creation_date",
                       "created_on", "date_added", "lead_date", "lead_created", "date"),
        "first_name": ("first", "firstname", "given_name", "forename"),
        "last_name": ("last", "lastname", "surname", "family_name"),
        "email": ("e_mail", "email_address", "e_mail_address", "mail", "work_email", "business_email",
                  "email_1"),
        "phone": ("phone_number", "telephone", "tel", "mobile", "mobile_phone", "mobile_phone_number",
                  "work_phone", "business_phone", "phone_1"),
        "title": ("job_title", "position", "jobtitle", "role"),
        "company": ("company_name", "company_account", "account", "account_name", "organization",
                    "organisation", "organization_name", "employer"),
        "domain": ("website", "website_url", "company_domain", "company_domain_name", "web_site", "url"),
        "industry": ("sector", "vertical"),
        "company_size": ("number_of_employees", "no_of_employees", "employees", "employee_count",
                         "headcount", "size", "num_employees"),
        "annual_revenue": ("revenue",),
        "country": ("country_region", "country_code", "nation"),
        "region": ("state", "state_region", "state_province", "province", "county"),
        "city": ("town",),
        "territory": ("sales_territory", "sales_region"),
        "source": ("lead_source", "original_source", "source_channel"),
        "lead_type": ("type",),
        "authority": ("decision_maker", "is_decision_maker"),
        "timeline": ("time_frame", "timeframe", "purchase_timeline"),
        "owner": ("contact_owner", "lead_owner", "owner_name", "assigned_to", "sales_rep", "rep",
                  "sales_agent", "account_owner", "owner_email", "deal_owner"),
        "assigned_at": ("assigned_date", "date_assigned"),
        "first_touch_at": ("first_contacted", "first_contact_date", "first_touch"),
        "stage": ("lifecycle_stage", "deal_stage", "pipeline_stage"),
        "closed_at": ("close_date", "closed_date", "date_closed"),
        "amount": ("deal_amount", "close_value", "deal_value", "won_amount"),
        "product": ("product_name",),
        "lost_reason": ("closed_lost_reason", "loss_reason", "reason_lost"),
    },
    "reps": {
        "external_id": ("user_id", "rep_id", "employee_id"),
        "name": ("full_name", "rep_name", "sales_agent", "user", "user_name", "owner", "rep"),
        "email": ("e_mail", "email_address"),
        "team": ("team_name", "sales_team"),
        "manager": ("manager_name", "reports_to"),
        "territory": ("territories", "region", "regional_office"),
        "capacity": ("max_leads", "lead_capacity"),
        "active": ("is_active", "enabled"),
        "away_from": ("out_of_office_from", "ooo_from", "away_start", "absent_from", "out_of_office_start"),
        "away_until": ("out_of_office_until", "ooo_until", "away_end", "absent_until", "out_of_office_end",
                       "back_on"),
        "away_reason": ("out_of_office_reason", "absence_reason"),
    },
    "companies": {
        "name": ("account", "account_name", "company", "company_name"),
        "domain": ("website",),
        "industry": ("sector",),
        "employees": ("number_of_employees", "no_of_employees", "employee_count"),
        "annual_revenue": ("revenue",),
    },
    "sources": {"name": ("source", "lead_source"), "cost_per_lead": ("cpl", "cost")},
    "products": {"name": ("product", "product_name"), "price": ("sales_price", "list_price")},
    "activities": {"lead": ("lead_id", "external_id"), "at": ("date", "activity_date"),
                   "kind": ("type", "activity_type"), "rep": ("owner", "assigned_to")},
}  # fmt: skip
_BY_SYNONYM: dict[Kind, dict[str, str]] = {
    kind: {synonym: canonical for canonical, synonyms in table.items() for synonym in synonyms}
    for kind, table in SYNONYMS.items()
}
# A lead needs one of these (or a company with a person's name) to be found again and worked.
IDENTITY = ("external_id", "email", "phone")


@dataclass
class ResolvedHeader:
    """Which position of the file's header holds each canonical column and each extra, and how
    each column was understood, for the import to show."""

    positions: dict[str, int]
    matched: list[tuple[str, str, str]]  # (column, canonical field, how: mapping, name or synonym)
    extras: list[str]  # columns kept only as extra attributes
    ignored: list[str]  # columns leadflow computes itself (from its own export), or not of this kind
    absent: list[str] = field(default_factory=list)  # columns the mapping names that the file lacks


def resolve_header(kind: Kind, header: list[str], mapping: FileMapping) -> ResolvedHeader:
    """Match the file's header to canonical columns: the mapping's first, then headers that are
    canonical names, then known synonyms; for leads, the rest are kept as extras."""
    positions = {header_key(name): i for i, name in enumerate(header)}
    exact = {name.strip(): i for i, name in enumerate(header)}
    resolved: dict[str, int] = {}
    how: dict[str, str] = {}
    absent: list[str] = []
    for canonical, column in mapping.columns.items():
        index = exact.get(column.strip(), positions.get(header_key(column)))
        if index is None and mapping.missing_ok:
            absent.append(column)
            continue
        if index is None:
            raise MappingError(
                f"mapping names column {column!r} for {canonical}, but the file's header has "
                f"only: {', '.join(header)}"
            )
        resolved[canonical], how[canonical] = index, "mapping"
    taken = set(resolved.values())
    for canonical in SPECS[kind].names:
        if canonical not in resolved and canonical in positions and positions[canonical] not in taken:
            resolved[canonical], how[canonical] = positions[canonical], "name"
            taken.add(positions[canonical])
    synonyms = _BY_SYNONYM.get(kind, {})
    for i, name in enumerate(header):
        meant = synonyms.get(header_key(name))
        if meant is not None and meant not in resolved and i not in taken:
            resolved[meant], how[meant] = i, "synonym"
            taken.add(i)
    extras: list[str] = []
    ignored: list[str] = []
    for i, name in enumerate(header):
        if i in taken or not name.strip():
            continue
        if header_key(name) in LEDGER_ONLY:
            ignored.append(name)
        elif SPECS[kind].keeps_extra:
            resolved[f"extra:{name.strip()}"] = i
            extras.append(name)
        else:
            ignored.append(name)
    missing = [c.name for c in SPECS[kind].columns if c.required and c.name not in resolved]
    missing = [m for m in missing if m not in mapping.defaults]
    if missing:
        raise MappingError(f"{kind} need column(s) {', '.join(missing)}; the header has: {', '.join(header)}")
    given = set(resolved) | set(mapping.defaults)
    if kind == "leads" and not (
        given & set(IDENTITY) or ("company" in given and given & {"first_name", "last_name"})
    ):
        raise MappingError(
            "no column of the header was recognised as an email, phone, external id, or a company "
            "with a person's name, so no lead could be told apart or found again; name one with "
            f"--map (e.g. --map email='E-mail Address'). The header has: {', '.join(header)}"
        )
    matched = sorted(
        ((header[i], canonical, how[canonical]) for canonical, i in resolved.items() if canonical in how),
        key=lambda m: header.index(m[0]),
    )
    return ResolvedHeader(resolved, matched, extras, ignored, absent)
