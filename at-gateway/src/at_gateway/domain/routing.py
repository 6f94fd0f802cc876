"""Which accounts and strategies a webhook secret trades for (fan-out with size multipliers)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    account_id: str
    strategy_id: str
    size_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Route:
    secret: str
    targets: tuple[Target, ...]


class RouteTable:
    """Secrets to targets. Secrets are compared in constant time; unknown ones get no route."""

    def __init__(self, routes: list[Route], default_secrets: list[str], default_target: Target) -> None:
        self._routes = list(routes) + [Route(s, (default_target,)) for s in default_secrets]

    @classmethod
    def from_config(cls, data: dict[str, Any], default_secrets: list[str], default_target: Target) -> RouteTable:
        """``{"routes": [{"secret": ..., "targets": [{"account_id", "strategy_id", "size_multiplier"}]}]}``."""
        routes = []
        for i, item in enumerate(data.get("routes", [])):
            if not item.get("secret") or not item.get("targets"):
                raise ValueError(f"route {i}: needs a secret and at least one target")
            targets = tuple(
                Target(
                    str(t["account_id"]),
                    str(t.get("strategy_id", default_target.strategy_id)),
                    Decimal(str(t.get("size_multiplier", "1"))),
                )
                for t in item["targets"]
            )
            if any(t.size_multiplier <= 0 for t in targets):
                raise ValueError(f"route {i}: size_multiplier must be positive")
            routes.append(Route(str(item["secret"]), targets))
        return cls(routes, default_secrets, default_target)

    def match(self, secret: str | None) -> Route | None:
        """The route for ``secret``, checking every route so timing does not reveal which matched."""
        found = None
        if not secret:
            return None
        for route in self._routes:
            if hmac.compare_digest(route.secret.encode(), secret.encode()) and found is None:
                found = route
        return found

    @property
    def secrets(self) -> list[str]:
        return [r.secret for r in self._routes]
