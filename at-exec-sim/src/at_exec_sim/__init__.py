"""at-exec-sim: Pre-trade risk with prop-firm rules, a simulated venue, broker adapters, positions and P&L."""

__version__ = "0.1.0"
