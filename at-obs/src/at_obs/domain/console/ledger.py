"""What the console shows about accounts, built from events as they were recorded. Pure.

:class:`Ledger` folds events (the decoded JSON of at-core events) into the latest account
state, positions, open orders, the trading state, a broker's mismatch, an equity curve, round-trip trades and P&L
per day. It reads no clock and does no I/O: the same events give the same ledger, whether
read back from the audit store at startup or received live from the bus.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

D = Decimal
ZERO = Decimal(0)
#: Order events that end an order (it leaves the open orders).
ORDER_ENDED = {"order_filled", "order_canceled", "order_rejected", "order_expired"}
ORDER_EVENTS = ORDER_ENDED | {"order_submitted", "order_accepted", "order_partially_filled", "order_updated"}
#: Points kept per equity curve (the oldest are dropped past it).
EQUITY_POINTS = 20_000
TRADES_KEPT = 20_000
#: Bars kept per instrument for the candle chart.
BARS_KEPT = 5_000


def day_of(ts_ns: int) -> str:
    """The UTC date of a nanosecond timestamp, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")


def signed_quantity(position: dict[str, Any]) -> Decimal:
    """Long > 0, short < 0, whatever sign the snapshot's quantity was written with."""
    qty = abs(D(str(position.get("quantity", "0"))))
    side = position.get("side")
    return qty if side == "long" else -qty if side == "short" else D(0)


@dataclass
class Trade:
    """One round trip: from flat to flat (a flip closes one trade and opens the next)."""

    account_id: str
    instrument_id: str
    side: str  # long | short
    entry_ts: int
    entry_price: Decimal
    quantity: Decimal
    correlation_id: str  # the alert that opened it
    exit_ts: int | None = None
    exit_price: Decimal | None = None
    exit_correlation_id: str | None = None
    realized_at_entry: Decimal = ZERO
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    slippage: Decimal = ZERO
    _exit_qty: Decimal = ZERO
    _exit_notional: Decimal = ZERO

    @property
    def open(self) -> bool:
        return self.exit_ts is None

    @property
    def duration_s(self) -> float | None:
        return None if self.exit_ts is None else (self.exit_ts - self.entry_ts) / 1e9


