"""A bracket's stop and target as one exchange OCO order list (Binance spot, through ccxt).

On a spot market the stop and the target are two sells of the same coins. Two separate resting
sells would each lock them (the exchange refuses the second, -2010), so the pair is sent as one
``POST /api/v3/orderList/oco`` (ccxt's signed implicit method ``privatePostOrderListOco``; ccxt
4.5 has no unified call for it): a ``LIMIT_MAKER`` leg above the market (the target) and a
``STOP_LOSS`` leg below it (the stop, a market order once triggered, so a gap fills at the next
price rather than leaving a stop limit unfilled). Both legs share one lock of the coins, each leg
carries the child's own client order id (``aboveClientOrderId`` / ``belowClientOrderId``), so
exec-sim asks and cancels each by it like any order; the exchange runs the one-cancels-other (the
other leg ends ``EXPIRED``, booked as canceled), and a canceled leg takes the whole list with it.

Only a long position (a buy entry, filled at once: a market order) is bracketed this way, and
only where the symbol lists ``STOP_LOSS`` and ``LIMIT_MAKER`` order types. A resize is *not*
done: Binance cannot amend an order list, and cancel-list-then-new-list leaves nothing resting
in between, so :meth:`~at_exec_sim.adapters.ccxt_broker.CcxtBroker.modify` refuses (logged) and
the entry kinds that would need one are refused before they are sent (see ``bracket_unsupported``).
The legs' size is capped at the coins free at the exchange (rounded down to the step): Binance
takes a buy's commission in the coin bought unless paid in BNB, so exec-sim's booked position can
exceed what is held by the fee; the cap keeps the stop from being refused for want of coins.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.models.enums import OrderSide, OrderType
from at_core.models.instruments import CryptoSpot
from at_core.models.orders import OrderSpec

#: The order types a symbol must list for its brackets to rest as an OCO.
OCO_TYPES = frozenset({"STOP_LOSS", "LIMIT_MAKER"})


def spot_oco_refusal(market_info: dict[str, Any] | None, instrument: Instrument, spec: OrderSpec | None) -> str | None:
    """Why a bracketed entry on this spot market cannot be protected by an OCO, or None if it can."""
    if not isinstance(instrument, CryptoSpot):
        return "not a spot market"
    listed = set((market_info or {}).get("orderTypes") or ())
    if not listed >= OCO_TYPES or not (market_info or {}).get("ocoAllowed", False):
        return f"{instrument.symbol} does not list OCO lists with STOP_LOSS and LIMIT_MAKER legs"
    if spec is not None and spec.side is not OrderSide.BUY:
        return "a spot sell closes coins held; only a buy entry opens a position a bracket can protect"
    if spec is not None and spec.order_type is not OrderType.MARKET:
        return (
            "a limit entry can fill in parts, and an OCO list cannot be resized without a moment with no "
            "stop resting: only a market entry is bracketed"
        )
    return None


def floor_step(quantity: Decimal, step: Decimal) -> Decimal:
    return (quantity / step).to_integral_value(rounding=ROUND_DOWN) * step


def oco_request(
    exchange: Any,
    symbol: str,
    *,
    quantity: Decimal,
    stop: tuple[str, OrderSpec],
    target: tuple[str, OrderSpec],
    list_id: str,
) -> dict[str, Any]:
    """The ``orderList/oco`` parameters of a sell OCO: target above (LIMIT_MAKER), stop below (STOP_LOSS)."""
    (stop_id, stop_spec), (target_id, target_spec) = stop, target
    assert stop_spec.stop_price is not None and target_spec.limit_price is not None
    return {
        "symbol": exchange.market(symbol)["id"],
        "side": "SELL",
        "quantity": exchange.amount_to_precision(symbol, float(quantity)),
        "listClientOrderId": list_id,
        "aboveType": "LIMIT_MAKER",
        "abovePrice": exchange.price_to_precision(symbol, float(target_spec.limit_price)),
        "aboveClientOrderId": target_id,
        "belowType": "STOP_LOSS",
        "belowStopPrice": exchange.price_to_precision(symbol, float(stop_spec.stop_price)),
        "belowClientOrderId": stop_id,
        "newOrderRespType": "RESULT",
    }


def leg_reports(exchange: Any, symbol: str, answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each leg of an ``orderList/oco`` answer as a ccxt unified order, by its exchange client id."""
    market = exchange.market(symbol)
    reports = answer.get("orderReports") or []
    return {str(r.get("clientOrderId")): exchange.parse_order(r, market) for r in reports}
