"""What a broker connection tells about its health, as it happens: a small sink the adapters call
(rate limits, budget waits, token renewals and failures, real-time connects, failed requests).

The adapters know nothing of the service's metrics: bootstrap hands each one a
:class:`MetricsHealth` for its venue (``set_health``); without one they tell :data:`NO_HEALTH`.
"""

from __future__ import annotations

from typing import Literal, Protocol

from at_core.metrics import Metrics

RateLimitAnswer = Literal["http_429", "penalty"]
#: How a request failed: no answer (connection, timeout), a 5xx, an answer that could not be read.
RequestError = Literal["transport", "http_5xx", "bad_answer"]


class BrokerHealth(Protocol):
    """The events of one broker connection that operators watch."""

    def rate_limited(self, answer: RateLimitAnswer) -> None:
        """The broker said slow down (an HTTP 429, a Tradovate penalty ticket)."""
        ...

    def budget_waited(self) -> None:
        """A request was held by the client-side budget (or a broker's pause) before it left."""
        ...

    def token_renewed(self) -> None: ...

    def token_failed(self) -> None:
        """A login or a renewal was refused, or could not be made."""
        ...

    def realtime_connected(self) -> None:
        """The real-time socket connected (the first time, or again)."""
        ...

    def request_failed(self, kind: RequestError) -> None: ...


class _NoHealth:
    def rate_limited(self, answer: RateLimitAnswer) -> None:
        pass

    def budget_waited(self) -> None:
        pass

    def token_renewed(self) -> None:
        pass

    def token_failed(self) -> None:
        pass

    def realtime_connected(self) -> None:
        pass

    def request_failed(self, kind: RequestError) -> None:
        pass


NO_HEALTH: BrokerHealth = _NoHealth()


class MetricsHealth:
    """The sink that counts into exec-sim's broker-health metrics (``at_core.metrics.exec_sim``)."""

    def __init__(self, metrics: Metrics, venue: str) -> None:
        self.metrics = metrics
        self.venue = venue

    def rate_limited(self, answer: RateLimitAnswer) -> None:
        self.metrics.counter("broker_rate_limited_total").labels(self.venue, answer).inc()

    def budget_waited(self) -> None:
        self.metrics.counter("broker_budget_waits_total").labels(self.venue).inc()

    def token_renewed(self) -> None:
        self.metrics.counter("broker_token_renewals_total").labels(self.venue).inc()

    def token_failed(self) -> None:
        self.metrics.counter("broker_token_failures_total").labels(self.venue).inc()

    def realtime_connected(self) -> None:
        self.metrics.counter("broker_realtime_connects_total").labels(self.venue).inc()

    def request_failed(self, kind: RequestError) -> None:
        self.metrics.counter("broker_request_errors_total").labels(self.venue, kind).inc()
