"""The memory bucket's value: assembled from each entry's JSON (kept while the entry stays in the
log), it loads back to the very memory saved, whatever was reused, and old full dumps still load."""

from __future__ import annotations

from decimal import Decimal

from at_agents.adapters.memory_store import MemoryStore
from at_agents.domain.memory import MemoryEntry, StrategyMemory
from at_core.models.enums import PositionSide
from at_core.models.portfolio import PositionSnapshot


def _decision(ts: int) -> MemoryEntry:
    return MemoryEntry(
        kind="decision",
        ts_ns=ts,
        signal_event_id=f"s{ts}",
        account_id="paper-1",
        action="propose",
        target=Decimal("1.0"),
        reference_price=Decimal("6012.25"),
        proposal_event_id=f"p{ts}",
        rationale='buy 1; "quoted" ünïcode',
        realized_before=Decimal("0.00"),
    )


def _closed(ts: int) -> PositionSnapshot:
    return PositionSnapshot(
        account_id="paper-1",
        instrument_id="MES.CME",
        quantity=Decimal(0),
        side=PositionSide.FLAT,
        avg_price=Decimal(0),
        realized_pnl=Decimal("12.50"),
        unrealized_pnl=Decimal(0),
        currency="USD",
        last_price=Decimal("6013.00"),
    )


def test_every_saved_value_loads_back_to_the_memory_saved_with_its_decimals_as_written() -> None:
    store = MemoryStore(kv=None)  # type: ignore[arg-type]  # encode only: no bucket needed
    memory = StrategyMemory(strategy_id='strat "x"', instrument_id="MES.CME")
    for ts in range(1, 40):
        seen = MemoryEntry(kind="signal", ts_ns=ts, signal_event_id=f"s{ts}", account_id="paper-1", action="buy")
        memory = memory.extend((seen, _decision(ts)), 5, 4)
        if ts % 3 == 0:  # a close resolves the open decisions: new entry objects, re-encoded
            memory = memory.resolve(_closed(ts), ts)
        value = store.encode(memory)
        loaded = StrategyMemory.model_validate_json(value)
        assert loaded == memory
        assert [str(e.realized_before) for e in loaded.entries] == [str(e.realized_before) for e in memory.entries]
        assert value == MemoryStore(kv=None).encode(memory)  # type: ignore[arg-type]  # reuse changes nothing


def test_a_value_saved_as_a_full_dump_still_loads() -> None:
    memory = StrategyMemory(strategy_id="s", instrument_id="MES.CME").add(_decision(1), 5, 5)
    assert StrategyMemory.model_validate_json(memory.model_dump_json()) == memory
