"""Least privilege on the bus: what each service's NATS user may publish and subscribe to.

Derived from the subjects, streams and durables (:mod:`at_core.subjects`,
:mod:`at_core.durables`), and rendered by :func:`nats_server_config` as nats-server
configuration used by the local stack, docker compose and the tests alike.

* Core subjects: each service publishes only the families it owns (``subjects.FAMILIES``) and
  its own dead letters and heartbeat; it subscribes only to what it consumes.
* JetStream API (``$JS.API.>``): a service may read stream info, bind to and pull from
  **its own named durables** (``CONSUMER.INFO`` / ``CONSUMER.MSG.NEXT`` / ``$JS.ACK`` on exactly
  those names) and use **its own** KV buckets and object store. No user but ``admin`` may
  create, update, delete or purge a stream, create or delete a consumer on a stream it does not
  own, or read a message by sequence (``STREAM.MSG.GET`` / ``DIRECT.GET``) from a stream it does
  not own. The gateway owns ``AT_SIGNALS`` (it alone publishes there) and reads a message of it by
  sequence: the first of a repeated alert, whose event id the repeat is answered with (JetStream's
  duplicate ack names only its sequence). Exceptions, each a read of what the service may already
  subscribe to: exec-sim reads
  its own ``AT_EXECUTION`` and the last price per subject of ``AT_MARKET_DATA`` at start through
  ephemeral consumers filtered to those subjects; agents read chart images from the gateway's
  object store; the recorder (obs) reads every stream.
* Core subscriptions (read only) stay on the families a service consumes.
* Replies: each connection uses the inbox prefix ``_INBOX.<service>`` and may subscribe only to
  that, so no user can read another's API replies or pull deliveries.

Passwords are stored bcrypt-hashed in the server configuration (:func:`hash_password`).
"""

from __future__ import annotations

from dataclasses import dataclass

import bcrypt

from at_core import subjects
from at_core.constants import SERVICE_AGENTS, SERVICE_EXEC_SIM, SERVICE_GATEWAY, SERVICE_OBS
from at_core.durables import DEFAULT_PREFIXES, durables_of

API = "$JS.API"
ADMIN_USER = "admin"


def inbox(service: str) -> str:
    """The inbox wildcard a service's connection replies come to (``_INBOX.<service>.>``)."""
    return f"_INBOX.{subjects.escape_token(service)}.>"


def _stream_info(*streams: str) -> tuple[str, ...]:
    return (f"{API}.INFO", *(f"{API}.STREAM.INFO.{s}" for s in streams))


def _durables(service: str, prefix: str | None = None) -> tuple[str, ...]:
    """Bind to, pull from and acknowledge exactly the service's own durables."""
    out: list[str] = []
    for spec in durables_of(service):
        name = spec.name(prefix)
        out += [
            f"{API}.CONSUMER.INFO.{spec.stream}.{name}",
            f"{API}.CONSUMER.MSG.NEXT.{spec.stream}.{name}",
            f"$JS.ACK.{spec.stream}.{name}.>",
        ]
    return tuple(out)


def _kv(bucket: str) -> tuple[str, ...]:
    """Read and write one KV bucket the service owns (keys, watch: ephemeral consumers on it)."""
    stream = f"KV_{bucket}"
    return (
        f"$KV.{bucket}.>",
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.STREAM.MSG.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.DELETE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.>",
        "$JS.FC.>",
    )


def _obj_read(bucket: str) -> tuple[str, ...]:
    """Read one object store: meta by subject, chunks through an ordered consumer."""
    stream = f"OBJ_{bucket}"
    return (
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.STREAM.NAMES",
        f"{API}.STREAM.MSG.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.DELETE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.>",
        "$JS.FC.>",
    )


def _obj_write(bucket: str) -> tuple[str, ...]:
    """Write one object store it owns (a repeated name replaces its chunks: purge of that bucket only)."""
    return (f"$O.{bucket}.>", f"{API}.STREAM.PURGE.OBJ_{bucket}", *_obj_read(bucket))


def _ephemeral_read(stream: str, subject_filter: str) -> tuple[str, ...]:
    """Create, pull from and delete an ephemeral consumer on ``stream`` filtered to exactly ``subject_filter``.

    Pulling (``MSG.NEXT``) cannot be narrowed to ephemeral names; without an ack grant on the
    other durables a pull there takes nothing away (it is redelivered after their ack wait).
    """
    return (
        f"{API}.CONSUMER.CREATE.{stream}.*.{subject_filter}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{API}.CONSUMER.DELETE.{stream}.*",
    )


_ALL_STREAMS = tuple(spec.name for spec in subjects.STREAMS)
_SIGNALS_STREAM = subjects.stream_for_subject(subjects.signal("x", "x", "x", "x")).name  # type: ignore[union-attr]


def _read_by_sequence(stream: str) -> tuple[str, ...]:
    """Read one message by sequence (``STREAM.MSG.GET``, not the direct get) from a stream the service owns."""
    return (f"{API}.STREAM.MSG.GET.{stream}",)


def _dlq(service: str) -> str:
    return f"{subjects.ROOT}.dlq.{subjects.escape_token(service)}.>"


def _heartbeat(service: str) -> str:
    return f"{subjects.ROOT}.heartbeat.{subjects.escape_token(service)}"


@dataclass(frozen=True, slots=True)
class Grant:
    """Subjects a service's NATS user may publish to and subscribe to."""

    service: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def _families_of(service: str) -> tuple[str, ...]:
    return tuple(f.pattern for f in subjects.FAMILIES if f.publisher == service)


