"""P&L of the same trades agrees with backtesting.py to the cent, fees off and on.

backtesting.py (kernc/backtesting.py) runs a moving-average cross on its own EURUSD hourly
sample; its trades are written as a TradingView list of trades, its bars as an OHLCV CSV, and
both go through at-backtest: the real signal follower, risk engine and simulated venue. With
``trade_on_close=True`` backtesting.py fills at the signal bar's close, which is the bar the
simulated venue fills against, so every price, every trade's P&L and the total must agree.
Its GOOG daily sample cannot be used: at-core normalises futures, FX and crypto, not equities.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, SMA

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data" / "backtest"
EXE = str(Path(sys.executable).parent / "at-backtest")
BARS = 400  # the stack takes every bar in turn; 400 hours hold a dozen crosses
SIZE = 10_000
CENT = Decimal("0.01")


class SmaCross(Strategy):
    def init(self) -> None:
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.buy(size=SIZE)
        elif crossover(self.slow, self.fast):
            self.sell(size=SIZE)


def _files(tmp: Path, commission: float) -> tuple[Path, Path, list[dict[str, object]]]:
    data = EURUSD.iloc[:BARS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open" at the end of the sample
        stats = Backtest(
            data, SmaCross, cash=100_000, commission=commission, trade_on_close=True, exclusive_orders=True
        ).run()
    bars = tmp / "eurusd_1h.csv"
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{ts:%Y-%m-%dT%H:%M:%S}Z,{r.Open},{r.High},{r.Low},{r.Close},{r.Volume}" for ts, r in data.iterrows()]
    bars.write_text("\n".join(lines) + "\n")
    hour = data.index[1] - data.index[0]
    rows = ["Trade #,Type,Date/Time,Signal,Price USD,Position size (qty),Net P&L USD"]
    expected = []
    for n, t in enumerate(stats._trades.itertuples(), start=1):
        side = "Long" if t.Size > 0 else "Short"
        # the signal bar's close: its open plus the bar (the chart's convention is the next open)
        entry, exit_ = t.EntryTime + hour, t.ExitTime + hour
        rows.append(f"{n},Entry {side},{entry:%Y-%m-%d %H:%M},x,{t.EntryPrice},{abs(t.Size)},{t.PnL}")
        rows.append(f"{n},Exit {side},{exit_:%Y-%m-%d %H:%M},x,{t.ExitPrice},{abs(t.Size)},{t.PnL}")
        expected.append({"entry": t.EntryPrice, "exit": t.ExitPrice, "pnl": t.PnL, "commission": t.Commission})
    trades = tmp / "trades.csv"
    trades.write_text("\n".join(rows) + "\n")
    return bars, trades, expected


def _money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT)


@pytest.mark.parametrize("commission", [0.0, 0.0001], ids=["fees off", "fees on (1 bp a side)"])
def test_every_trades_pnl_and_the_total_agree_with_backtesting_py_to_the_cent(
    tmp_path: Path, commission: float
) -> None:
    bars, trades, expected = _files(tmp_path, commission)
    assert len(expected) >= 5
    out = tmp_path / "r.json"
    args = [EXE, str(bars), str(trades), "--symbol", "FX:EURUSD", "--account", "paper-1", "--runs", "0"]
    args += ["--committees", str(DATA / "committees_signal_follower.yaml"), "--json", str(out)]
    args += ["--set", f"AT_EXEC_SIM_FX_BPS={Decimal(str(commission)) * 10_000}", "--fee-per-contract", "0"]
    args += ["--starting-balance", "100000", "--profit-target", "1000000", "--day-tz", "UTC", "--day-roll", "00:00"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    ours = report["trades"]
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected, strict=True):
        assert Decimal(mine["entry_price"]) == Decimal(str(theirs["entry"]))
        assert Decimal(mine["exit_price"]) == Decimal(str(theirs["exit"]))
        assert Decimal(mine["net_pnl"]) == _money(theirs["pnl"])  # type: ignore[arg-type]
        assert Decimal(mine["fees"]) == _money(theirs["commission"])  # type: ignore[arg-type]
    total = sum(Decimal(str(t["pnl"])) for t in expected)
    assert Decimal(report["totals"]["net_pnl"]) == total.quantize(CENT)
