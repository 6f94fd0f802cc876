"""What a broker's answer to "how is this order now?" means for exec-sim's book (pure).

A status query returns an order's cumulative state: every execution so far. Only what exec-sim
has not booked yet may reach the engine, so :func:`unbooked` subtracts what is booked: by the
broker's trade ids when exec-sim knows which ones it booked, else by cumulative quantity in the
broker's order (an execution split by what is booked contributes its remainder). :func:`judge`
then decides what to book and with which purpose, so that derived event ids never repeat:
``submit`` when the order never had an answer (its first answer was lost), else
``poll:<cumulative filled quantity>``, which grows with every booking of new executions.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from decimal import Decimal

from at_core.models.enums import OrderStatus
from at_exec_sim.domain.ports import UNKNOWN_ORDER, ExecutionReport, ReportStatus
from at_exec_sim.domain.records import OPEN_STATUSES, OrderRecord
from at_exec_sim.domain.venue import Execution

#: Order states in which exec-sim holds nothing more to happen (a broker's later fill is a conflict).
ENDED_STATUSES = frozenset(OrderStatus) - OPEN_STATUSES
NOT_AT_BROKER = "not_at_broker"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one status answer changes: a report to book (with its purpose), or a problem to show."""

    report: ExecutionReport | None = None
    purpose: str = ""
    resolved: bool = False  # the order's state is known: it leaves the unknown list
    problem: str | None = None  # exec-sim and the broker disagree: unknown, for an operator


def unbooked(
    state: ExecutionReport, booked_qty: Decimal, booked_avg: Decimal | None, booked_ids: Set[str]
) -> tuple[tuple[Execution, ...], tuple[str, ...]] | None:
    """The executions in ``state`` not booked yet, with their trade ids; None if more is booked than filled.

    Args:
        state: the broker's cumulative answer.
        booked_qty: the quantity exec-sim booked for the order.
        booked_avg: its average price (prices what is new in an aggregate without trade ids).
        booked_ids: the broker trade ids exec-sim booked, when it knows them.
    """
    execs = state.executions
    ids = state.trade_ids if len(state.trade_ids) == len(execs) else ()
    if state.filled < booked_qty:
        return None
    if ids and booked_ids:
        pairs = list(zip(execs, ids, strict=True))
        if sum((e.quantity for e, t in pairs if t in booked_ids), Decimal(0)) == booked_qty:
            fresh = [(e, t) for e, t in pairs if t not in booked_ids]
            return tuple(e for e, _ in fresh), tuple(t for _, t in fresh)
    out: list[Execution] = []
    out_ids: list[str] = []
    cum = Decimal(0)
    for i, ex in enumerate(execs):
        before, cum = cum, cum + ex.quantity
        if cum <= booked_qty:
            continue  # booked already
        if before < booked_qty:  # part of it is booked: the remainder is new
            part, price = cum - booked_qty, ex.price
            if before == 0 and not ids and booked_avg is not None:
                # an aggregate (filled so far at its average): price the new part so the values add up
                price = (ex.price * ex.quantity - booked_avg * booked_qty) / part
            ex = Execution(part, price, ex.fee * part / ex.quantity, ex.liquidity)
        out.append(ex)
        if ids:
            out_ids.append(ids[i])
    return tuple(out), tuple(out_ids)


def judge(
    record: OrderRecord,
    state: ExecutionReport,
    booked_ids: Set[str],
    *,
    age_ns: int,
    absent_grace_ns: int,
    venue: str,
    hold_unknown: bool = False,
) -> Verdict:
    """What to book for ``record`` given the broker's ``state`` of it.

    Args:
        record: exec-sim's order.
        state: the broker's cumulative answer.
        booked_ids: the broker trade ids booked for it.
        age_ns: how long ago the order was submitted.
        absent_grace_ns: an order the broker does not know is rejected only once this old
            (a request that timed out may still arrive).
        venue: the venue's name, for messages.
        hold_unknown: the order is unknown because a cancel failed: it stays unknown while it rests.
    """
    coid = record.client_order_id
    first = record.status == OrderStatus.SUBMITTED  # no answer from the broker was ever booked
    if state.status is ReportStatus.PENDING:
        return Verdict()  # on its way to the venue: nothing to book yet, ask again next time
    if state.status is ReportStatus.REJECTED:
        return _rejected(record, state, first, age_ns >= absent_grace_ns, venue)
    fresh = unbooked(state, record.filled, record.avg_price, booked_ids)
    if fresh is None:
        return Verdict(problem=f"exec-sim booked {record.filled}, {venue} reports {state.filled} filled")
    execs, _ids = fresh
    if record.status in ENDED_STATUSES:
        if execs:
            return Verdict(
                problem=f"{venue} filled {state.filled}, exec-sim booked {record.filled} on an order it holds "
                f"{record.status}: the difference needs booking by an operator"
            )
        return Verdict(resolved=True)
    resting = state.status in (ReportStatus.ACCEPTED, ReportStatus.PARTIALLY_FILLED)
    if not execs and not first and resting:
        return Verdict(resolved=not hold_unknown)  # nothing new
    report = ExecutionReport(coid, state.status, state.venue_order_id, execs, state.reason, state.message)
    purpose = "submit" if first else f"poll:{record.filled + sum((e.quantity for e in execs), Decimal(0))}"
    return Verdict(report, purpose, resolved=not (hold_unknown and resting))


def _rejected(record: OrderRecord, state: ExecutionReport, first: bool, past_grace: bool, venue: str) -> Verdict:
    """The broker rejects or does not know the order: rejected if it never had an answer (once
    past the grace when the broker does not know it), else a problem for an operator."""
    if not first or record.filled > 0:
        return Verdict(problem=f"{venue} no longer knows this order ({state.reason}); exec-sim has it {record.status}")
    if state.reason == UNKNOWN_ORDER and not past_grace:
        return Verdict()  # maybe still on its way: ask again next time
    coid = record.client_order_id
    reason = NOT_AT_BROKER if state.reason == UNKNOWN_ORDER else state.reason
    message = f"{venue} has no order with client order id {coid}: it was never placed"
    if state.reason != UNKNOWN_ORDER:
        message = state.message or f"{venue} rejected it"
    report = ExecutionReport(coid, ReportStatus.REJECTED, None, (), reason, message)
    return Verdict(report, "submit", resolved=True)
