"""What a broker's answer about an order means for the book (adapters/reconcile.py, pure)."""

from __future__ import annotations

from tests.helpers import D

from at_core.models.enums import LiquiditySide, OrderSide
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.reconcile import Verdict, judge
from at_exec_sim.domain.ports import ExecutionReport, ReportStatus
from at_exec_sim.domain.records import OrderRecord
from at_exec_sim.domain.venue import Execution

MAKER = LiquiditySide.MAKER
SPEC = OrderSpec(side=OrderSide.BUY, quantity=D(2))


def record(status: str = "accepted", filled: str = "0") -> OrderRecord:
    return OrderRecord("O-1", "acct", "s", "EUR/USD.OANDA", SPEC, status, filled=D(filled), venue="OANDA")


def ask(rec: OrderRecord, state: ExecutionReport, booked: frozenset[str] = frozenset()) -> Verdict:
    return judge(rec, state, booked, age_ns=0, absent_grace_ns=10, venue="OANDA")


def test_an_order_still_on_its_way_to_the_venue_books_nothing_and_is_asked_again() -> None:
    assert ask(record("submitted"), ExecutionReport("O-1", ReportStatus.PENDING)) == Verdict()


def test_only_the_executions_not_booked_yet_are_booked_by_trade_id() -> None:
    state = ExecutionReport(
        "O-1",
        ReportStatus.FILLED,
        "V-1",
        (Execution(D(1), D("1.1"), D(0), MAKER), Execution(D(1), D("1.2"), D(0), MAKER)),
        trade_ids=("t1", "t2"),
    )
    verdict = ask(record("partially_filled", "1"), state, frozenset({"t1"}))
    assert verdict.report is not None and [e.price for e in verdict.report.executions] == [D("1.2")]
    assert verdict.purpose == "poll:2" and verdict.resolved


def test_more_filled_at_the_broker_than_an_ended_order_holds_is_a_problem_for_an_operator() -> None:
    state = ExecutionReport("O-1", ReportStatus.FILLED, "V-1", (Execution(D(2), D("1.1"), D(0), MAKER),))
    verdict = ask(record("canceled"), state)
    assert verdict.report is None and verdict.problem is not None and "operator" in verdict.problem
