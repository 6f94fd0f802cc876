"""A futures prop account on the ProjectX Gateway behind the :class:`BrokerAdapter` port.

Calls used: ``Account/search`` (the account, its balance, whether it is simulated),
``Contract/available`` (instruments), ``Order/place`` (``customTag`` = our client order id),
``Order/search`` (an order by its ``customTag``: how a lost answer is found), ``Order/cancel``,
``Order/modify`` (a bracket child resized, a trailing stop moved),
``Trade/search`` (an order's executions and fees), ``Position/searchOpen``.

Native brackets (``native_brackets``, on unless ``AT_EXEC_SIM_PROJECTX_NATIVE_BRACKETS=false``):
an entry with a bracket is placed with ``stopLossBracket``/``takeProfitBracket`` ``{ticks, type}``
in the same ``Order/place``; the gateway creates the children when the entry fills and cancels one
when the other fills. They are adopted (``native.py``) under exec-sim's child ids.

A lost answer is never re-placed: the router holds the order unknown and asks
:meth:`ProjectXBroker.order_status`, which finds it by ``customTag``; a resubmission after a
restart is refused by the gateway (the tag is unique per account) and answered with the order
the tag names. Fills arrive asynchronously at ProjectX: :meth:`submit` looks the order up once
after placing it, and the user hub (``realtime.py``) makes exec-sim reconcile on every push and
after every reconnect, so what happened meanwhile is booked from REST.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from at_core.catalog import Instrument
from at_core.clock import Clock, WallClock
from at_core.models.enums import LiquiditySide
from at_core.models.orders import OrderSpec
from at_core.runtime.logging import get_logger
from at_exec_sim.adapters.health import BrokerHealth
from at_exec_sim.adapters.native_brackets import child_of, levels
from at_exec_sim.adapters.projectx.client import ProjectXClient
from at_exec_sim.adapters.projectx.mapping import (
    STATUS,
    UnsupportedOrderError,
    contract_instrument,
    d,
    instrument_contract,
    is_duplicate_tag,
    place_body,
)
from at_exec_sim.adapters.projectx.native import bracket_fields, differs, pick_child
from at_exec_sim.adapters.status_cache import StatusCache
from at_exec_sim.domain.ports import UNKNOWN_ORDER, Balance, BrokerPosition, ExecutionReport, ReportStatus
from at_exec_sim.domain.venue import Execution
from at_exec_sim.errors import VenueUnavailableError

log = get_logger("at_exec_sim.projectx")

Listener = Callable[[str], None]


class LiveAccountError(VenueUnavailableError):
    """The account is a funded (not simulated) one and live routing is not enabled."""


class ProjectXBroker:
    """Orders, cancels, balances and positions of one ProjectX account."""

    def __init__(
        self,
        client: ProjectXClient,
        account: str,
        *,
        venue: str = "TOPSTEPX",
        live: bool = False,
        clock: Clock | None = None,
        lookback_s: float = 7 * 86400.0,
        hub: Any = None,
        native_brackets: bool = True,
    ) -> None:
        self.client = client
        self.account = account  # its name or its id, as configured
        self.venue = venue
        self.live = live
        self.clock = clock or WallClock()
        self.lookback_s = lookback_s
        self.hub = hub  # the user hub (realtime.UserHub), started by connect
        self.account_id: int | None = None
        self.contracts: dict[str, str] = {}  # our symbol (contract name) -> contractId
        self._names: dict[str, str] = {}  # contractId -> our instrument id
        self._order_ids: dict[str, int] = {}  # client order id -> ProjectX order id
        self.listener: Listener | None = None
        self.native_brackets = native_brackets
        self._managed: set[str] = set()  # entries placed without a native bracket: children go separately
        self._adopting: dict[str, OrderSpec] = {}  # children not at the gateway yet, with the spec to bring them to
        self.statuses = StatusCache(
            lambda: self.listener is not None and self.hub is not None and self.hub.connected.is_set()
        )

    def set_listener(self, listener: Listener) -> None:
        """Called with a reason whenever the broker may have changed something (a push, a reconnect)."""
        self.listener = listener
        if self.hub is not None:

            def told(reason: str) -> None:
                self.statuses.forget(reason)  # something changed at the broker: ask again
                listener(reason)

            self.hub.listener = told

    def set_health(self, health: BrokerHealth) -> None:
        """Where this connection tells its rate limits, budget waits, tokens, connects and failed requests."""
        self.client.health = health
        self.client.budget.on_wait = health.budget_waited
        if self.hub is not None:
            self.hub.health = health

    async def connect(self) -> list[Instrument]:
        """Log in, find the account, list its contracts, start the user hub.

        Raises:
            LiveAccountError: a funded account without live routing enabled.
            VenueUnavailableError: the account is not there, or the gateway cannot be reached.
        """
        await self.client.login()
        raw = await self._account()
        if not raw.get("simulated", True) and not self.live:
            raise LiveAccountError(self.venue, f"account {raw.get('name')} is live: set live routing to trade it")
        if not raw.get("canTrade", True):
            raise VenueUnavailableError(self.venue, f"account {raw.get('name')} cannot trade now")
        self.account_id = int(raw["id"])
        body = await self._ok("/api/Contract/available", {"live": False})
        out: list[Instrument] = []
        for c in body.get("contracts") or []:
            inst = contract_instrument(c, self.venue)
            self.contracts[inst.symbol], self._names[str(c["id"])] = str(c["id"]), inst.instrument_id
            out.append(inst)
        if self.hub is not None:
            await self.hub.start(self.account_id)
        return out

    async def _account(self) -> dict[str, Any]:
        body = await self._ok("/api/Account/search", {"onlyActiveAccounts": True})
        for raw in body.get("accounts") or []:
            if self.account in (str(raw.get("id")), str(raw.get("name"))):
                return dict(raw)
        raise VenueUnavailableError(self.venue, f"no active account {self.account} for this login")

    async def _ok(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = await self.client.call(path, payload)
        if not body.get("success"):
            raise VenueUnavailableError(self.venue, f"{path}: errorCode {body.get('errorCode')}: {_msg(body)}")
        return body

    async def submit(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        return await self._place(client_order_id, instrument, spec, None)

    async def _place(
        self, client_order_id: str, instrument: Instrument, spec: OrderSpec, reference: Decimal | bool | None
    ) -> ExecutionReport:
        """``Order/place``; with a bracket's fields when ``reference`` is not False (a native bracket)."""
        self.statuses.forget()
        assert self.account_id is not None, "connect first"
        try:
            body = place_body(self.account_id, instrument_contract(instrument, self.contracts), client_order_id, spec)
            if spec.bracket is not None and reference is not False:
                resolved = levels(spec, instrument, reference if isinstance(reference, Decimal) else None)
                extra = bracket_fields(resolved, reference, instrument) if resolved is not None else {}
                body |= extra
                if not extra:  # its levels cannot be priced: exec-sim places the children itself
                    self._managed.add(client_order_id)
        except UnsupportedOrderError as exc:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), "unsupported_order", str(exc))
        answer = await self.client.call("/api/Order/place", body)
        if not answer.get("success"):
            if is_duplicate_tag(answer):  # placed before (a lost answer, a restart): that order is ours
                log.warning("projectx_duplicate_custom_tag", venue=self.venue, client_order_id=client_order_id)
                found = await self.order_status(client_order_id, instrument)
                if found.reason != UNKNOWN_ORDER:
                    return found
                return ExecutionReport(
                    client_order_id, ReportStatus.REJECTED, None, (), "DuplicateOrderId", _msg(answer)
                )
            reason = f"projectx_error_{answer.get('errorCode')}"
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), reason, _msg(answer))
        order_id = int(answer["orderId"])
        self._order_ids[client_order_id] = order_id
        try:
            return await self.order_status(client_order_id, instrument)
        except VenueUnavailableError:  # placed; its state comes with the next reconciliation
            return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, str(order_id))

    def _since(self) -> str:
        start = datetime.fromtimestamp(self.clock.now_ns() / 1e9, UTC) - timedelta(seconds=self.lookback_s)
        return start.isoformat()

    async def _find(self, client_order_id: str) -> dict[str, Any] | None:
        body = await self._ok("/api/Order/search", {"accountId": self.account_id, "startTimestamp": self._since()})
        known = self._order_ids.get(client_order_id)
        orders = body.get("orders") or []
        for order in orders:
            if order.get("customTag") == client_order_id or (known is not None and order.get("id") == known):
                self._order_ids[client_order_id] = int(order["id"])
                return dict(order)
        if known is None and (child := child_of(client_order_id)) is not None and child[0] not in self._managed:
            parent = next((o for o in orders if o.get("customTag") == child[0]), None)
            found = pick_child(orders, parent, child[1], set(self._order_ids.values())) if parent else None
            if found is not None:  # the gateway's own child of our entry: adopted under our id
                self._order_ids[client_order_id] = int(found["id"])
                log.info("projectx_bracket_child_adopted", client_order_id=client_order_id, order_id=found["id"])
                return dict(found)
        return None

    async def order_status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order as the broker holds it: asked by REST, unless the real-time connection vouches
        that nothing changed since the last answer (``StatusCache``).

        Raises:
            VenueUnavailableError: the broker could not be asked.
        """
        return await self.statuses.status(client_order_id, lambda coid: self._status(coid, instrument))

    async def _status(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        """The order named by our ``customTag``, with its executions from ``Trade/search``.

        Raises:
            VenueUnavailableError: the gateway could not be asked.
        """
        order = await self._find(client_order_id)
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such customTag")
        if (wanted := self._adopting.pop(client_order_id, None)) is not None and differs(order, wanted):
            await self.modify(client_order_id, instrument, wanted)  # found late: brought to exec-sim's size and price
            order = await self._find(client_order_id) or order
        status = STATUS.get(int(order.get("status", 0)))
        if status is None:
            raise VenueUnavailableError(self.venue, f"order {order['id']} in an unknown status {order.get('status')}")
        trades = await self._ok("/api/Trade/search", {"accountId": self.account_id, "startTimestamp": self._since()})
        mine = sorted(
            (t for t in trades.get("trades") or [] if t.get("orderId") == order["id"] and not t.get("voided")),
            key=lambda t: (str(t.get("creationTimestamp")), int(t["id"])),
        )
        execs = tuple(
            Execution(d(t["size"]), d(t["price"]), abs(d(t.get("fees") or 0)), LiquiditySide.TAKER) for t in mine
        )
        ids = tuple(str(t["id"]) for t in mine)
        filled = sum((e.quantity for e in execs), Decimal(0))
        volume = d(order["fillVolume"]) if order.get("fillVolume") is not None else filled
        if status is ReportStatus.FILLED and filled < d(order["size"]):
            status = ReportStatus.PARTIALLY_FILLED  # its trades are not all listed yet: the rest comes next time
        elif status is ReportStatus.ACCEPTED and filled > 0:
            status = ReportStatus.PARTIALLY_FILLED
        if status is ReportStatus.CANCELED and filled < volume:
            raise VenueUnavailableError(self.venue, f"order {order['id']} filled {volume}, trades list {filled}")
        reason = "expired" if int(order.get("status", 0)) == 4 else ""
        if status is ReportStatus.REJECTED:
            reason = "projectx_rejected"
        return ExecutionReport(client_order_id, status, str(order["id"]), execs, reason, trade_ids=ids)

    async def cancel(self, client_order_id: str, instrument: Instrument) -> ExecutionReport:
        self.statuses.forget()
        order = await self._find(client_order_id)
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such customTag")
        answer = await self.client.call("/api/Order/cancel", {"accountId": self.account_id, "orderId": order["id"]})
        if not answer.get("success"):
            reason = f"projectx_error_{answer.get('errorCode')}"
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, str(order["id"]), (), reason, _msg(answer))
        return ExecutionReport(client_order_id, ReportStatus.CANCELED, str(order["id"]))

    async def modify(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """``Order/modify`` a working order to ``spec``'s size and prices (a bracket child resized or
        a trailing stop moved); REJECTED when the gateway refuses or does not know it."""
        self.statuses.forget()
        order = await self._find(client_order_id)
        if order is None:
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, None, (), UNKNOWN_ORDER, "no such customTag")
        body = {
            "accountId": self.account_id,
            "orderId": order["id"],
            "size": int(spec.quantity),
            "limitPrice": float(spec.limit_price) if spec.limit_price is not None else None,
            "stopPrice": float(spec.stop_price) if spec.stop_price is not None else None,
            "trailPrice": None,
        }
        answer = await self.client.call("/api/Order/modify", body)
        if not answer.get("success"):
            reason = f"projectx_error_{answer.get('errorCode')}"
            return ExecutionReport(client_order_id, ReportStatus.REJECTED, str(order["id"]), (), reason, _msg(answer))
        return ExecutionReport(client_order_id, ReportStatus.ACCEPTED, str(order["id"]))

    async def submit_bracketed(
        self, client_order_id: str, instrument: Instrument, spec: OrderSpec, reference: Decimal | None
    ) -> ExecutionReport:
        """The entry and its bracket in one ``Order/place`` (the levels in ticks from ``reference``)."""
        return await self._place(client_order_id, instrument, spec, reference)

    async def adopt(self, client_order_id: str, instrument: Instrument, spec: OrderSpec) -> ExecutionReport:
        """The gateway's child of the entry, under exec-sim's child id, brought to ``spec``; PENDING
        while the gateway shows none yet (the poller asks again); placed as a separate order when the
        entry went without a native bracket."""
        child = child_of(client_order_id)
        if child is None or child[0] in self._managed:
            return await self._place(client_order_id, instrument, spec, False)
        self._adopting[client_order_id] = spec
        self.statuses.forget()
        report = await self.order_status(client_order_id, instrument)
        if report.reason == UNKNOWN_ORDER:
            return ExecutionReport(
                client_order_id, ReportStatus.PENDING, None, (), "", "no bracket child at the gateway yet"
            )
        return report

    def remember(self, client_order_id: str, venue_order_id: str) -> None:
        """A child adopted before a restart (its id as exec-sim persisted it)."""
        if venue_order_id.isdigit():
            self._order_ids.setdefault(client_order_id, int(venue_order_id))

    async def balances(self) -> dict[str, Balance]:
        raw = await self._account()
        if raw.get("balance") is None:  # never a zero balance that a check would read as money gone
            raise VenueUnavailableError(self.venue, f"Account/search: no balance for {raw.get('name')}")
        balance = d(raw["balance"])
        return {"USD": Balance("USD", balance, Decimal(0), balance)}

    async def positions(self) -> list[BrokerPosition]:
        body = await self._ok("/api/Position/searchOpen", {"accountId": self.account_id})
        out = []
        for p in body.get("positions") or []:
            size = d(p["size"]) * (1 if int(p["type"]) == 1 else -1)
            name = self._names.get(str(p["contractId"]), str(p["contractId"]))
            out.append(BrokerPosition(name, size, d(p["averagePrice"]) if p.get("averagePrice") is not None else None))
        return sorted(out, key=lambda p: p.instrument_id)

    def on_price(self, instrument_id: str, price: Decimal) -> list[ExecutionReport]:
        """ProjectX fills on its own prices."""
        return []

    async def close(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
        await self.client.http.aclose()


def _msg(body: dict[str, Any]) -> str:
    return str(body.get("errorMessage") or "")[:300]
