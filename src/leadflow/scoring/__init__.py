"""Scoring: fit to the ideal-customer profile (explicit rules) and, later, a learned win probability."""
