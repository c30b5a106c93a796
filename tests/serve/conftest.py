"""The serve tests drive the app as the API tests do: the same ``api`` fixture (a ledger with
users of every role and their tokens)."""

from tests.api.conftest import api

__all__ = ["api"]
