"""Which territory a lead belongs to: the first rule of leadflow.toml that it matches.

Over the values of the attributes the rules ask about, not frame expressions: each distinct
combination of them is matched once, so a capture's few leads cost microseconds (a when-chain
of expressions cost about 0.5 ms however few the rows) and a million leads as many rule
tests as they have distinct combinations (a handful of regions and countries, usually).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from leadflow.ledger.extras import extra_texts, parse_extras
from leadflow.scoring.values import numbers_of, texts_of
from leadflow.settings import TerritoryRule

# What a rule may ask of a lead: text attributes, compared trimmed and case-insensitively
TEXTS = {"countries": "country", "regions": "region", "states": "state", "industries": "industry"}
TEXTS_ACCOUNTS = "company"
POSTAL = "postal_code"
SIZE = "company_size"
# Read from the lead's extra attributes when the frame has no column of their own.
FROM_EXTRA = ("state", "postal_code")
# Where a company's headquarters lie: its country; what else a rule may ask is unknown there.
HEADQUARTERS = {"country": "hq_country", "region": None, "state": None, "postal_code": None}
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class _Rule:
    """A rule's conditions, prepared once: each text attribute's allowed values, lowered."""

    name: str
    texts: tuple[tuple[str, frozenset[str]], ...]
    postal: tuple[str, ...]
    size_min: float | None
    size_max: float | None

    @classmethod
    def of(cls, rule: TerritoryRule) -> _Rule:
        texts = [
            (attribute, frozenset(v.lower().strip() for v in getattr(rule, field)))
            for field, attribute in (*TEXTS.items(), ("accounts", TEXTS_ACCOUNTS))
            if getattr(rule, field)
        ]
        return cls(
            name=rule.name,
            texts=tuple(texts),
            postal=tuple(p.lower().replace(" ", "") for p in rule.postal_prefixes),
            size_min=None if rule.size_min is None else float(rule.size_min),
            size_max=None if rule.size_max is None else float(rule.size_max),
        )

    @property
    def asks(self) -> set[str]:
        """The attributes this rule reads."""
        sized = self.size_min is not None or self.size_max is not None
        return (
            {a for a, _ in self.texts} | ({POSTAL} if self.postal else set()) | ({SIZE} if sized else set())
        )

    def matches(self, values: dict[str, Any]) -> bool:
        """True where a lead meets every condition (a rule without conditions matches all); an
        unknown value meets none."""
        for attribute, allowed in self.texts:
            text = values[attribute]
            if text is None or text.lower().strip() not in allowed:
                return False
        if self.postal:
            code = values[POSTAL]
            if code is None:
                return False
            code = _SPACE.sub("", code).lower()
            if not any(code.startswith(p) for p in self.postal):
                return False
        size = values.get(SIZE, math.nan)  # NaN (unknown) meets no bound
        if self.size_min is not None and not size >= self.size_min:
            return False
        return self.size_max is None or size <= self.size_max


def _first_match(rules: Sequence[_Rule], values: dict[str, Any]) -> str | None:
    return next((rule.name for rule in rules if rule.matches(values)), None)


def _attributes(leads: pl.DataFrame, asked: set[str]) -> dict[str, list[Any]]:
    """The asked attributes' values by column: texts as text, the size as a number (NaN where
    unknown)."""
    present = set(leads.columns)
    extras = (
        parse_extras(leads.get_column("extra").to_list())
        if "extra" in present and any(a in FROM_EXTRA and a not in present for a in asked)
        else None
    )
    columns: dict[str, list[Any]] = {}
    for attribute in sorted(asked):
        if attribute == SIZE:
            sizes = numbers_of(leads.get_column(SIZE)) if SIZE in present else np.full(leads.height, math.nan)
            columns[SIZE] = sizes.tolist()
        elif attribute in present:
            columns[attribute] = texts_of(leads.get_column(attribute).to_list())
        elif extras is not None and attribute in FROM_EXTRA:
            columns[attribute] = extra_texts(extras, attribute)
        else:
            columns[attribute] = [None] * leads.height
    return columns


def _keys(rules: Sequence[_Rule], columns: dict[str, list[Any]]) -> list[list[Any]]:
    """Each column's values reduced to what the rules can tell apart: a text to its lowered form
    where some rule names it (else unknown, which no rule meets), a postal code to the prefixes
    it starts with, a size to its place among the rules' bounds. A million leads then fall into
    a few dozen combinations however many companies and sizes they hold."""
    keys: list[list[Any]] = []
    for attribute, values in columns.items():
        reduce: dict[Any, Any] = {None: None}
        if attribute == SIZE:
            bounds = sorted({b for r in rules for b in (r.size_min, r.size_max) if b is not None})
            sizes = np.array(values, dtype=float)
            band = np.searchsorted(bounds, sizes, side="left") * 2 + np.isin(sizes, bounds)
            keys.append(np.where(np.isnan(sizes), -1, band).tolist())
            continue
        if attribute == POSTAL:
            prefixes = sorted({p for r in rules for p in r.postal})
            for value in dict.fromkeys(values):
                if value is not None:
                    code = _SPACE.sub("", value).lower()
                    reduce[value] = tuple(code.startswith(p) for p in prefixes)
        else:
            named = {v for r in rules for a, allowed in r.texts if a == attribute for v in allowed}
            for value in dict.fromkeys(values):
                if value is not None:
                    lowered = value.lower().strip()
                    reduce[value] = lowered if lowered in named else None
        keys.append([reduce[v] for v in values])
    return keys


def _match(rules: Sequence[_Rule], columns: dict[str, list[Any]], height: int) -> pl.Series:
    """The first matching rule's name for each row of ``columns``, tested once for each distinct
    combination of what the rules can tell apart (:func:`_keys`), on its first row's values."""
    names = list(columns)
    found: dict[tuple[Any, ...], str | None] = {}
    territory: list[str | None] = []
    rows = zip(*_keys(rules, columns), strict=True) if names else iter([()] * height)
    for position, key in enumerate(rows):
        if key not in found:
            values = {name: columns[name][position] for name in names}
            found[key] = _first_match(rules, values)
        territory.append(found[key])
    return pl.Series(territory, dtype=pl.String)


