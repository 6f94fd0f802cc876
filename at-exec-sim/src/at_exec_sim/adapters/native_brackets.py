"""What the adapters that place brackets natively (ProjectX, Tradovate) share. Pure, no I/O.

A native adapter places an entry and its stop loss and take profit in ONE request (ProjectX's
``stopLossBracket``/``takeProfitBracket``, Tradovate's ``order/placeoso``); the venue creates the
children, holds them until the entry fills and runs their one-cancels-other itself. exec-sim's
bracket component (``domain/brackets.py``) still opens its child records ``<entry>:sl`` and
``<entry>:tp`` when the entry fills; the router then *adopts* each one (``adopt``) instead of
placing it: the adapter finds the venue's own child, keeps its id under the child's client order
id, and modifies it to exec-sim's size and price where they differ. Resizes after partial fills and
trailing moves are modifies of those children; an orphan cancel is a cancel of them.

An adapter declares the capability with ``native_brackets = True`` (a setting per venue turns it
off: exec-sim then places the children as separate orders, as before).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, TypeGuard, runtime_checkable

from at_core.catalog import Instrument
from at_core.errors import BracketError
from at_core.models.brackets import BracketRole, ResolvedBracket, resolve_bracket
from at_core.models.orders import OrderSpec
from at_exec_sim.domain.brackets import SUFFIX
from at_exec_sim.domain.ports import ExecutionReport

ROLE_OF = {suffix: role for role, suffix in SUFFIX.items()}


@runtime_checkable
class NativeBrackets(Protocol):
    """A broker adapter that places brackets natively and adopts the venue's children."""

    native_brackets: bool

    async def submit_bracketed(
        self, client_order_id: str, instrument: Instrument, spec: OrderSpec, reference: Decimal | None
    ) -> ExecutionReport:
        """Place the entry with its bracket in one request (the children's levels taken from
        ``reference``, the expected entry price, where the venue wants prices)."""
        ...

    async def adopt(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """Find the venue's child for this bracket child's client order id, bring it to ``spec``
        (modify), and report its state; PENDING while the venue shows none yet."""
        ...

    def remember(self, client_order_id: str, venue_order_id: str) -> None:
        """A child adopted before a restart: its venue order id, as exec-sim persisted it."""
        ...


def native(adapter: Any) -> TypeGuard[NativeBrackets]:
    """The adapter places brackets natively (and is set to)."""
    return isinstance(adapter, NativeBrackets) and bool(adapter.native_brackets)


def child_of(client_order_id: str) -> tuple[str, BracketRole] | None:
    """A bracket child's entry and role, from its client order id (``<entry>:sl``, ``<entry>:tp``)."""
    for suffix, role in ROLE_OF.items():
        if client_order_id.endswith(suffix) and len(client_order_id) > len(suffix):
            return client_order_id[: -len(suffix)], role
    return None


def reference_price(spec: OrderSpec, arrival: Decimal | None) -> Decimal | None:
    """Where the entry is expected to fill: its limit, its stop, else the market at submission."""
    return spec.limit_price or spec.stop_price or arrival


def levels(spec: OrderSpec, instrument: Instrument, reference: Decimal | None) -> ResolvedBracket | None:
    """The bracket's stop and target prices taken from ``reference``; None when they cannot be
    known (no reference price, a level past zero): the entry then goes without a native bracket."""
    if spec.bracket is None or reference is None:
        return None
    try:
        return resolve_bracket(
            spec.bracket, side=spec.side, entry_price=reference, tick_size=instrument.price_increment, check_sides=False
        )
    except (BracketError, ValueError):
        return None


def ticks(price: Decimal, reference: Decimal, instrument: Instrument) -> int:
    """A level's distance from the reference in whole ticks (at least one)."""
    return max(int((abs(price - reference) / instrument.price_increment).to_integral_value()), 1)
