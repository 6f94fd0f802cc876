"""NATS subjects and JetStream streams, as code. No service writes a subject literal.

Subjects are hierarchical (``at.<family>.<...>``); variable tokens (accounts, symbols)
are escaped reversibly so that ``.``, ``*``, ``>``, white space and other characters NATS
treats specially never split or wildcard a subject: every byte outside
``[A-Za-z0-9_-]`` becomes ``~XX`` (its UTF-8 bytes in hex), so ``BRK.B`` -> ``BRK~2EB``
and ``BTC/USDT`` -> ``BTC~2FUSDT``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from at_core.constants import SERVICE_AGENTS, SERVICE_EXEC_SIM, SERVICE_GATEWAY
from at_core.errors import SubjectTokenError
from at_core.events import (
    AccountStateEvent,
    AgentAnalysisEvent,
    BrokerMismatchEvent,
    ChartSnapshotEvent,
    ContractExpiryWarningEvent,
    Event,
    ExecutionRequest,
    FillEvent,
    Heartbeat,
    MarketDataBatchEvent,
    MarketDataEvent,
    OrderEvent,
    OrderUpdated,
    PositionEvent,
    RejectedInputEvent,
    RiskDecisionEvent,
    SignalEvent,
    TradeProposalEvent,
    TradingStateChangedEvent,
)

ROOT = "at"
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_ESCAPED = re.compile(r"~([0-9A-F]{2})")
MAX_TOKEN_BYTES = 256


def _escaped(unsafe: re.Match[str]) -> str:
    return "".join(f"~{b:02X}" for b in unsafe.group().encode())


def escape_token(value: str) -> str:
    """Escape one subject token reversibly.

    Raises:
        SubjectTokenError: the value is empty or its escaped form is too long.
    """
    if not value:
        raise SubjectTokenError(value, "empty token")
    # One substitution over the value rather than a match per character: it runs on every publish.
    token = _UNSAFE.sub(_escaped, value)
    if len(token) > MAX_TOKEN_BYTES:
        raise SubjectTokenError(value, f"longer than {MAX_TOKEN_BYTES} bytes once escaped")
    return token


def unescape_token(token: str) -> str:
    """Invert :func:`escape_token`."""
    raw = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "~":
            if not _ESCAPED.match(token, i):
                raise SubjectTokenError(token, f"bad escape at {i}")
            raw.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(token[i].encode())
            i += 1
    return raw.decode()


def _subject(*tokens: str) -> str:
    return ".".join((ROOT, *tokens))


@functools.lru_cache(maxsize=4096)
def _t(value: str) -> str:
    """:func:`escape_token`, remembered: every publish escapes its few tokens (accounts, strategies,
    instruments: as many as the firm trades, bounded here all the same) again."""
    return escape_token(value)


# --- one function per event family -------------------------------------------------------


def signal(origin: str, account_id: str, strategy_id: str, instrument_id: str) -> str:
    """``at.signal.<origin>.<account>.<strategy>.<instrument>``"""
    return _subject("signal", _t(origin), _t(account_id), _t(strategy_id), _t(instrument_id))


#: The ``<kind>`` token of a :class:`~at_core.events.MarketDataBatchEvent`'s subject.
MARKET_DATA_BATCH_KIND = "batch"


def market_data(kind: str, venue: str, instrument_id: str) -> str:
    """``at.md.<kind>.<venue>.<instrument>``"""
    return _subject("md", _t(kind), _t(venue), _t(instrument_id))


def chart_snapshot(instrument_id: str) -> str:
    """``at.chart.<instrument>``"""
    return _subject("chart", _t(instrument_id))


def rejected_input(service: str, reason: str) -> str:
    """``at.dlq.<service>.<reason>``: the dead-letter subject."""
    return _subject("dlq", _t(service), _t(reason))


def agent_analysis(agent_id: str, instrument_id: str) -> str:
    """``at.agent.analysis.<agent>.<instrument>``"""
    return _subject("agent", "analysis", _t(agent_id), _t(instrument_id))


def trade_proposal(account_id: str, instrument_id: str) -> str:
    """``at.agent.proposal.<account>.<instrument>``"""
    return _subject("agent", "proposal", _t(account_id), _t(instrument_id))


def execution_request(account_id: str, instrument_id: str) -> str:
    """``at.cmd.exec.<account>.<instrument>``"""
    return _subject("cmd", "exec", _t(account_id), _t(instrument_id))


def risk_decision(account_id: str, instrument_id: str) -> str:
    """``at.risk.decision.<account>.<instrument>``"""
    return _subject("risk", "decision", _t(account_id), _t(instrument_id))


def order(status: str, account_id: str, instrument_id: str) -> str:
    """``at.order.<status>.<account>.<instrument>``"""
    return _subject("order", _t(status), _t(account_id), _t(instrument_id))


def fill(account_id: str, instrument_id: str) -> str:
    """``at.fill.<account>.<instrument>``"""
    return _subject("fill", _t(account_id), _t(instrument_id))


def position(account_id: str, instrument_id: str) -> str:
    """``at.position.<account>.<instrument>``"""
    return _subject("position", _t(account_id), _t(instrument_id))


def account_state(account_id: str) -> str:
    """``at.account.<account>``"""
    return _subject("account", _t(account_id))


def trading_state(account_id: str) -> str:
    """``at.state.<account>``"""
    return _subject("state", _t(account_id))


def contract_expiry(account_id: str, instrument_id: str) -> str:
    """``at.state.<account>.expiry.<instrument>`` (in the trading-state stream)"""
    return _subject("state", _t(account_id), "expiry", _t(instrument_id))


def broker_mismatch(account_id: str, venue: str) -> str:
    """``at.state.<account>.broker.<venue>`` (in the trading-state stream)"""
    return _subject("state", _t(account_id), "broker", _t(venue))


def heartbeat(service: str) -> str:
    """``at.heartbeat.<service>``"""
    return _subject("heartbeat", _t(service))


def subject_for(event: Event) -> str:
    """The subject an event is published on."""
    match event:
        case SignalEvent():
            return signal(event.origin, event.account_id, event.strategy_id, event.instrument_id)
        case MarketDataEvent():
            return market_data(event.data.kind, event.venue, event.instrument_id)
        case MarketDataBatchEvent():
            return market_data(MARKET_DATA_BATCH_KIND, event.venue, event.instrument_id)
        case ChartSnapshotEvent():
            return chart_snapshot(event.instrument_id)
        case RejectedInputEvent():
            return rejected_input(event.source, event.reason)
        case AgentAnalysisEvent():
            return agent_analysis(event.agent_id, event.instrument_id)
        case TradeProposalEvent():
            return trade_proposal(event.account_id, event.instrument_id)
        case ExecutionRequest():
            return execution_request(event.account_id, event.instrument_id)
        case RiskDecisionEvent():
            return risk_decision(event.account_id, event.instrument_id)
        case OrderUpdated():
            return order("updated", event.account_id, event.instrument_id)
        case OrderEvent():
            return order(event.status, event.account_id, event.instrument_id)
        case FillEvent():
            return fill(event.account_id, event.instrument_id)
        case PositionEvent():
            return position(event.position.account_id, event.position.instrument_id)
        case AccountStateEvent():
            return account_state(event.account_id)
        case TradingStateChangedEvent():
            return trading_state(event.account_id)
        case ContractExpiryWarningEvent():
            return contract_expiry(event.account_id, event.instrument_id)
        case BrokerMismatchEvent():
            return broker_mismatch(event.account_id, event.venue)
        case Heartbeat():
            return heartbeat(event.service)
    raise TypeError(f"no subject for {type(event).__name__}")


# --- wildcards consumers subscribe to ---------------------------------------------------

ALL = f"{ROOT}.>"
SIGNALS = f"{ROOT}.signal.>"
#: The signals at-agents' bar-driven strategies publish (origin ``agent``): the only signals agents may publish.
AGENT_SIGNALS = f"{ROOT}.signal.agent.>"
MARKET_DATA = f"{ROOT}.md.>"
CHART_SNAPSHOTS = f"{ROOT}.chart.>"
DEAD_LETTERS = f"{ROOT}.dlq.>"
AGENT_ANALYSES = f"{ROOT}.agent.analysis.>"
TRADE_PROPOSALS = f"{ROOT}.agent.proposal.>"
EXECUTION_REQUESTS = f"{ROOT}.cmd.exec.>"
RISK_DECISIONS = f"{ROOT}.risk.>"
ORDERS = f"{ROOT}.order.>"
FILLS = f"{ROOT}.fill.>"
POSITIONS = f"{ROOT}.position.>"
ACCOUNTS = f"{ROOT}.account.>"
TRADING_STATES = f"{ROOT}.state.>"
HEARTBEATS = f"{ROOT}.heartbeat.>"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A JetStream stream: its name, the subjects it captures, and how long it keeps them."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: int
    description: str
    duplicate_window_s: int = 120
    #: Size bounds (-1: none); past them the oldest messages go (JetStream's discard-old).
    max_bytes: int = -1
    max_msgs: int = -1


#: ``AT_SIGNALS``' de-duplication window: the gateway publishes each alert's signals with a
#: ``Nats-Msg-Id`` derived from the alert, so within this window a repeated alert (TradingView
#: firing again, a retry) is dropped by JetStream in the same round trip that stores the first
#: (no KV claim on the answer path). As long as the gateway's default ``dedup_window_s``; a
#: longer gateway window adds a KV read. JetStream keeps each id of the window in memory (about
#: 150 bytes): a day of alerts at the gateway's route limit (100/s) is about 1.3 GB, at a
#: realistic few thousand a day, nothing. One value for every service: provisioning
#: (``at-core-provision``) migrates the stream to it; services only check it exists.
SIGNALS_DUPLICATE_WINDOW_S = 86_400

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "AT_SIGNALS",
        (SIGNALS, CHART_SNAPSHOTS),
        30 * 86_400,
        "Ingested signals and chart snapshots",
        duplicate_window_s=SIGNALS_DUPLICATE_WINDOW_S,
    ),
    StreamSpec("AT_MARKET_DATA", (MARKET_DATA,), 7 * 86_400, "Bars, quotes and trades"),
    StreamSpec(
        "AT_DECISIONS",
        (AGENT_ANALYSES, TRADE_PROPOSALS, EXECUTION_REQUESTS),
        90 * 86_400,
        "Analyses, proposals, manual requests",
    ),
    StreamSpec(
        "AT_EXECUTION",
        (RISK_DECISIONS, ORDERS, FILLS, POSITIONS, ACCOUNTS, TRADING_STATES),
        365 * 86_400,
        "Risk decisions, orders, fills, positions, accounts",
    ),
    StreamSpec(
        "AT_DEAD_LETTERS",
        (DEAD_LETTERS,),
        30 * 86_400,
        "Inputs refused at the edge, for inspection and replay",
        # Anyone on the internet can make the gateway refuse something: bounded, oldest dropped first.
        max_bytes=256 * 1024 * 1024,
        max_msgs=1_000_000,
    ),
)

KV_BUCKET_DEDUP = "at_dedup"
KV_BUCKET_AGENT_MEMORY = "at_agent_memory"
OBJECT_STORE_CHARTS = "at_charts"

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_TYPE = "At-Event-Type"
HEADER_CORRELATION_ID = "At-Correlation-Id"
HEADER_CAUSATION_ID = "At-Causation-Id"
HEADER_SCHEMA_VERSION = "At-Schema-Version"


def stream_for_subject(subject: str) -> StreamSpec | None:
    """The stream that captures ``subject``, or None for core-only subjects."""
    for spec in STREAMS:
        for pattern in spec.subjects:
            if subject_matches(pattern, subject):
                return spec
    return None


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match (``*`` one token, ``>`` one or more trailing tokens)."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for i, p in enumerate(p_tokens):
        if p == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (p != "*" and p != s_tokens[i]):
            return False
    return len(p_tokens) == len(s_tokens)


# --- where each event may come from -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Family:
    """A subject family: the event types it carries and the one service allowed to publish on it.

    The publisher is enforced by nats-server (each service's user may publish only on its own
    families, see :mod:`at_core.permissions`); consumers enforce the event types
    (:func:`origin_violation`), so an event is believed only on the family it belongs to.
    """

    pattern: str
    event_types: frozenset[str]
    #: The service whose NATS user may publish here; None: every service, each on its own token.
    publisher: str | None


def _types(*classes: type[Event]) -> frozenset[str]:
    """The wire ``event_type`` of each class and of every subclass (``OrderEvent``: each status)."""
    out: set[str] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        default = cls.model_fields["event_type"].default
        if isinstance(default, str) and default:
            out.add(default)
    return frozenset(out)


FAMILIES: tuple[Family, ...] = (
    Family(SIGNALS, _types(SignalEvent), SERVICE_GATEWAY),
    Family(MARKET_DATA, _types(MarketDataEvent, MarketDataBatchEvent), SERVICE_GATEWAY),
    Family(CHART_SNAPSHOTS, _types(ChartSnapshotEvent), SERVICE_GATEWAY),
    Family(EXECUTION_REQUESTS, _types(ExecutionRequest), SERVICE_GATEWAY),
    Family(AGENT_ANALYSES, _types(AgentAnalysisEvent), SERVICE_AGENTS),
    Family(TRADE_PROPOSALS, _types(TradeProposalEvent), SERVICE_AGENTS),
    Family(RISK_DECISIONS, _types(RiskDecisionEvent), SERVICE_EXEC_SIM),
    Family(ORDERS, _types(OrderEvent), SERVICE_EXEC_SIM),
    Family(FILLS, _types(FillEvent), SERVICE_EXEC_SIM),
    Family(POSITIONS, _types(PositionEvent), SERVICE_EXEC_SIM),
    Family(ACCOUNTS, _types(AccountStateEvent), SERVICE_EXEC_SIM),
    Family(
        TRADING_STATES,
        _types(TradingStateChangedEvent, ContractExpiryWarningEvent, BrokerMismatchEvent),
        SERVICE_EXEC_SIM,
    ),
    Family(DEAD_LETTERS, _types(RejectedInputEvent), None),
    Family(HEARTBEATS, _types(Heartbeat), None),
)

#: Reason codes of :func:`origin_violation` (also the dead letter's ``reason``).
REASON_UNKNOWN_SUBJECT = "unknown_subject_family"
REASON_WRONG_FAMILY = "event_type_not_on_subject"


def family_for_subject(subject: str) -> Family | None:
    """The family ``subject`` belongs to, or None (a subject no contract defines)."""
    for family in FAMILIES:
        if subject_matches(family.pattern, subject):
            return family
    return None


def origin_violation(event_type: str, subject: str) -> str | None:
    """Why an event of ``event_type`` must not be believed on ``subject``, or None when it may.

    Returns:
        :data:`REASON_UNKNOWN_SUBJECT` (no family defines the subject) or
        :data:`REASON_WRONG_FAMILY` (the family carries other event types: a proposal on a
        market-data subject, a fill on a proposal subject).
    """
    family = family_for_subject(subject)
    if family is None:
        return REASON_UNKNOWN_SUBJECT
    if event_type not in family.event_types:
        return REASON_WRONG_FAMILY
    return None
