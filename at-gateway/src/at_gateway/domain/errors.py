"""Why the gateway refuses an input: a typed rejection with a reason code and HTTP status."""

from __future__ import annotations


class GatewayError(Exception):
    """Root of the gateway's errors."""


class Rejection(GatewayError):
    """An input refused at the edge. ``reason`` is machine-readable; ``status`` maps at the HTTP edge."""

    def __init__(self, status: int, reason: str, detail: str, errors: list[dict] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        self.errors = errors or []
        super().__init__(f"{reason}: {detail}")


class NotDurable(GatewayError):
    """The event could be stored neither in JetStream nor in the outbox."""
