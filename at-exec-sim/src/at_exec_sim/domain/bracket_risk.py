"""Pre-trade checks of an entry's bracket: a stop the profile requires, a bracket that cannot work,
and the bracket's actual stop as the price the projected loss is taken at. Pure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from at_core.constants import SIM_VENUE
from at_core.errors import BracketError
from at_core.events import RiskReason
from at_core.events import RiskReasonCode as Code
from at_core.models.brackets import resolve_bracket
from at_core.models.orders import OrderSpec

if TYPE_CHECKING:
    from at_exec_sim.domain.risk import RiskContext

#: Venues whose bracket children are placed and managed here: the simulated venue (emulated OCO,
#: see ``brackets.py``). Accounts at an external broker pass by ``brackets_at_venue`` instead
#: (bootstrap marks every account at a configured broker: exec-sim manages the children there,
#: natively at ProjectX and Tradovate, emulated at OANDA and paper; a ccxt exchange's adapter
#: refuses what it cannot protect before it is sent); an entry with a bracket for any other venue
#: is denied rather than sent without its stop.
BRACKET_VENUES: frozenset[str] = frozenset({SIM_VENUE})


def bracket_checks(
    order: OrderSpec, ctx: RiskContext, entry: Decimal | None, reduces: bool
) -> tuple[RiskContext, list[RiskReason]]:
    """The context with the bracket's stop as ``stop_price`` (it replaces a proposal's hypothetical
    one), and the reasons to deny.

    Args:
        order: the order as rounded.
        ctx: the risk context (``instrument`` and ``profile`` known).
        entry: where the entry is expected to fill (the bracket's distances are taken from it).
        reduces: the order reduces a position (never needs a stop).
    """
    assert ctx.instrument is not None and ctx.profile is not None
    reasons: list[RiskReason] = []
    bracket = order.bracket
    if (
        ctx.profile.limits.require_stop
        and not reduces
        and not order.reduce_only
        and (bracket is None or not bracket.has_stop)
    ):
        reasons.append(
            RiskReason(
                code=Code.STOP_REQUIRED,
                message=f"{ctx.profile.profile_id} requires a stop loss or trailing stop on every entry",
            )
        )
    if bracket is None:
        return ctx, reasons
    if ctx.venue is not None and ctx.venue not in BRACKET_VENUES and not ctx.brackets_at_venue:
        reasons.append(
            RiskReason(
                code=Code.BRACKET_INVALID,
                message=f"venue {ctx.venue} does not place brackets yet: the entry is not sent without its stop",
            )
        )
        return ctx, reasons
    if entry is None:
        return ctx, reasons
    try:
        resolved = resolve_bracket(
            bracket, side=order.side, entry_price=entry, tick_size=ctx.instrument.price_increment
        )
    except (BracketError, ValueError) as exc:
        reasons.append(RiskReason(code=Code.BRACKET_INVALID, message=f"bracket cannot work at {entry}: {exc}"))
        return ctx, reasons
    if resolved.stop_price is not None:
        ctx = replace(ctx, stop_price=resolved.stop_price)
    return ctx, reasons
