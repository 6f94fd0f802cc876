"""The bus's errors: one root under :class:`AtCoreError`, a publish failure with its prefix."""

from __future__ import annotations

from at_core.errors import AtCoreError


class BusError(AtCoreError):
    """The bus could not do what was asked."""


class PublishError(BusError):
    """An event could not be made durable (or sent, for core subjects)."""

    def __init__(self, event_id: str, subject: str, reason: str, published: int = 0) -> None:
        self.event_id = event_id
        self.subject = subject
        self.reason = reason
        #: In :meth:`EventBus.publish_many`: how many events before this one were acknowledged.
        self.published = published
        super().__init__(f"publish of {event_id} on {subject} failed: {reason}")
