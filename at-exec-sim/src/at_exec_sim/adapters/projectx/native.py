"""ProjectX's native brackets in exec-sim's terms (pure, no I/O).

``Order/place`` takes ``stopLossBracket`` and ``takeProfitBracket``, each ``{ticks, type}`` (type in
the order-type enum: 4 stop for the stop loss, 1 limit for the target); the gateway places them
when the entry fills, at that many ticks from the fill, and cancels one when the other fills.

The gateway's documented order record names no parent order, so a child is recognised as the
earliest order on the entry's account and contract, on the other side, of the child's type,
without a ``customTag``, placed after the entry and not yet claimed by another child. Once
claimed, its id is kept under exec-sim's child id (and persisted by exec-sim as the child's
``venue_order_id``, so a restart does not have to recognise it again).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.models.brackets import BracketRole, ResolvedBracket
from at_core.models.orders import OrderSpec
from at_exec_sim.adapters.native_brackets import ticks
from at_exec_sim.adapters.projectx.mapping import LIMIT, STOP, TRAILING_STOP, d

#: The order types a child of each role can be at the gateway.
CHILD_TYPES = {BracketRole.STOP_LOSS: (STOP, TRAILING_STOP), BracketRole.TAKE_PROFIT: (LIMIT,)}


def bracket_fields(resolved: ResolvedBracket, reference: Any, instrument: Instrument) -> dict[str, Any]:
    """The ``stopLossBracket``/``takeProfitBracket`` fields for these levels (empty when none)."""
    if not isinstance(reference, Decimal):
        return {}
    out: dict[str, Any] = {}
    if resolved.stop_price is not None:
        out["stopLossBracket"] = {"ticks": ticks(resolved.stop_price, reference, instrument), "type": STOP}
    if resolved.take_profit_price is not None:
        out["takeProfitBracket"] = {"ticks": ticks(resolved.take_profit_price, reference, instrument), "type": LIMIT}
    return out


def pick_child(
    orders: list[dict[str, Any]], parent: dict[str, Any], role: BracketRole, claimed: set[int]
) -> dict[str, Any] | None:
    """The gateway's child of ``parent`` for ``role`` among ``orders`` (see the module's docstring)."""
    candidates = [
        o
        for o in orders
        if o.get("accountId") == parent.get("accountId")
        and o.get("contractId") == parent.get("contractId")
        and o.get("side") != parent.get("side")
        and o.get("type") in CHILD_TYPES[role]
        and not o.get("customTag")
        and int(o["id"]) > int(parent["id"])
        and int(o["id"]) not in claimed
    ]
    return min(candidates, key=lambda o: int(o["id"]), default=None)


def differs(order: dict[str, Any], spec: OrderSpec) -> bool:
    """The gateway's open order is not at ``spec``'s size or price (one not open is left as it is)."""
    if int(order.get("status") or 0) != 1:
        return False
    if d(order.get("size") or 0) != spec.quantity:
        return True
    for key, want in (("stopPrice", spec.stop_price), ("limitPrice", spec.limit_price)):
        have = order.get(key)
        if want is not None and (have is None or d(have) != want):
            return True
    return False
