"""Root exception of at-core, with typed subclasses carrying structured attributes."""

from __future__ import annotations


class AtCoreError(Exception):
    """Root of every error raised by at-core."""


class SymbolError(AtCoreError, ValueError):
    """A ticker could not be mapped to a known instrument."""

    def __init__(self, ticker: str, reason: str) -> None:
        self.ticker = ticker
        self.reason = reason
        super().__init__(f"cannot normalise ticker {ticker!r}: {reason}")


class UnknownInstrumentError(AtCoreError, KeyError):
    """No instrument with that id is in the catalog."""

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        super().__init__(instrument_id)

    def __str__(self) -> str:
        return f"unknown instrument {self.instrument_id!r}"


class SubjectTokenError(AtCoreError, ValueError):
    """A value cannot be used as a NATS subject token."""

    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"invalid subject token {token!r}: {reason}")


class DecodeError(AtCoreError, ValueError):
    """Bytes on the bus are not a known, valid at-core event."""

    def __init__(self, reason: str, event_type: str | None = None) -> None:
        self.reason = reason
        self.event_type = event_type
        super().__init__(f"cannot decode event ({event_type or 'unknown type'}): {reason}")


class PrecisionError(AtCoreError, ValueError):
    """A price or quantity is not on the instrument's grid and rounding was refused."""

    def __init__(self, value: object, increment: object) -> None:
        self.value = value
        self.increment = increment
        super().__init__(f"{value} is not a multiple of {increment}")


class SchemaCompatibilityError(AtCoreError):
    """A contract change would break an existing consumer within the same major line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class BracketError(AtCoreError, ValueError):
    """A bracket that cannot work for its entry: a stop on the wrong side, a level at or below zero.

    ``field`` names the level (``stop_loss``, ``take_profit``).
    """

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(message)
