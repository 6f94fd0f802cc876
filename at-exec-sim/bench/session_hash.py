"""The in-process engine over a fixed generated session: sha256 of every output, serialized.

Run: ``.venv/bin/python at-exec-sim/bench/session_hash.py`` (from the repository root). A change
to the engine's hot path must leave the printed hashes unchanged: same inputs, byte-identical
outputs. The session mixes what the engine does (four instruments: a future, a second future,
an FX pair and a crypto spot; quotes, trades and bars; market, limit, stop, stop-limit, IOC,
FOK, DAY and GTD orders from every shipped account and 40 extra ones; a day roll, a session
cutoff and reopening, large losing positions that breach rules), once without and once with
fees, slippage and latency.
"""

from __future__ import annotations

import hashlib
import random
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers

from tests.helpers import T0, engine, factory, proposal, quote  # noqa: E402

from at_core.events import Event, MarketDataEvent  # noqa: E402
from at_core.events.signals import BarData, TradeData  # noqa: E402
from at_core.models.enums import OrderSide, OrderType, TimeInForce  # noqa: E402
from at_exec_sim.domain.accounts import AccountConfig  # noqa: E402
from at_exec_sim.domain.engine import ExecutionEngine  # noqa: E402
from at_exec_sim.domain.portfolio import Account  # noqa: E402
from at_exec_sim.domain.records import AccountRuntime  # noqa: E402
from at_exec_sim.domain.rules import RuleState  # noqa: E402
from at_exec_sim.domain.venue_models import FeeModel, LatencyModel  # noqa: E402

D = Decimal
SEC = 1_000_000_000
INSTRUMENTS = {  # id: (start price, tick, decimals, quantity choices)
    "ES.CME": (D("5000.00"), D("0.25"), 2, ("1", "2", "5")),
    "NQ.CME": (D("18000.00"), D("0.25"), 2, ("1", "3")),
    "EUR/USD.FX": (D("1.08000"), D("0.00001"), 5, ("1000", "25000", "100000")),
    "BTC/USDT.BINANCE": (D("60000.00"), D("0.01"), 2, ("0.01", "0.5")),
}
EXTRA = 40


def _add_accounts(eng: ExecutionEngine) -> None:
    profile = eng.accounts["paper-1"].config.profile
    for i in range(EXTRA):
        account_id = f"extra-{i:02d}"
        start = profile.starting_balance
        eng.accounts[account_id] = AccountRuntime(
            AccountConfig(account_id, profile), Account(account_id, profile.currency, start, start), RuleState(profile)
        )


def session(n: int = 5_000, seed: int = 11) -> list[Event]:
    """``n`` market events ~10 s apart (14 hours: a session cutoff and reopening), proposals among them."""
    rng = random.Random(seed)
    f = factory()
    prices = {k: v[0] for k, v in INSTRUMENTS.items()}
    accounts = ["paper-1", "topstep-50k-1", "apex-50k-1", "ftmo-100k-1", "crypto-1"] + [
        f"extra-{i:02d}" for i in range(EXTRA)
    ]
    events: list[Event] = []
    for i in range(n):
        ts = T0 + i * 10 * SEC + rng.randrange(SEC)
        f.clock.set(ts)
        inst = rng.choice(list(INSTRUMENTS))
        _, tick, _, qtys = INSTRUMENTS[inst]
        prices[inst] += tick * rng.randint(-6, 6) * (1 if inst != "EUR/USD.FX" else 10)
        px = prices[inst]
        kind = rng.random()
        venue = inst.rsplit(".", 1)[1]
        if kind < 0.85:
            # thin books on the futures and crypto (orders walk ticks), deep on FX: a market order
            # larger than the book's depth to zero would walk to a price of zero (see the report)
            size = rng.choice(("1000000", "10000000") if inst == "EUR/USD.FX" else ("1", "3", "10000000"))
            events.append(quote(f, inst, str(px), str(px + tick * rng.randint(1, 3)), size=size))
        elif kind < 0.93:
            data = TradeData(price=px, size=D(rng.choice(("1", "2", "50"))))
            events.append(f.make(MarketDataEvent, instrument_id=inst, venue=venue, data=data))
        else:
            lo, hi = px - tick * rng.randint(0, 20), px + tick * rng.randint(0, 20)
            data = BarData(interval="1", open=px, high=hi, low=lo, close=px + tick * rng.randint(-3, 3), volume=D(100))
            events.append(f.make(MarketDataEvent, instrument_id=inst, venue=venue, data=data))
        if rng.random() < 0.12:
            account = rng.choice(accounts)
            side = rng.choice((OrderSide.BUY, OrderSide.SELL))
            qty = rng.choice(qtys)
            if rng.random() < 0.02 and inst != "EUR/USD.FX":
                qty = str(D(qty) * 40)  # a large one: rules breach, flatten
            r = rng.random()
            off = tick * rng.randint(1, 12)
            kw: dict = {}
            if r < 0.45:
                pass
            elif r < 0.7:
                limit = px - off if side is OrderSide.BUY else px + off
                tif = rng.choice((TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD))
                kw = {"order_type": OrderType.LIMIT, "limit": str(limit), "tif": tif}
                if tif is TimeInForce.GTD:
                    kw["expire_ns"] = ts + rng.randint(30, 3600) * SEC
            elif r < 0.85:
                stop = px + off if side is OrderSide.BUY else px - off
                kw = {"order_type": OrderType.STOP_MARKET, "stop": str(stop)}
            else:
                stop = px + off if side is OrderSide.BUY else px - off
                kw = {"order_type": OrderType.STOP_LIMIT, "stop": str(stop), "limit": str(stop + off * side.sign)}
            stop_loss = str(px - off * 4 * side.sign) if rng.random() < 0.3 else None
            events.append(proposal(f, account, inst, side, qty, stop_loss=stop_loss, **kw))
    return events


def run(eng: ExecutionEngine, events: list[Event]) -> tuple[str, int]:
    _add_accounts(eng)
    digest = hashlib.sha256()
    count = 0
    for ev in events:
        eng.clock.advance_to(ev.ts_event)
        out = eng.on_market_data(ev) if ev.event_type == "market_data" else eng.on_proposal(ev)
        for o in out:
            digest.update(o.model_dump_json().encode())
            digest.update(b"\n")
        count += len(out)
    for snap in eng.query.positions():
        digest.update(repr(snap).encode())
    for acc in eng.query.accounts():
        digest.update(repr(acc).encode())
    return digest.hexdigest(), count


def main() -> None:
    events = session()
    plain, n1 = run(engine(), events)
    models = engine(
        fees=FeeModel(per_contract=D("2.25"), crypto_taker_bps=D(10), crypto_maker_bps=D(2)),
        slippage=D(1),
        latency=LatencyModel(submit_ns=200_000_000, cancel_ns=100_000_000, jitter_ns=50_000_000, rng=random.Random(3)),
    )
    with_models, n2 = run(models, events)
    print(f"inputs {len(events)}; plain: {n1} outputs sha256 {plain}")
    print(f"fees+slippage+latency: {n2} outputs sha256 {with_models}")


if __name__ == "__main__":
    main()
