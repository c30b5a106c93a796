"""Errors the services raise; the CLI and API turn them into messages and 4xx answers."""


class LeadflowError(Exception):
    """Base of every error a user can cause and fix."""


class NotFound(LeadflowError):
    """The lead, rep or other record asked for does not exist."""


class InvalidChange(LeadflowError):
    """The change asked for is not allowed (a stage transition, an inactive rep, ...)."""
