"""Deterministic rule strategies shared by the services: at-agents runs them live and in replay,
at-obs's backtest runs the same code to know which bars will signal (its barriers)."""
