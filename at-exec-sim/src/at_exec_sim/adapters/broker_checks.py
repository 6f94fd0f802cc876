"""Positions and balances compared with each broker's: what the broker says (asked here), judged
against exec-sim's book by ``domain/broker_check.py``, and the :class:`BrokerMismatchEvent` a
confirmed mismatch or its end publishes.

One broker account per exec-sim account: a venue that several accounts use cannot be told apart
and is not checked. The events' ids derive from the mismatch's episode (when its difference was
first seen) and name the account and the venue, so a publish retried from the outbox is
deduplicated and the ``restored`` event correlates with its ``mismatch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from at_core.events import BrokerDifference, BrokerMismatchEvent, Event, EventFactory
from at_core.ids import derive_id
from at_exec_sim.adapters.routing import VenueLink
from at_exec_sim.domain.broker_check import (
    BalanceBaseline,
    BalanceCheck,
    BrokerWatch,
    balance_difference,
    describe,
    position_differences,
)
from at_exec_sim.domain.ports import Balance
from at_exec_sim.domain.records import AccountRuntime


@dataclass(frozen=True, slots=True)
class BrokerSeen:
    """One reading of a broker account: its signed positions by instrument, its balances by currency."""

    positions: dict[str, Decimal]
    balances: dict[str, Balance]


async def read_broker(link: VenueLink, with_balance: bool) -> BrokerSeen:
    """Ask the broker (network: call without the service's lock).

    Raises:
        Exception: whatever the adapter raised (the check is made again next round).
    """
    positions = {p.instrument_id: p.quantity for p in await link.adapter.positions()}
    balances = await link.adapter.balances() if with_balance else {}
    return BrokerSeen(positions, balances)


def purpose(status: str, account_id: str, venue: str) -> str:
    return f"broker:{status}:{account_id}:{venue}"


@dataclass
class BrokerChecks:
    """Every account's watch, balance baseline and standing mismatch (shown on ``/account``)."""

    mode: BalanceCheck = "change"
    tolerance: Decimal = Decimal("1.00")
    watches: dict[str, BrokerWatch] = field(default_factory=dict)
    baselines: dict[str, BalanceBaseline] = field(default_factory=dict)
    #: Accounts whose book differs from their broker's (seen twice in a row): account id -> what differs.
    mismatches: dict[str, str] = field(default_factory=dict)
    #: The event id of each standing mismatch (its restored event derives from it).
    mismatch_ids: dict[str, str] = field(default_factory=dict)

    def judge(
        self, factory: EventFactory, rt: AccountRuntime, venue: str, seen: BrokerSeen, now_ns: int, halts: bool
    ) -> BrokerMismatchEvent | None:
        """Compare one reading with the account's book (call under the service's lock): the event
        to publish when a mismatch is confirmed or restored, else None."""
        account_id = rt.account.account_id
        ours = {i: p.quantity for i, p in rt.account.positions.items() if p.quantity != 0}
        diffs = position_differences(ours, seen.positions)
        if (diff := self._balance(rt, seen)) is not None:
            diffs.append(diff)
        watch = self.watches.setdefault(account_id, BrokerWatch())
        transition = watch.observe(diffs, now_ns)
        if watch.standing is not None:
            self.mismatches[account_id] = describe(watch.standing, venue)
        else:
            self.mismatches.pop(account_id, None)
        if transition is None:
            return None
        if transition == "mismatch":
            assert watch.root is not None
            root, self.mismatch_ids[account_id] = (
                watch.root,
                derive_id(watch.root, purpose("mismatch", account_id, venue)),
            )
        else:  # restored: derived from the mismatch it ends (read back from the stream after a restart)
            root = self.mismatch_ids.pop(account_id)
        mismatch_id = self.mismatch_ids.get(account_id, root)
        return factory.make(
            BrokerMismatchEvent,
            derive_root=root,
            derive_from=purpose(transition, account_id, venue),
            correlation_id=mismatch_id,  # the restored event correlates with its mismatch
            account_id=account_id,
            venue=venue,
            status=transition,
            differences=diffs if transition == "mismatch" else [],
            halted=halts and transition == "mismatch",
            message=describe(diffs, venue) if diffs else f"positions and balance agree with {venue} again",
        )

    def _balance(self, rt: AccountRuntime, seen: BrokerSeen) -> BrokerDifference | None:
        account = rt.account
        theirs = seen.balances.get(account.currency)
        if self.mode == "off" or theirs is None:
            return None  # the broker keeps no balance in the account's currency: positions only
        baseline = self.baselines.get(account.account_id)
        if self.mode == "change" and baseline is None:
            baseline = self.baselines[account.account_id] = BalanceBaseline(account.balance, theirs.total)
        return balance_difference(account.currency, account.balance, theirs.total, baseline, self.tolerance, self.mode)

    def recover(self, event: Event) -> None:
        """A mismatch event read back from the stream (a restart): the mismatch stands, or ended."""
        if not isinstance(event, BrokerMismatchEvent):
            return
        watch = self.watches.setdefault(event.account_id, BrokerWatch())
        if event.status == "mismatch":
            watch.recovered(list(event.differences))
            self.mismatches[event.account_id] = describe(event.differences, event.venue)
            self.mismatch_ids[event.account_id] = event.event_id
        else:
            watch.restored_from_stream()
            self.mismatches.pop(event.account_id, None)
            self.mismatch_ids.pop(event.account_id, None)
