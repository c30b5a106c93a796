"""The dedupe keys, checked against a plain statement of each rule in Python's ``re`` on hostile
text: blanks, newlines, schemes and paths, several @, non-ASCII letters and digits."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.ledger.keys import (
    FREE_MAIL_DOMAINS,
    company_domain_expr,
    domain_key_expr,
    email_key_expr,
    name_key_expr,
    phone_key_expr,
    text_expr,
)

PIECES = ["a", "Z", "0", "7", "@", ".", "-", "_", "+", ":", "/", "?", "#", " ", "\t", "\n", "'", "=", "ü",
          "٣", "www.", "https://", "gmail.com", "acme.com", "x"]  # fmt: skip
texts = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from(PIECES), max_size=12).map("".join)), max_size=40
)


def _keys(expr: pl.Expr, values: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr).to_series().to_list()


def _text(v: str) -> str | None:
    collapsed = re.sub(r"\s+", " ", v).strip()
    return re.sub(r"^'([=+\-@])", r"\1", collapsed) or None


def _name(v: str) -> str | None:
    return re.sub(r"[^\w]|_", "", v.lower()) or None


def _email(v: str) -> str | None:
    cleaned = v.strip().lower()
    return cleaned if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cleaned) else None


def _phone(v: str) -> str | None:
    digits = re.sub(r"\D", "", v)
    return digits[-10:] if len(digits) >= 7 else None


def _domain(v: str) -> str | None:
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", v.strip().lower(), count=1)
    host = re.sub(r"[/:?#].*$", "", re.sub(r"^www\.", "", host), count=1, flags=re.S).strip(".")
    label = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    return host if re.fullmatch(rf"{label}(?:\.{label})+", host) else None


@settings(max_examples=150, deadline=None)
@given(texts)
def test_each_key_follows_its_rule(values: list[str | None]) -> None:
    column = pl.col("v")
    for expr, rule in (
        (text_expr(column), _text),
        (name_key_expr(column), _name),
        (email_key_expr(column), _email),
        (phone_key_expr(column), _phone),
        (domain_key_expr(column), _domain),
    ):
        assert _keys(expr, values) == [None if v is None else rule(v) for v in values]


@settings(max_examples=80, deadline=None)
@given(texts, texts)
def test_a_company_domain_is_the_domain_given_else_the_email_domain_unless_free_mail(
    domains: list[str | None], emails: list[str | None]
) -> None:
    size = min(len(domains), len(emails))
    domains, emails = domains[:size], emails[:size]
    frame = pl.DataFrame({"d": domains, "e": emails}, schema={"d": pl.String, "e": pl.String})
    got = frame.select(company_domain_expr(pl.col("d"), pl.col("e"))).to_series().to_list()

    def expected(domain: str | None, email: str | None) -> str | None:
        own = None if domain is None else _domain(domain)
        after = None if email is None else email.rsplit("@", 1)[-1]
        return own or (None if after in FREE_MAIL_DOMAINS else after)

    assert got == [expected(d, e) for d, e in zip(domains, emails, strict=True)]
