"""Errors the services raise, each carrying the HTTP status it answers with: the CLI prints its
message, and the app's one handler turns it into that status with the message as its detail."""


class LeadflowError(Exception):
    """Base of every error a user can cause and fix: the request cannot be carried out (422)."""

    status_code = 422


class NotFound(LeadflowError):
    """A record the request names (a rep, a product, a lead in a body) does not exist: 422.

    The record a path names is looked up by a fetch-or-404 dependency (leadflow.deps), which
    answers 404 itself."""


class InvalidChange(LeadflowError):
    """The change asked for is not allowed (a stage transition, an inactive rep, ...)."""


class Conflict(InvalidChange):
    """The change is no longer possible because the record moved on meanwhile (409)."""

    status_code = 409


class InvalidRequest(LeadflowError):
    """The request asks for an option that does not exist (an unknown report dimension, say)."""
