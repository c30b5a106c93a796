"""Normalised keys that make two spellings of one thing compare equal.

"GTXPro" and "GTX Pro", "Moses  Frase" and "moses frase", "+1 (555) 010-7788" and
"555.010.7788": the same product, rep and phone. Each key is one Polars expression, so bulk imports
apply it to a column at once; the scalar helpers evaluate the very same expression for one value.
"""

from __future__ import annotations

import re

import polars as pl

from leadflow.ledger.export import FORMULA_SIGNS

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
    }
)

# Each pattern takes the whole value as its one group, so that a key is the value where it fits
# and null where it does not, in one pass (``str.extract``): a ``when`` that tested the value and
# then took it would compute the value twice, as Polars evaluates each branch's expression anew.
EMAIL_PATTERN = r"^([^@\s]+@[^@\s]+\.[^@\s]+)$"
DOMAIN_PATTERN = r"^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$"
NOT_BLANK = r"(?s)^(.+)$"
# The last ten digits of a run of at least seven: a phone number's national part.
PHONE_PATTERN = r"(\d{7,10})$"


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return expr.str.extract(NOT_BLANK, 1)


def text_expr(expr: pl.Expr) -> pl.Expr:
    """Trim and collapse inner whitespace; blank becomes null; the apostrophe that keeps a
    spreadsheet from running a cell as a formula (ledger.export) is taken off again."""
    collapsed = expr.str.replace_all(r"\s+", " ").str.strip_chars()
    return _blank_to_null(collapsed.str.replace(f"^'([{re.escape(FORMULA_SIGNS)}])", "$1"))


def name_key_expr(expr: pl.Expr) -> pl.Expr:
    """Lower case, letters and digits only: 'GTX Pro' and 'GTXPro' both give 'gtxpro'."""
    return _blank_to_null(expr.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]", ""))


def email_key_expr(expr: pl.Expr) -> pl.Expr:
    """Trimmed, lower-case email; null where it is not shaped like an address."""
    cleaned = expr.str.strip_chars().str.to_lowercase()
    return cleaned.str.extract(EMAIL_PATTERN, 1)


def phone_key_expr(expr: pl.Expr) -> pl.Expr:
    """The last ten digits (the national number in most plans); null under seven digits."""
    return expr.str.replace_all(r"\D", "").str.extract(PHONE_PATTERN, 1)


def domain_key_expr(expr: pl.Expr) -> pl.Expr:
    """A bare host name: no scheme, 'www.', path or port; null when it is not a domain."""
    host = (
        expr.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace(r"^www\.", "")
        .str.replace(r"(?s)[/:?#].*$", "")  # a path, a port, a query: to the end, newlines too
        .str.strip_chars(".")
    )
    return host.str.extract(DOMAIN_PATTERN, 1)


def company_domain_expr(domain: pl.Expr, email_key: pl.Expr) -> pl.Expr:
    """The company's domain: as given, else the email's domain unless it is a free-mail one."""
    from_email = email_key.str.extract(r"([^@]*)$", 1)  # after the last @
    from_email = pl.when(from_email.is_in(list(FREE_MAIL_DOMAINS))).then(None).otherwise(from_email)
    return pl.coalesce(domain_key_expr(domain), from_email)


def _one(expr: pl.Expr, value: str | None) -> str | None:
    if value is None:
        return None
    out = pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(expr.alias("k"))
    key: str | None = out.item()
    return key


def name_key(value: str | None) -> str | None:
    """Scalar form of :func:`name_key_expr`."""
    return _one(name_key_expr(pl.col("v")), value)
