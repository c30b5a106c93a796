"""The lead ledger's own helpers: dedupe keys, report numbers, finding one record by the ways people
name it, and the one bulk writer of leads' assignments and stage changes."""
