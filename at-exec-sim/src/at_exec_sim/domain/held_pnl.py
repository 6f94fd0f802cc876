"""Realised P&L held in its own currency while no rate converts it to the account's. Pure.

A missing conversion rate fails closed: the P&L is never booked as zero. It waits in
``Account.unbooked`` (the account's equity cannot be valued meanwhile, so no new risk is taken:
``conversion_rate_missing``) and is booked when a rate arrives.
"""

from __future__ import annotations

from decimal import Decimal

from at_exec_sim.domain.portfolio import Account, MissingRate, to_account


def hold(account: Account, currency: str, amount: Decimal) -> None:
    """Keep ``amount`` of realised P&L in ``currency`` until a rate books it."""
    if amount != 0:
        account.unbooked[currency] = account.unbooked.get(currency, Decimal(0)) + amount


def book_held(account: Account, rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """Book every held amount that ``rates`` can now convert; returns what was booked (account currency)."""
    booked = {}
    for currency, amount in list(account.unbooked.items()):
        try:
            converted = to_account(amount, currency, account.currency, rates)
        except MissingRate:
            continue
        account.balance += converted
        account.realized_today += converted
        booked[currency] = converted
        del account.unbooked[currency]
    return booked


def missing_conversion(account: Account, rates: dict[str, Decimal]) -> str | None:
    """Why the account cannot be valued (for ``/account``), or None."""
    try:
        account.equity(rates)
    except MissingRate as exc:
        return str(exc)
    return None
