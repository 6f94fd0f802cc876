"""The alert's own price as the mark, on paper and simulated venues only. Pure.

A TradingView alert carries the bar's close. When exec-sim holds no market data for the
instrument, or only data more than ``max_age_ns`` older than the alert (a stopped feed), a proposal for an account on the simulated venue
(``SIM``) or the paper broker (``PAPER``) is priced at the proposal's ``reference_price`` (the
alert's price, which the agents copy), provided the alert is at most ``max_age_ns`` old. The
decision, the order and its fills say so (``price_source: alert``). An account at a real broker
never trades on an alert's price: it needs the broker's or the feed's market data.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from at_core.constants import SIM_VENUE
from at_core.models.enums import PriceSource
from at_exec_sim.domain.venue import Market

#: The paper broker's venue name (adapters/paper.py): it fills at the last price it is given.
PAPER_VENUE = "PAPER"
NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class AlertMarkPolicy:
    """When an alert's price may serve as the mark.

    Attributes:
        max_age_ns: the oldest alert whose price may be used (0: never use an alert's price).
        venues: the venues that may trade on it (the simulated venue and the paper broker).
    """

    max_age_ns: int = 300 * NS_PER_S
    venues: frozenset[str] = frozenset({SIM_VENUE, PAPER_VENUE})


@dataclass(frozen=True, slots=True)
class Mark:
    """The market a decision is priced on, where it came from, and why an alert's price was not used."""

    market: Market | None
    source: PriceSource | None = None  # None: the market data exec-sim held (or none at all)
    price: Decimal | None = None  # the alert's price, when source is ALERT
    refused: str = ""  # why the alert's price was not used (said in a no_market_price denial)


def choose_mark(
    market: Market | None,
    market_ts_ns: int | None,
    reference: Decimal | None,
    reference_ts_ns: int,
    now_ns: int,
    venue: str,
    policy: AlertMarkPolicy | None,
) -> Mark:
    """The market data unless it is missing or stale, else the alert's price when allowed.

    Market data wins when it is at most ``max_age_ns`` older than the alert (a quote a few
    seconds before the alert, or after it): a feed that is running is trusted over an alert's
    close. Only without market data, or with market data older than that, is the alert's price
    the mark, and only if the alert itself is at most ``max_age_ns`` old.

    Args:
        market: what exec-sim holds for the instrument (None: nothing yet).
        market_ts_ns: the ``ts_event`` of that market data.
        reference: the proposal's ``reference_price`` (the alert's price), if any.
        reference_ts_ns: when that price was seen (the proposal's ``ts_event``, its signal's).
        now_ns: the engine's clock.
        venue: the account's venue.
        policy: None disables alert prices altogether.
    """
    has_market = market is not None and market.mid is not None
    if reference is None:
        return Mark(market, refused="the proposal carries no price")
    if policy is None or policy.max_age_ns <= 0:
        return Mark(market, refused="alert prices are off (alert_price_max_age_s=0)")
    if has_market and market_ts_ns is not None and market_ts_ns >= reference_ts_ns - policy.max_age_ns:
        return Mark(market)  # market data as fresh as the alert, or at most max_age older, wins
    if venue not in policy.venues:
        return Mark(market, refused=f"venue {venue} trades only on market data, never on an alert's price")
    age_ns = now_ns - reference_ts_ns
    if age_ns > policy.max_age_ns:
        return Mark(
            market,
            refused=f"the alert's price is {age_ns // NS_PER_S}s old, older than alert_price_max_age_s="
            f"{policy.max_age_ns // NS_PER_S}",
        )
    return Mark(Market(last=reference), PriceSource.ALERT, reference)
