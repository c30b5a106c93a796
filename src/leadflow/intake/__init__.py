"""Capture: read CSV exports and other inputs, validate, deduplicate, and write them to the ledger."""