def grants(prefixes: dict[str, str] | None = None) -> dict[str, Grant]:
    """The grant of every service, for the given durable prefixes (default: each service's default)."""
    p = {**DEFAULT_PREFIXES, **(prefixes or {})}
    return {
        SERVICE_GATEWAY: Grant(
            SERVICE_GATEWAY,
            publish=(
                *_families_of(SERVICE_GATEWAY),
                _dlq(SERVICE_GATEWAY),
                _heartbeat(SERVICE_GATEWAY),
                *_stream_info(*_ALL_STREAMS),
                *_read_by_sequence(_SIGNALS_STREAM),
                *_kv(subjects.KV_BUCKET_DEDUP),
                *_obj_write(subjects.OBJECT_STORE_CHARTS),
            ),
            subscribe=(inbox(SERVICE_GATEWAY),),
        ),
        SERVICE_AGENTS: Grant(
            SERVICE_AGENTS,
            publish=(
                *_families_of(SERVICE_AGENTS),
                subjects.AGENT_SIGNALS,  # bar-driven strategies (off by default); never another origin's
                _dlq(SERVICE_AGENTS),
                _heartbeat(SERVICE_AGENTS),
                *_stream_info(*_ALL_STREAMS),
                *_durables(SERVICE_AGENTS, p.get(SERVICE_AGENTS)),
                *_kv(subjects.KV_BUCKET_AGENT_MEMORY),
                *_obj_read(subjects.OBJECT_STORE_CHARTS),
            ),
            subscribe=(
                inbox(SERVICE_AGENTS),
                subjects.SIGNALS,
                subjects.MARKET_DATA,
                subjects.CHART_SNAPSHOTS,
                subjects.POSITIONS,
                subjects.ACCOUNTS,
                subjects.FILLS,
                subjects.TRADING_STATES,
            ),
        ),
        SERVICE_EXEC_SIM: Grant(
            SERVICE_EXEC_SIM,
            publish=(
                *_families_of(SERVICE_EXEC_SIM),
                _dlq(SERVICE_EXEC_SIM),
                _heartbeat(SERVICE_EXEC_SIM),
                *_stream_info(*_ALL_STREAMS),
                *_durables(SERVICE_EXEC_SIM, p.get(SERVICE_EXEC_SIM)),
                *_ephemeral_read("AT_EXECUTION", subjects.ALL),
                *_ephemeral_read("AT_MARKET_DATA", subjects.MARKET_DATA),
            ),
            subscribe=(
                inbox(SERVICE_EXEC_SIM),
                subjects.TRADE_PROPOSALS,
                subjects.EXECUTION_REQUESTS,
                subjects.MARKET_DATA,
                *(f.pattern for f in subjects.FAMILIES if f.publisher == SERVICE_EXEC_SIM),
            ),
        ),
        SERVICE_OBS: Grant(
            SERVICE_OBS,
            # The replay tool re-publishes recorded inputs; it never publishes decisions or fills.
            publish=(
                subjects.SIGNALS,
                subjects.MARKET_DATA,
                subjects.EXECUTION_REQUESTS,
                _dlq(SERVICE_OBS),
                _heartbeat(SERVICE_OBS),
                *_stream_info(*_ALL_STREAMS),
                f"{API}.STREAM.NAMES",
                f"{API}.STREAM.LIST",
                f"{API}.CONSUMER.LIST.*",
                f"{API}.CONSUMER.NAMES.*",
                *(f"{API}.CONSUMER.INFO.{s}.*" for s in _ALL_STREAMS),
                *(f"{API}.STREAM.MSG.GET.{s}" for s in _ALL_STREAMS),
                *_durables(SERVICE_OBS, p.get(SERVICE_OBS)),
            ),
            # The recorder and the replay tool watch everything on core NATS (read only).
            subscribe=(inbox(SERVICE_OBS), subjects.ALL),
        ),
    }


GRANTS: dict[str, Grant] = grants()


def hash_password(password: str, rounds: int = 10) -> str:
    """A bcrypt hash of ``password`` for the server configuration (nats-server checks ``$2...``)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def _quoted(items: tuple[str, ...]) -> str:
    return ", ".join(f'"{s}"' for s in items)


def _secret(value: str, from_env: bool, hashed: bool) -> str:
    if from_env:
        return f"${value}"
    return f'"{hash_password(value) if hashed else value}"'


def nats_server_config(
    passwords: dict[str, str],
    *,
    admin_password: str | None = None,
    passwords_from_env: bool = False,
    hashed: bool = True,
    prefixes: dict[str, str] | None = None,
) -> str:
    """nats-server configuration text: one JetStream-enabled account, one user per service.

    Args:
        passwords: password per service name (every service in :data:`GRANTS`).
        admin_password: when given, an ``admin`` user with every permission: the provisioning
            step and operators only, never a service.
        passwords_from_env: the values are names of environment variables that nats-server
            reads at start (``$NATS_GATEWAY_PASSWORD``), for configs that are committed.
        hashed: write bcrypt hashes, not the passwords (ignored with ``passwords_from_env``).
        prefixes: the services' durable prefixes, when not the defaults.
    """
    users = []
    for service, grant in grants(prefixes).items():
        users.append(
            f'    {{ user: "{service}", password: {_secret(passwords[service], passwords_from_env, hashed)}, '
            f"permissions: {{ "
            f"publish: {{ allow: [{_quoted(grant.publish)}] }}, "
            f"subscribe: {{ allow: [{_quoted(grant.subscribe)}] }} }} }}"
        )
    if admin_password is not None:
        users.append(f'    {{ user: "{ADMIN_USER}", password: {_secret(admin_password, passwords_from_env, hashed)} }}')
    body = ",\n".join(users)
    return f"accounts {{\n  AT {{\n    jetstream: enabled\n    users: [\n{body}\n    ]\n  }}\n}}\n"
