"""Routing: who gets which lead. Pure policies over arrays; the engine (transactions) on top."""
