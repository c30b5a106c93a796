"""Synthetic companies and their histories; policy backtests and forward simulations."""
