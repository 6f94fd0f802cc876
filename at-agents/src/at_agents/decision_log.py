"""The recent decisions ``GET /decisions`` and the MCP ``last_decisions`` tool read.

A decision keeps the events it produced, not their JSON: dumping the proposal and every
analysis on each signal cost more than the rest of the record, and most records are never
read. The events are frozen, so a dump made when the API reads it is the dump that would
have been made then; it is made once and kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from at_core.events import AgentAnalysisEvent, TradeProposalEvent


class DecisionRecord(Mapping[str, Any]):
    """One committee decision, read as a mapping: the plain fields, ``proposal`` (JSON or None)
    and ``analyses`` (a JSON object per analysis), the last two dumped on first read."""

    __slots__ = ("_analyses", "_dumped", "_fields", "_proposal")

    def __init__(
        self,
        fields: dict[str, Any],
        proposal: TradeProposalEvent | None,
        analyses: tuple[AgentAnalysisEvent, ...],
    ) -> None:
        self._fields = fields
        self._proposal = proposal
        self._analyses = analyses
        self._dumped: dict[str, Any] | None = None

    def _json(self) -> dict[str, Any]:
        if self._dumped is None:
            self._dumped = {
                **self._fields,
                "proposal": self._proposal.model_dump(mode="json") if self._proposal else None,
                "analyses": [a.model_dump(mode="json") for a in self._analyses],
            }
        return self._dumped

    def __getitem__(self, key: str) -> Any:
        if key in self._fields:  # the plain fields need no dump (filters read them on every row)
            return self._fields[key]
        return self._json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter((*self._fields, "proposal", "analyses"))

    def __len__(self) -> int:
        return len(self._fields) + 2

    def as_json(self) -> dict[str, Any]:
        """The whole record as JSON-ready values (what ``GET /decisions`` answers)."""
        return dict(self._json())
