"""Tradovate's native brackets in exec-sim's terms (pure, no I/O).

``order/placeoso`` takes the entry with ``bracket1`` and ``bracket2`` (each an action, an order
type and its price): Tradovate holds them until the entry fills, links the two as an OCO (one
filling cancels the other) and answers ``{orderId, oso1Id, oso2Id}``. The children are orders of
their own whose ``parentId`` is the entry's id: they show in ``order/list`` and in the ``props``
pushes, which is how they are found again after a lost answer or a restart.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from at_core.models.brackets import BracketRole, ResolvedBracket
from at_core.models.enums import OrderSide
from at_core.models.orders import OrderSpec

#: The child order types of each role.
CHILD_TYPES = {BracketRole.STOP_LOSS: ("Stop", "StopLimit", "TrailingStop"), BracketRole.TAKE_PROFIT: ("Limit",)}


def oso_brackets(resolved: ResolvedBracket, side: OrderSide) -> list[tuple[BracketRole, dict[str, Any]]]:
    """The OSO's bracket orders, in order (``bracket1`` first): the stop, then the target."""
    action = "Sell" if side is OrderSide.BUY else "Buy"
    out: list[tuple[BracketRole, dict[str, Any]]] = []
    if resolved.stop_price is not None:
        out.append((BracketRole.STOP_LOSS, {"action": action, "orderType": "Stop",
                                            "stopPrice": float(resolved.stop_price)}))  # fmt: skip
    if resolved.take_profit_price is not None:
        out.append((BracketRole.TAKE_PROFIT, {"action": action, "orderType": "Limit",
                                              "price": float(resolved.take_profit_price)}))  # fmt: skip
    return out


def role_of(version: dict[str, Any]) -> BracketRole | None:
    """The role of a child by its order type."""
    return next((role for role, types in CHILD_TYPES.items() if version.get("orderType") in types), None)


def differs(order: dict[str, Any], version: dict[str, Any], spec: OrderSpec) -> bool:
    """The working child is not at ``spec``'s size or price (one not working is left as it is)."""
    if order.get("ordStatus") != "Working":
        return False
    if Decimal(str(version.get("orderQty") or 0)) != spec.quantity:
        return True
    for key, want in (("stopPrice", spec.stop_price), ("price", spec.limit_price)):
        have = version.get(key)
        if want is not None and (have is None or Decimal(str(have)) != want):
            return True
    return False
