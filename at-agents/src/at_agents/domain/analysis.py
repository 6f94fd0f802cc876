"""The typed answer every agent gives (rule or LLM), and the protocol agents implement."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from at_agents.domain.context import MarketContext
from at_core.events import SignalEvent
from at_core.models.enums import Stance


class Analysis(BaseModel):
    """One agent's view, or an abstention with its reason (never a silent neutral)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stance: Stance | None = None
    conviction: Decimal | None = Field(default=None, ge=-1, le=1)
    target_quantity: Decimal | None = None
    quantity: Decimal | None = Field(default=None, gt=0)
    stop_price: Decimal | None = Field(default=None, gt=0)
    rationale: str = ""
    evidence_ids: list[str] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    veto: bool = False
    model: str | None = None
    prompt_version: str | None = None
    inputs_hash: str | None = None
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cost: Decimal | None = Field(default=None, ge=0)

    @classmethod
    def abstain(cls, reason: str) -> Analysis:
        return cls(abstained=True, abstain_reason=reason)


class Agent(Protocol):
    """Given the triggering signal and a read-only context at decision time, return an Analysis. No I/O.

    An agent may also set ``inline = True`` (pure, bounded work): the service then runs it on the
    event loop instead of a worker thread, and checks the deadline when it returns.
    """

    agent_id: str
    kind: str

    def analyze(self, signal: SignalEvent, ctx: MarketContext, now_ns: int) -> Analysis: ...
