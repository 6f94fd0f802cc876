"""at-obs exceptions: one root, with typed attributes."""

from __future__ import annotations


class ObsError(Exception):
    """Root of every at-obs error."""


class AuditStoreError(ObsError):
    """The audit store could not be opened, read or appended to."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"audit store {location}: {reason}")


class RecordingError(ObsError, ValueError):
    """A recording (JSONL, audit store, JetStream) could not be read."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"recording {source}: {reason}")


class NatsUnavailableError(ObsError, ConnectionError):
    """A NATS server (the stack under replay, or the one holding a recording) could not be reached."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot connect to NATS at {url}: {reason}")
