"""Canonical models: instruments, orders, positions, accounts, risk primitives."""
