"""exec-sim's exceptions: one root, typed attributes. Business outcomes are events, not these."""

from __future__ import annotations


class ExecSimError(Exception):
    """Root of every error exec-sim raises."""


class ConfigError(ExecSimError, ValueError):
    """Settings, accounts or profiles that cannot be used."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class VenueUnavailableError(ExecSimError):
    """A venue could not be reached; an order's fate there is unknown until reconciled."""

    def __init__(self, venue: str, reason: str) -> None:
        self.venue = venue
        self.reason = reason
        super().__init__(f"venue {venue} unavailable: {reason}")