@dataclass
class AccountView:
    """Everything the accounts page shows for one account."""

    account_id: str
    state: dict[str, Any] | None = None  # the latest account_state event
    trading_state: str = "active"
    state_reason: str = ""
    state_message: str = ""
    locked_until_ns: int | None = None
    state_changed_ts: int | None = None
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    equity: deque[tuple[int, Decimal]] = field(default_factory=lambda: deque(maxlen=EQUITY_POINTS))
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=TRADES_KEPT))
    daily: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    #: The latest ``broker_mismatch`` event per venue while that venue disagrees (gone once restored).
    broker_mismatches: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Ledger:
    """The fold of every event the console has seen, idempotent by event id."""

    accounts: dict[str, AccountView] = field(default_factory=dict)
    bars: dict[str, deque[tuple[int, Decimal, Decimal, Decimal, Decimal]]] = field(default_factory=dict)
    last_seq: int = 0
    events_seen: int = 0
    _open: dict[tuple[str, str], Trade] = field(default_factory=dict)
    _fills: dict[str, dict[str, Any]] = field(default_factory=dict)  # fill event id -> fill, until its position
    _seen: set[str] = field(default_factory=set)

    def account(self, account_id: str) -> AccountView:
        view = self.accounts.get(account_id)
        if view is None:
            view = self.accounts[account_id] = AccountView(account_id)
        return view

    def apply(self, event: dict[str, Any], seq: int = 0) -> None:
        """Fold one event in; an event id already folded is ignored (store scan and live feed overlap)."""
        event_id = event.get("event_id", "")
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        self.events_seen += 1
        self.last_seq = max(self.last_seq, seq)
        handler = _HANDLERS.get(event.get("event_type", ""))
        if handler is not None:
            handler(self, event)

    def _account_state(self, e: dict[str, Any]) -> None:
        view = self.account(e["account_id"])
        view.state = e
        view.trading_state = e.get("trading_state", view.trading_state)
        view.equity.append((int(e["ts_event"]), D(str(e["equity"]))))
        day = view.daily.setdefault(day_of(int(e["ts_event"])), {"realized": D(0), "fees": D(0), "slippage": D(0)})
        day["realized"] = D(str(e.get("realized_pnl_today", "0")))
        day["fees"] = D(str(e.get("fees_today", "0")))

    def _market_data(self, e: dict[str, Any]) -> None:
        data = e.get("data") or {}
        if data.get("kind") != "bar":
            return
        bars = self.bars.get(e["instrument_id"])
        if bars is None:
            bars = self.bars[e["instrument_id"]] = deque(maxlen=BARS_KEPT)
        ts = int(data.get("ts_open") or e["ts_event"])
        bars.append((ts, D(str(data["open"])), D(str(data["high"])), D(str(data["low"])), D(str(data["close"]))))

    def _state_changed(self, e: dict[str, Any]) -> None:
        view = self.account(e["account_id"])
        view.trading_state = e["state"]
        view.state_reason = e.get("reason", "")
        view.state_message = e.get("message", "")
        view.locked_until_ns = e.get("locked_until_ns")
        view.state_changed_ts = int(e["ts_event"])

    def _broker_check(self, e: dict[str, Any]) -> None:
        view = self.account(e["account_id"])
        if e.get("status") == "restored":
            view.broker_mismatches.pop(e["venue"], None)
        else:
            view.broker_mismatches[e["venue"]] = e

    def _order(self, e: dict[str, Any]) -> None:
        view = self.account(e["account_id"])
        key = e["client_order_id"]
        if e["event_type"] in ORDER_ENDED:
            view.open_orders.pop(key, None)
            return
        order = view.open_orders.setdefault(key, {"client_order_id": key, "instrument_id": e["instrument_id"]})
        order["status"] = e.get("status", e["event_type"])
        order["correlation_id"] = e.get("correlation_id", "")
        order["ts_event"] = int(e["ts_event"])
        if "order" in e:
            order["order"] = e["order"]
        if e["event_type"] == "order_updated" and isinstance(order.get("order"), dict):
            # a bracket child resized or its stop trailed: the open order shows what works now
            changed = {k: e.get(k) for k in ("quantity", "stop_price", "limit_price")}
            order["order"] = {**order["order"], **changed}

    def _fill(self, e: dict[str, Any]) -> None:
        self._fills[e["event_id"]] = e
        view = self.account(e["account_id"])
        day = view.daily.setdefault(day_of(int(e["ts_event"])), {"realized": D(0), "fees": D(0), "slippage": D(0)})
        day["slippage"] += D(str(e.get("slippage_amount") or "0"))

    def _position(self, e: dict[str, Any]) -> None:
        pos = e["position"]
        view = self.account(pos["account_id"])
        view.positions[pos["instrument_id"]] = pos
        fill = self._fills.pop(e.get("causation_id") or "", None)
        if fill is not None:
            self._trade_step(fill, pos, e)

    def _trade_step(self, fill: dict[str, Any], pos: dict[str, Any], e: dict[str, Any]) -> None:
        """A fill and the position it left: open, add to, reduce or close a round trip."""
        key = (pos["account_id"], pos["instrument_id"])
        qty_after = signed_quantity(pos)
        realized = D(str(pos.get("realized_pnl", "0")))
        price, qty = D(str(fill["price"])), D(str(fill["quantity"]))
        fee, slip = D(str(fill.get("fee") or "0")), D(str(fill.get("slippage_amount") or "0"))
        ts, corr = int(fill["ts_event"]), fill.get("correlation_id", "")
        trade = self._open.get(key)
        if trade is not None:
            trade.fees += fee
            trade.slippage += slip
            adding = (trade.side == "long") == (fill["side"] == "buy")
            if adding:
                trade.quantity += qty
            else:
                trade._exit_qty += qty
                trade._exit_notional += price * qty
            if qty_after == 0 or (qty_after > 0) != (trade.side == "long"):
                trade.exit_ts, trade.exit_correlation_id = ts, corr
                trade.exit_price = trade._exit_notional / trade._exit_qty if trade._exit_qty else price
                trade.pnl = realized - trade.realized_at_entry
                del self._open[key]
                if qty_after != 0:  # a flip: the rest opens a new trade at this fill
                    self._start(key, fill, qty_after, realized, D(0), D(0))
            return
        if qty_after != 0:
            self._start(key, fill, qty_after, realized, fee, slip)

    def _start(
        self, key: tuple[str, str], fill: dict[str, Any], qty: Decimal, realized: Decimal, fee: Decimal, slip: Decimal
    ) -> None:
        trade = Trade(
            account_id=key[0],
            instrument_id=key[1],
            side="long" if qty > 0 else "short",
            entry_ts=int(fill["ts_event"]),
            entry_price=D(str(fill["price"])),
            quantity=abs(qty),
            correlation_id=fill.get("correlation_id", ""),
            realized_at_entry=realized,
            fees=fee,
            slippage=slip,
        )
        self._open[key] = trade
        self.account(key[0]).trades.append(trade)

    @property
    def trades(self) -> list[Trade]:
        """Every account's trades, oldest first by entry."""
        return sorted((t for v in self.accounts.values() for t in v.trades), key=lambda t: t.entry_ts)

    def drawdown(self, account_id: str) -> list[tuple[int, Decimal]]:
        """Equity below its running peak, per point of the equity curve (0 at a new high)."""
        peak: Decimal | None = None
        out = []
        for ts, eq in self.account(account_id).equity:
            peak = eq if peak is None or eq > peak else peak
            out.append((ts, eq - peak))
        return out


_HANDLERS = {
    "account_state": Ledger._account_state,
    "market_data": Ledger._market_data,
    "trading_state_changed": Ledger._state_changed,
    "broker_mismatch": Ledger._broker_check,
    "fill": Ledger._fill,
    "position": Ledger._position,
    **dict.fromkeys(ORDER_EVENTS, Ledger._order),
}
