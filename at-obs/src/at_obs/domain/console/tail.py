"""The live tail: the latest events, and the filter a viewer picked. Pure."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from at_obs.domain.console.payload import decode_payload

TAIL_KEPT = 500


@dataclass(frozen=True)
class TailFilter:
    """Empty fields match everything; set fields must equal the event's."""

    account_id: str = ""
    strategy_id: str = ""
    instrument_id: str = ""
    event_type: str = ""

    def matches(self, event: dict[str, Any]) -> bool:
        position = event.get("position") or {}
        return (
            (not self.account_id or self.account_id in (event.get("account_id"), position.get("account_id")))
            and (not self.strategy_id or event.get("strategy_id") == self.strategy_id)
            and (
                not self.instrument_id
                or self.instrument_id in (event.get("instrument_id"), position.get("instrument_id"))
            )
            and (not self.event_type or event.get("event_type") == self.event_type)
        )


def tail_line(event: dict[str, Any]) -> dict[str, Any]:
    """The fields a tail row shows (no payload beyond them: a raw alert never reaches the tail)."""
    position = event.get("position") or {}
    return {
        "event_id": event.get("event_id", ""),
        "event_type": event.get("event_type", ""),
        "ts_event": event.get("ts_event", 0),
        "source": event.get("source", ""),
        "correlation_id": event.get("correlation_id", ""),
        "account_id": event.get("account_id") or position.get("account_id") or "",
        "strategy_id": event.get("strategy_id") or "",
        "instrument_id": event.get("instrument_id") or position.get("instrument_id") or "",
    }


class Tail:
    """The last :data:`TAIL_KEPT` tail lines, newest last.

    An event added as its bytes (:meth:`add_raw`) is decoded only when the lines are read: a
    recorder nobody watches keeps 500 payloads and decodes none of them.
    """

    def __init__(self, kept: int = TAIL_KEPT) -> None:
        self._lines: deque[dict[str, Any]] = deque(maxlen=kept)
        self._raw: deque[bytes] = deque(maxlen=kept)  # newer than every line, not decoded yet

    @property
    def lines(self) -> deque[dict[str, Any]]:
        self._decode_raw()
        return self._lines

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        self._decode_raw()  # the order of the events is kept
        line = tail_line(event)
        self._lines.append(line)
        return line

    def add_raw(self, payload: bytes) -> None:
        """An event's canonical JSON, decoded if and when it is shown."""
        self._raw.append(payload)

    def _decode_raw(self) -> None:
        while self._raw:
            self._lines.append(tail_line(decode_payload(self._raw.popleft())))

    def latest(self, flt: TailFilter, limit: int = 100) -> list[dict[str, Any]]:
        return [line for line in self.lines if flt.matches(line)][-limit:]
