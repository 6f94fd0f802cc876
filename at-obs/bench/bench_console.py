"""Console page render times with 100,000 events in the audit store (``make bench-console``).

Fills a SQLite audit store with 10,000 alerts of 10 events each (signal, analysis,
proposal, decision, order submitted/accepted, fill, order filled, position, account state)
over 5 accounts, every other fill closing a trade; starts the real recorder app under
uvicorn on it (no NATS: the console serves the store), waits until the console has read the
store, then times each page over HTTP. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
import uvicorn

from at_core.clock import ManualClock
from at_core.events import Event
from at_core.ids import IdGenerator
from at_core.models.enums import OrderSide, PositionSide
from at_core.testing import free_port
from at_core.testing.examples import example_events
from at_obs.adapters.audit_store import open_audit_store
from at_obs.config import ObsSettings
from at_obs.console_settings import DEV_KEYS
from at_obs.domain.console.fold import READ_BATCH, fold_records
from at_obs.main import create_app

ALERTS = int(os.environ.get("BENCH_CONSOLE_ALERTS", "10000"))
ACCOUNTS = [f"acct-{i}" for i in range(5)]
CHAIN = [
    "signal", "agent_analysis", "trade_proposal", "risk_decision", "order_submitted", "order_accepted",
    "fill", "order_filled", "position", "account_state",
]  # fmt: skip
ROUNDS = 30


def alert_events(k: int, ids: IdGenerator, clock: ManualClock, examples: dict[str, Event]) -> list[Event]:
    """One alert's ten events, linked by correlation and causation, on one of the accounts."""
    account = ACCOUNTS[k % len(ACCOUNTS)]
    opening = (k // len(ACCOUNTS)) % 2 == 0
    correlation = ids.new()
    out: list[Event] = []
    cause: str | None = None
    fill_id = ""
    for kind in CHAIN:
        clock.advance(2_000_000)  # 2 ms a step
        event_id = ids.new()
        base = examples[kind]
        update: dict[str, object] = {
            "event_id": event_id,
            "correlation_id": correlation,
            "causation_id": fill_id if kind == "position" else cause,
            "ts_event": clock.now_ns(),
            "ts_init": clock.now_ns(),
        }
        if "account_id" in type(base).model_fields:
            update["account_id"] = account
        if kind == "fill":
            update["side"] = OrderSide.BUY if opening else OrderSide.SELL
            update["quantity"] = Decimal(1)
            update["price"] = Decimal(6000 + (k % 40))
            fill_id = event_id
        if kind == "position":
            update["position"] = base.position.model_copy(  # type: ignore[attr-defined]
                update={
                    "account_id": account,
                    "quantity": Decimal(1 if opening else 0),
                    "side": PositionSide.LONG if opening else PositionSide.FLAT,
                    "realized_pnl": Decimal(k % 97) - 48,
                }
            )
        if kind == "account_state":
            update["equity"] = Decimal(50_000 + (k % 300) - 150)
        out.append(base.model_copy(update=update))
        cause = event_id
    return out


def fill_store(path: Path) -> float:
    examples = example_events()
    clock = ManualClock(1_795_000_000_000_000_000)
    ids = IdGenerator(clock, random.Random(0))
    store = open_audit_store(path)
    started = time.perf_counter()
    batch: list[tuple[Event, str]] = []
    for k in range(ALERTS):
        batch.extend((e, "at.bench") for e in alert_events(k, ids, clock, examples))
        if len(batch) >= 2000:
            store.append_many(batch)
            batch = []
    if batch:
        store.append_many(batch)
    print(f"store: {store.count():,} events written in {time.perf_counter() - started:.1f} s ({path})")
    started = time.perf_counter()
    ledger, _ = fold_records(store.iter_records(READ_BATCH))
    fold_s = time.perf_counter() - started
    print(
        f"fold (the console's startup read): {fold_s:.2f} s, {len(ledger.trades):,} trades, {len(ledger.accounts)} accounts"
    )
    store.close()
    return fold_s


async def measure(path: Path) -> None:
    port = free_port()
    settings = ObsSettings(
        port=port,
        audit_db_path=str(path),
        nats_url=f"nats://127.0.0.1:{free_port()}",  # nobody there: the console serves the store alone
        nats_initial_connect_deadline_s=0,
        console_health_urls={},
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        while not server.started:  # noqa: ASYNC110 - uvicorn has no started event to await
            await asyncio.sleep(0.05)
        await client.post("/console/login", data={"key": DEV_KEYS["viewer"]})
        started = time.perf_counter()
        while "Loading the audit log" in (await client.get("/console/accounts")).text:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        print(f"console ready (store read in the background) {time.perf_counter() - started:.2f} s after start")
        # The recorder verifies the whole chain at startup and holds the store while it reads it:
        # time the pages after that, as they are served for the rest of the day.
        while "at_obs_audit_chain_ok 1.0" not in (await client.get("/metrics")).text:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        print(f"chain verified {time.perf_counter() - started:.2f} s after start")
        story = (await client.get("/console/live")).text
        corr = story.split("correlation_id=", 1)[1].split('"', 1)[0]
        pages = {
            "accounts": "/console/accounts",
            "story": f"/console/story?correlation_id={corr}",
            "performance": f"/console/performance?account_id={ACCOUNTS[0]}",
            "live": "/console/live",
            "live (filtered)": f"/console/live?account_id={ACCOUNTS[1]}&event_type=fill",
            "health": "/console/health",
        }
        print(f"{'page':<18}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'bytes':>10}")
        for name, url in pages.items():
            times, size = [], 0
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                resp = await client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (url, resp.status_code)
                size = len(resp.content)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"{name:<18}{statistics.median(times):>9.1f}{p95:>9.1f}{times[-1]:>9.1f}{size:>10,}")
    server.should_exit = True
    await task


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        path = Path(tmp) / "audit.sqlite3"
        fill_store(path)
        asyncio.run(measure(path))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
