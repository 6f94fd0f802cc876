"""Every durable consumer of every service, as contracts: made once by provisioning, bound to by services.

A service's NATS user may not create consumers (see :mod:`at_core.permissions`); the
provisioning step (``at-core-provision``, admin credentials) creates these before the services
start, and each service binds to its own by name. Names are ``<prefix>-<suffix>``; the prefix
is the service's ``durable_prefix`` setting (defaults below), so replicas share the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from at_core import subjects
from at_core.constants import SERVICE_AGENTS, SERVICE_EXEC_SIM, SERVICE_OBS

#: The default ``durable_prefix`` setting of each service that consumes.
DEFAULT_PREFIXES: dict[str, str] = {SERVICE_AGENTS: "agents", SERVICE_EXEC_SIM: "exec-sim", SERVICE_OBS: "recorder"}
#: ``max_deliver`` of a durable that redelivers without limit (the recorder: never a gap).
UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class DurableSpec:
    """One durable pull consumer: who consumes, from which stream, which subjects."""

    service: str
    suffix: str
    stream: str
    filter_subject: str
    ack_wait_s: float = 10.0
    max_deliver: int = 10
    #: A prefix of its own, for a second consumer of a service that the service's
    #: ``durable_prefix`` setting does not rename (the recorder's notifier).
    own_prefix: str | None = None
    #: Start at the events published after provisioning instead of the whole stream.
    new_only: bool = False
    #: Read only when a setting turns its reader on (the notifier): nobody's work queue otherwise,
    #: so "the stack is idle" (replay, backtest) never waits for it.
    optional: bool = False

    def name(self, prefix: str | None = None) -> str:
        """The durable's name with ``prefix`` (default: the service's default prefix)."""
        return f"{self.own_prefix or prefix or DEFAULT_PREFIXES[self.service]}-{self.suffix}"


def _stream(subject: str) -> str:
    spec = subjects.stream_for_subject(subject.replace(">", "x"))
    assert spec is not None, subject
    return spec.name


def _on(service: str, suffix: str, subject: str, **kw: float) -> DurableSpec:
    return DurableSpec(service, suffix, _stream(subject), subject, **kw)  # type: ignore[arg-type]


DURABLES: tuple[DurableSpec, ...] = (
    _on(SERVICE_AGENTS, "md", subjects.MARKET_DATA),
    _on(SERVICE_AGENTS, "positions", subjects.POSITIONS),
    _on(SERVICE_AGENTS, "accounts", subjects.ACCOUNTS),
    _on(SERVICE_AGENTS, "charts", subjects.CHART_SNAPSHOTS),
    _on(SERVICE_AGENTS, "signals", subjects.SIGNALS),
    _on(SERVICE_EXEC_SIM, "md", subjects.MARKET_DATA),
    _on(SERVICE_EXEC_SIM, "proposals", subjects.TRADE_PROPOSALS),
    _on(SERVICE_EXEC_SIM, "requests", subjects.EXECUTION_REQUESTS),
    # The recorder reads each stream whole, redelivering without limit (a store outage delays
    # the audit log, never leaves a gap in it).
    *(
        DurableSpec(SERVICE_OBS, spec.name, spec.name, subjects.ALL, ack_wait_s=30.0, max_deliver=UNLIMITED)
        for spec in subjects.STREAMS
    ),
    # The recorder's notifier (at-obs): fills, denials, halts to apprise; a channel that is down
    # delays notifications without limit, never drops them; new events only (no flood at start).
    DurableSpec(
        SERVICE_OBS,
        _stream(subjects.FILLS),
        _stream(subjects.FILLS),
        subjects.ALL,
        ack_wait_s=30.0,
        max_deliver=UNLIMITED,
        own_prefix="notifier",
        new_only=True,
        optional=True,
    ),
)


def optional_durable_names() -> frozenset[str]:
    """The names of the durables read only when a setting turns their reader on."""
    return frozenset(d.name() for d in DURABLES if d.optional)


def durables_of(service: str) -> tuple[DurableSpec, ...]:
    """The durables ``service`` consumes."""
    return tuple(d for d in DURABLES if d.service == service)
