"""Least privilege on the bus: which service may publish and subscribe to what.

The map is part of the contracts (it is derived from the subjects), and
:func:`nats_server_config` renders it as nats-server ``accounts``/``users`` configuration
used by the local stack, docker compose and the tests alike. The gateway may publish
signals, market data, chart snapshots, dead letters and execution requests, never
proposals, orders or fills; agents may publish analyses and proposals, never fills; only
exec-sim publishes risk decisions, orders, fills, positions and account state; the
recorder and replay tool read everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from at_core import subjects
from at_core.constants import SERVICE_AGENTS, SERVICE_EXEC_SIM, SERVICE_GATEWAY, SERVICE_OBS

#: What every JetStream client needs: replies, acks and the read/consume side of the JS API.
_JS_CLIENT = (
    "_INBOX.>",
    "$JS.API.INFO",
    "$JS.API.STREAM.INFO.>",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.MSG.GET.>",
    "$JS.API.DIRECT.GET.>",
    "$JS.API.CONSUMER.>",
    "$JS.ACK.>",
    "$JS.FC.>",
)


def _kv(bucket: str) -> tuple[str, ...]:
    return (f"$KV.{bucket}.>", f"$JS.API.STREAM.CREATE.KV_{bucket}", f"$JS.API.STREAM.INFO.KV_{bucket}")


def _obj(bucket: str) -> tuple[str, ...]:
    return (f"$O.{bucket}.>", f"$JS.API.STREAM.CREATE.OBJ_{bucket}", f"$JS.API.STREAM.INFO.OBJ_{bucket}")


@dataclass(frozen=True, slots=True)
class Grant:
    """Subjects a service's NATS user may publish to and subscribe to."""

    service: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


GRANTS: dict[str, Grant] = {
    SERVICE_GATEWAY: Grant(
        SERVICE_GATEWAY,
        publish=(
            subjects.SIGNALS,
            subjects.MARKET_DATA,
            subjects.CHART_SNAPSHOTS,
            subjects.DEAD_LETTERS,
            subjects.EXECUTION_REQUESTS,
            subjects.HEARTBEATS,
            *_kv(subjects.KV_BUCKET_DEDUP),
            *_obj(subjects.OBJECT_STORE_CHARTS),
            *_JS_CLIENT,
        ),
        subscribe=("_INBOX.>", f"$KV.{subjects.KV_BUCKET_DEDUP}.>", f"$O.{subjects.OBJECT_STORE_CHARTS}.>"),
    ),
    SERVICE_AGENTS: Grant(
        SERVICE_AGENTS,
        publish=(
            subjects.AGENT_ANALYSES,
            subjects.TRADE_PROPOSALS,
            subjects.HEARTBEATS,
            *_kv(subjects.KV_BUCKET_AGENT_MEMORY),
            f"$O.{subjects.OBJECT_STORE_CHARTS}.>",
            f"$JS.API.STREAM.INFO.OBJ_{subjects.OBJECT_STORE_CHARTS}",
            *_JS_CLIENT,
        ),
        subscribe=(
            "_INBOX.>",
            subjects.SIGNALS,
            subjects.MARKET_DATA,
            subjects.CHART_SNAPSHOTS,
            subjects.POSITIONS,
            subjects.ACCOUNTS,
            subjects.FILLS,
            subjects.TRADING_STATES,
            f"$KV.{subjects.KV_BUCKET_AGENT_MEMORY}.>",
            f"$O.{subjects.OBJECT_STORE_CHARTS}.>",
        ),
    ),
    SERVICE_EXEC_SIM: Grant(
        SERVICE_EXEC_SIM,
        publish=(
            subjects.RISK_DECISIONS,
            subjects.ORDERS,
            subjects.FILLS,
            subjects.POSITIONS,
            subjects.ACCOUNTS,
            subjects.TRADING_STATES,
            subjects.HEARTBEATS,
            *_JS_CLIENT,
        ),
        subscribe=(
            "_INBOX.>",
            subjects.TRADE_PROPOSALS,
            subjects.EXECUTION_REQUESTS,
            subjects.MARKET_DATA,
            subjects.RISK_DECISIONS,
            subjects.ORDERS,
            subjects.FILLS,
            subjects.POSITIONS,
            subjects.ACCOUNTS,
            subjects.TRADING_STATES,
        ),
    ),
    SERVICE_OBS: Grant(
        SERVICE_OBS,
        # The replay tool re-publishes recorded inputs; it never publishes decisions or fills.
        publish=(subjects.SIGNALS, subjects.MARKET_DATA, subjects.EXECUTION_REQUESTS, subjects.HEARTBEATS, *_JS_CLIENT),
        subscribe=("_INBOX.>", subjects.ALL),
    ),
}


def _quoted(items: tuple[str, ...]) -> str:
    return ", ".join(f'"{s}"' for s in items)


def _secret(value: str, from_env: bool) -> str:
    return f"${value}" if from_env else f'"{value}"'


def nats_server_config(
    passwords: dict[str, str], *, admin_password: str | None = None, passwords_from_env: bool = False
) -> str:
    """nats-server configuration text: one JetStream-enabled account, one user per service.

    Args:
        passwords: password per service name (every service in :data:`GRANTS`).
        admin_password: when given, an ``admin`` user with every permission (operators, tests).
        passwords_from_env: the values are names of environment variables that nats-server
            reads at start (``$NATS_GATEWAY_PASSWORD``), for configs that are committed.
    """
    users = []
    for service, grant in GRANTS.items():
        users.append(
            f'    {{ user: "{service}", password: {_secret(passwords[service], passwords_from_env)}, permissions: {{ '
            f"publish: {{ allow: [{_quoted(grant.publish)}] }}, "
            f"subscribe: {{ allow: [{_quoted(grant.subscribe)}] }} }} }}"
        )
    if admin_password is not None:
        users.append(f'    {{ user: "admin", password: {_secret(admin_password, passwords_from_env)} }}')
    body = ",\n".join(users)
    return f"accounts {{\n  AT {{\n    jetstream: enabled\n    users: [\n{body}\n    ]\n  }}\n}}\n"
