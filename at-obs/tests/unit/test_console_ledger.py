"""The console's ledger and story, folded from the recorded paper session (no I/O)."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.paper_stack import ACCOUNT, MES, recorded_session

from at_core.events import SignalEvent
from at_core.serialization import encode_event
from at_obs.domain.chain import ChainHead, seal
from at_obs.domain.console.fold import fold_record, fold_records
from at_obs.domain.console.ledger import Ledger
from at_obs.domain.console.story import build_story, redact, redact_raw
from at_obs.domain.console.tail import Tail, TailFilter, tail_line


def _records():
    head, out = ChainHead(), []
    for event in recorded_session():
        record = seal(
            head,
            event_id=event.event_id,
            event_type=event.event_type,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            subject="at.test",
            ts_event=event.ts_event,
            payload=encode_event(event),
        )
        out.append(record)
        head = ChainHead(record.seq, record.hash)
    return out


def test_the_ledger_of_the_session_shows_the_account_halted_by_the_daily_loss_rule() -> None:
    ledger, _ = fold_records(_records())
    view = ledger.accounts[ACCOUNT]
    assert view.trading_state == "halted"
    assert view.state_reason == "daily_loss_limit"
    assert view.state is not None and view.state["headroom"][0]["rule"] == "daily_loss"


def test_round_trips_close_when_the_position_goes_flat_and_their_pnl_is_the_realized_change() -> None:
    ledger, _ = fold_records(_records())
    trades = [t for t in ledger.trades if t.instrument_id == MES]
    closed = [t for t in trades if not t.open]
    assert closed, "the session closes at least one trade"
    first = closed[0]
    assert first.side == "long" and first.quantity == Decimal(2)
    assert first.exit_ts is not None and first.exit_ts > first.entry_ts
    # Long 2 from 6014.25 (6014 + a tick of slippage), out at 6005.75: -8.5 points * 2 * $5
    assert first.pnl == Decimal("-85.00")
    assert first.fees == Decimal("0.74") * 2
    final = ledger.accounts[ACCOUNT].state
    assert final is not None
    assert sum(t.pnl for t in closed) == Decimal(str(final["realized_pnl_today"]))


def test_folding_an_event_twice_changes_nothing() -> None:
    events = _records()
    once, _ = fold_records(events)
    twice, _ = fold_records(events + events)
    assert [t.pnl for t in once.trades] == [t.pnl for t in twice.trades]
    assert len(once.accounts[ACCOUNT].equity) == len(twice.accounts[ACCOUNT].equity)


def test_drawdown_is_zero_at_a_new_high_and_negative_below_it() -> None:
    ledger, _ = fold_records(_records())
    dd = ledger.drawdown(ACCOUNT)
    assert dd[0][1] == 0
    assert min(v for _, v in dd) < 0


def test_the_story_of_a_filled_alert_has_every_step_with_latencies_and_matching_hashes() -> None:
    records = _records()
    signal = next(e for e in recorded_session() if isinstance(e, SignalEvent))
    story = build_story(signal.correlation_id, [r for r in records if r.correlation_id == signal.correlation_id])
    assert [s.event_type for s in story.steps][:7] == [
        "signal", "agent_analysis", "trade_proposal", "risk_decision", "order_submitted", "order_accepted", "fill",
    ]  # fmt: skip
    assert story.filled and story.all_hashes_ok
    assert story.steps[0].since_previous_ms is None
    assert all(s.since_signal_ms is not None and s.since_signal_ms >= 0 for s in story.steps)


def test_an_altered_record_shows_as_a_hash_mismatch_in_its_story() -> None:
    records = _records()
    signal = records[1]
    mine = [r for r in records if r.correlation_id == signal.correlation_id]
    from dataclasses import replace

    mine[0] = replace(mine[0], payload=mine[0].payload.replace(b"6014", b"6015"))
    assert not build_story(signal.correlation_id, mine).all_hashes_ok


def test_secrets_are_redacted_from_a_raw_alert_at_any_depth() -> None:
    raw = '{"secret": "s3cr3t", "nested": {"passphrase": "x", "api_key": "k"}, "ticker": "MES1!"}'
    out = redact_raw(raw)
    assert "s3cr3t" not in out and '"x"' not in out and '"k"' not in out and "MES1!" in out
    assert redact_raw("secret=abc ticker=MES") == "secret=*** ticker=MES"
    assert redact({"list": [{"token": "t"}]}) == {"list": [{"token": "***"}]}


def test_the_tail_keeps_the_latest_lines_and_filters_them() -> None:
    _, tail = fold_records(_records())
    fills = tail.latest(TailFilter(event_type="fill"))
    assert fills and all(line["event_type"] == "fill" for line in fills)
    assert tail.latest(TailFilter(account_id="someone-else")) == [
        line for line in tail.lines if line["account_id"] == "someone-else"
    ]
    positions = tail.latest(TailFilter(account_id=ACCOUNT, event_type="position"))
    assert positions, "a position event matches by the account inside its snapshot"


def test_records_folded_one_by_one_as_committed_give_the_ledger_and_tail_a_restarted_console_reads() -> None:
    records = _records()
    ledger, tail = Ledger(), Tail()
    for record in records:  # as the console follows the recorder's commits
        event = fold_record(ledger, record)
        if event is None:
            tail.add_raw(record.payload)
        else:
            tail.add(event)
    read_back, read_tail = fold_records(records)
    assert list(tail.lines) == list(read_tail.lines)
    assert (ledger.last_seq, ledger.events_seen) == (read_back.last_seq, read_back.events_seen) == (len(records),) * 2
    assert ledger.accounts[ACCOUNT].state == read_back.accounts[ACCOUNT].state
    assert [(t.entry_ts, t.pnl) for t in ledger.trades] == [(t.entry_ts, t.pnl) for t in read_back.trades]


def test_the_tail_decodes_events_kept_as_bytes_when_read_in_the_order_they_came() -> None:
    records = _records()[:6]
    tail = Tail(kept=4)
    for record in records[:3]:
        tail.add_raw(record.payload)
    tail.add(json.loads(records[3].payload))
    for record in records[4:]:
        tail.add_raw(record.payload)
    assert list(tail.lines) == [tail_line(json.loads(r.payload)) for r in records[2:]]


def test_an_empty_ledger_has_no_accounts() -> None:
    assert Ledger().accounts == {}


def test_the_ledger_keeps_the_bars_of_each_instrument_for_the_candle_chart() -> None:
    ledger, _ = fold_records(_records())
    bars = list(ledger.bars[MES])
    assert len(bars) == 11
    assert bars[0][4] == Decimal("6012.25")  # the first close of the session
    assert [b[0] for b in bars] == sorted(b[0] for b in bars)


def test_an_account_shows_a_brokers_mismatch_until_the_broker_agrees_again() -> None:
    from at_core.events import BrokerMismatchEvent
    from at_core.ids import derive_id
    from at_core.testing import example_events

    mismatch = example_events()["broker_mismatch"]
    assert isinstance(mismatch, BrokerMismatchEvent) and mismatch.status == "mismatch"
    restored = mismatch.model_copy(
        update={"event_id": derive_id(mismatch.event_id, "restored"), "status": "restored", "differences": []}
    )
    ledger = Ledger()
    ledger.apply(json.loads(encode_event(mismatch)))
    shown = ledger.accounts[mismatch.account_id].broker_mismatches[mismatch.venue]
    assert shown["differences"] == [{"kind": "position", "item": "MESZ2026.CME", "ours": "2", "theirs": "1"}]
    assert shown["halted"] is True
    ledger.apply(json.loads(encode_event(restored)))
    assert ledger.accounts[mismatch.account_id].broker_mismatches == {}


def test_a_broker_mismatch_is_folded_from_the_store_and_labelled_in_a_story() -> None:
    from at_core.testing import example_events

    mismatch = example_events()["broker_mismatch"]
    record = seal(
        ChainHead(),
        event_id=mismatch.event_id,
        event_type=mismatch.event_type,
        correlation_id=mismatch.correlation_id,
        causation_id=mismatch.causation_id,
        subject="at.state.x.broker.topstepx",
        ts_event=mismatch.ts_event,
        payload=encode_event(mismatch),
    )
    ledger, tail = fold_records([record])
    assert mismatch.venue in ledger.accounts[mismatch.account_id].broker_mismatches
    assert tail.latest(TailFilter(account_id=mismatch.account_id, event_type="broker_mismatch"))
    step = build_story(mismatch.correlation_id, [record]).steps[0]
    assert step.label == "Broker check"
    assert ("position MESZ2026.CME", "ours 2, theirs 1") in step.facts and ("halted", "True") in step.facts
