"""The console's live feed is what the recorder commits: against real SQLite stores, no bus.

Records reach the console after their transaction commits (the writer's listener); those
committed while the console folds the store at startup are buffered and shown once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.paper_stack import recorded_session

from at_obs.adapters.audit_store import open_audit_store
from at_obs.api.console import state
from at_obs.console_settings import ConsoleSettings
from at_obs.domain.chain import AuditRecord
from at_obs.domain.console.fold import fold_records

pytestmark = pytest.mark.integration


def _session_records(tmp_path: Path) -> list[AuditRecord]:
    store = open_audit_store(tmp_path / "whole.sqlite3")
    try:
        return store.append_many([(e, "at.test") for e in recorded_session()])
    finally:
        store.close()


async def test_records_committed_while_the_store_loads_are_shown_once_and_in_order(tmp_path: Path) -> None:
    records = _session_records(tmp_path)
    half = len(records) // 2
    store = open_audit_store(tmp_path / "audit.sqlite3")
    store.append_many([(e, "at.test") for e in recorded_session()[:half]])  # what the fold reads
    console = state.ConsoleState(ConsoleSettings(console_health_urls={}))
    # heard before the fold read them (already in the store) and after (not yet in it)
    console.on_recorded(records[half - 3 : half])
    console.on_recorded(records[half:])
    try:
        await state.start(console, store)
    finally:
        await state.stop(console)
        store.close()
    ledger, tail = fold_records(records)
    assert [line["event_id"] for line in console.tail.lines] == [line["event_id"] for line in tail.lines]
    assert console.ledger.last_seq == ledger.last_seq and console.ledger.events_seen == len(records)
    assert console.ledger.accounts.keys() == ledger.accounts.keys()
    for account_id, view in ledger.accounts.items():
        assert console.ledger.accounts[account_id].state == view.state
        assert [t.pnl for t in console.ledger.accounts[account_id].trades] == [t.pnl for t in view.trades]


async def test_a_browser_on_the_live_tail_gets_a_line_per_committed_record_and_none_before_it_listens(
    tmp_path: Path,
) -> None:
    records = _session_records(tmp_path)
    store = open_audit_store(tmp_path / "audit.sqlite3")
    console = state.ConsoleState(ConsoleSettings(console_health_urls={}))
    try:
        await state.start(console, store)
        console.on_recorded(records[:5])  # nobody listens: kept as bytes, decoded when a page shows them
        queue = console.listen()
        console.on_recorded(records[5:8])
        lines = [queue.get_nowait() for _ in range(queue.qsize())]
        console.unlisten(queue)
    finally:
        await state.stop(console)
        store.close()
    assert [line["event_id"] for line in lines] == [r.event_id for r in records[5:8]]
    assert [line["event_id"] for line in console.tail.lines] == [r.event_id for r in records[:8]]