def _prepared(rules: list[TerritoryRule]) -> list[_Rule]:
    key = tuple(rule.model_dump_json() for rule in rules)
    if key not in _prepared_rules:
        if len(_prepared_rules) > 16:
            _prepared_rules.clear()
        _prepared_rules[key] = [_Rule.of(rule) for rule in rules]
    return _prepared_rules[key]


_prepared_rules: dict[tuple[str, ...], list[_Rule]] = {}


def match_territory(leads: pl.DataFrame, rules: list[TerritoryRule]) -> pl.Series:
    """Each lead's territory by the first matching rule, null where none matches.

    ``leads`` has the attributes the rules ask about (country, region, industry, company,
    company_size; state and postal_code as columns or as extra attributes); one missing is
    unknown for every lead.
    """
    return match_territories(leads, rules, headquarters=False)[0]


def match_territories(
    leads: pl.DataFrame, rules: list[TerritoryRule], *, headquarters: bool = True
) -> tuple[pl.Series, pl.Series]:
    """Each lead's territory, and its company's headquarters' (by ``hq_country``; region, state
    and postal code unknown there), in one pass."""
    if not rules:
        empty = pl.Series("territory", [None] * leads.height, dtype=pl.String)
        return empty, empty.alias("hq_territory")
    prepared = _prepared(rules)
    asked = set().union(*(rule.asks for rule in prepared))
    at_headquarters = (
        {source for attribute, source in HEADQUARTERS.items() if source and attribute in asked}
        if headquarters
        else set()
    )
    columns = _attributes(leads, asked | at_headquarters)
    own = {a: v for a, v in columns.items() if a not in at_headquarters}
    territory = _match(prepared, own, leads.height).alias("territory")
    if not headquarters:
        return territory, territory.clear().alias("hq_territory")
    unknown: list[Any] = [None] * leads.height
    at_hq = {
        a: v if a not in HEADQUARTERS else columns[source] if (source := HEADQUARTERS[a]) else unknown
        for a, v in own.items()
    }
    return territory, _match(prepared, at_hq, leads.height).alias("hq_territory")
