"""Which territory a lead belongs to: the first rule of leadflow.toml that it matches."""

from __future__ import annotations

from typing import Any

import polars as pl

from leadflow.settings import TerritoryRule

# Where a company's headquarters lie: its country; what else a rule may ask is unknown there.
HEADQUARTERS = {"country": "hq_country", "region": None, "state": None, "postal_code": None}


def rule_expr(rule: TerritoryRule, columns: dict[str, str | None] | None = None) -> pl.Expr:
    """True where a lead meets every condition of the rule (a rule without conditions matches all).
    ``columns`` reads an attribute from another column (None: unknown), as for headquarters."""

    def col(name: str) -> pl.Expr:
        source = (columns or {}).get(name, name)
        return pl.col(source) if source is not None else pl.lit(None, dtype=pl.String)

    def lower(name: str) -> pl.Expr:
        return col(name).cast(pl.String).str.to_lowercase().str.strip_chars()

    conditions: list[pl.Expr] = []
    for column, values in (
        ("country", rule.countries),
        ("region", rule.regions),
        ("state", rule.states),
        ("industry", rule.industries),
        ("company", rule.accounts),
    ):
        if values:
            conditions.append(lower(column).is_in([v.lower().strip() for v in values]))
    if rule.postal_prefixes:
        postal = col("postal_code").cast(pl.String).str.replace_all(r"\s", "").str.to_lowercase()
        conditions.append(
            pl.any_horizontal(
                postal.str.starts_with(p.lower().replace(" ", "")) for p in rule.postal_prefixes
            )
        )
    size = pl.col("company_size").cast(pl.Float64)
    if rule.size_min is not None:
        conditions.append(size >= rule.size_min)
    if rule.size_max is not None:
        conditions.append(size <= rule.size_max)
    if not conditions:
        return pl.lit(True)
    return pl.all_horizontal(conditions).fill_null(False)


def _chain(rules: list[TerritoryRule], columns: dict[str, str | None] | None = None) -> pl.Expr:
    """The first matching rule's name, built once per set of rules (a capture matches a few
    leads many times a second)."""
    key = (tuple(rule.model_dump_json() for rule in rules), tuple(sorted((columns or {}).items())))
    if key not in _chains:
        if len(_chains) > 16:
            _chains.clear()
        _chains[key] = _build_chain(rules, columns)
    return _chains[key]


_chains: dict[tuple[tuple[str, ...], tuple[tuple[str, str | None], ...]], pl.Expr] = {}


def _build_chain(rules: list[TerritoryRule], columns: dict[str, str | None] | None) -> pl.Expr:
    chain: Any = pl.when(rule_expr(rules[0], columns)).then(pl.lit(rules[0].name))
    for rule in rules[1:]:
        chain = chain.when(rule_expr(rule, columns)).then(pl.lit(rule.name))
    return chain.otherwise(None).cast(pl.String)


def match_territory(leads: pl.DataFrame, rules: list[TerritoryRule]) -> pl.Series:
    """Each lead's territory by the first matching rule, null where none matches.

    ``leads`` has country, region, industry, company, company_size and, from extra attributes,
    state and postal_code (null where unknown).
    """
    if not rules:
        return pl.Series("territory", [None] * leads.height, dtype=pl.String)
    return leads.select(_chain(rules).alias("territory")).to_series()


def match_territories(leads: pl.DataFrame, rules: list[TerritoryRule]) -> tuple[pl.Series, pl.Series]:
    """Each lead's territory, and its company's headquarters' (by ``hq_country``), in one pass."""
    if not rules:
        empty = pl.Series("territory", [None] * leads.height, dtype=pl.String)
        return empty, empty.alias("hq_territory")
    both = leads.select(_chain(rules).alias("territory"), _chain(rules, HEADQUARTERS).alias("hq_territory"))
    return both["territory"], both["hq_territory"]
