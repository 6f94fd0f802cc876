"""Provisioning: the one step that holds admin credentials and creates everything on JetStream.

Streams, the KV buckets, the object store and every durable consumer (:data:`at_core.durables.DURABLES`)
are made here, before any service starts; services only bind to them (their NATS users may not
create, update or delete any of it). Idempotent: run it again and nothing changes; change a spec
(a stream's subjects or retention, a durable's ack wait) and it is migrated in place.

Run it as ``at-core-provision --servers nats://127.0.0.1:4222 --user admin`` with the admin's
password in ``NATS_ADMIN_PASSWORD`` (or ``--password-file``, a mode-0600 file).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
import typer
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, ObjectStoreConfig, StorageType
from nats.js.errors import APIError, NotFoundError

from at_core import subjects
from at_core.durables import DEFAULT_PREFIXES, DURABLES, DurableSpec
from at_core.metrics import MetricCatalog
from at_core.runtime.bus import BusError, EventBus
from at_core.runtime.cli import CONTEXT_SETTINGS, run_app

#: Where the CLI reads the admin's password when no ``--password-file`` is given (as in compose).
ADMIN_PASSWORD_ENV = "NATS_ADMIN_PASSWORD"  # noqa: S105 - a variable name, not a secret
#: The gateway's default dedup window (``AT_GATEWAY_DEDUP_WINDOW_S``): the dedup bucket's TTL.
DEFAULT_DEDUP_WINDOW_S = 86_400.0


@dataclass(slots=True)
class ProvisionReport:
    """What one run created or changed (empty lists: everything was already as specified)."""

    consumers_created: list[str] = field(default_factory=list)
    consumers_updated: list[str] = field(default_factory=list)


def consumer_config(spec: DurableSpec, prefix: str | None = None) -> ConsumerConfig:
    """The JetStream configuration of one durable."""
    name = spec.name(prefix)
    return ConsumerConfig(
        name=name,
        durable_name=name,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_s,
        max_deliver=spec.max_deliver,
        deliver_policy=DeliverPolicy.NEW if spec.new_only else DeliverPolicy.ALL,
        filter_subject=spec.filter_subject,
    )


async def _retrying(step: Callable[[], Awaitable[None]], deadline_s: float) -> None:
    """Run ``step``; while a just-started cluster cannot place a replicated stream yet, try again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while True:
        try:
            await step()
            return
        except (BusError, APIError, NatsTimeoutError):
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.5)


async def provision(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    prefixes: Mapping[str, str] | None = None,
    dedup_window_s: float = DEFAULT_DEDUP_WINDOW_S,
    durables: Sequence[DurableSpec] = DURABLES,
    placement_deadline_s: float = 30.0,
) -> ProvisionReport:
    """Create or migrate every stream, bucket and durable. Needs admin (or unauthenticated) access.

    Args:
        placement_deadline_s: how long a cluster that has not yet elected its meta leader or
            seen all its peers ("no suitable peers for placement") is given before this fails.
    """
    prefixes = {**DEFAULT_PREFIXES, **(prefixes or {})}
    bus = EventBus(js._nc, "provision", MetricCatalog("provision").build())
    await _retrying(lambda: bus.ensure_streams(replicas=replicas, migrate=True), placement_deadline_s)
    try:
        await js.key_value(subjects.KV_BUCKET_DEDUP)
    except Exception:
        await js.create_key_value(
            KeyValueConfig(bucket=subjects.KV_BUCKET_DEDUP, ttl=dedup_window_s, history=1, replicas=replicas)
        )
    try:
        await js.key_value(subjects.KV_BUCKET_AGENT_MEMORY)
    except Exception:
        await js.create_key_value(
            KeyValueConfig(
                bucket=subjects.KV_BUCKET_AGENT_MEMORY,
                history=1,
                storage=StorageType.FILE,
                replicas=replicas,
                description="at-agents memory per strategy and instrument",
            )
        )
    try:
        await js.object_store(subjects.OBJECT_STORE_CHARTS)
    except Exception:
        await js.create_object_store(subjects.OBJECT_STORE_CHARTS, ObjectStoreConfig(replicas=replicas))
    report = ProvisionReport()
    for spec in durables:
        want = consumer_config(spec, prefixes.get(spec.service))
        assert want.name is not None
        try:
            have = (await js.consumer_info(spec.stream, want.name)).config
        except NotFoundError:
            await js.add_consumer(spec.stream, want)
            report.consumers_created.append(f"{spec.stream}/{want.name}")
            continue
        if (have.ack_wait, have.max_deliver, have.filter_subject) != (
            want.ack_wait,
            want.max_deliver,
            want.filter_subject,
        ):
            await js.add_consumer(spec.stream, want)  # create-or-update: the server migrates it in place
            report.consumers_updated.append(f"{spec.stream}/{want.name}")
    return report


async def provision_url(
    servers: str | Sequence[str],
    *,
    user: str | None = None,
    password: str | None = None,
    replicas: int = 1,
    prefixes: Mapping[str, str] | None = None,
    dedup_window_s: float = DEFAULT_DEDUP_WINDOW_S,
    connect_deadline_s: float = 10.0,
    durables: Sequence[DurableSpec] = DURABLES,
) -> ProvisionReport:
    """Connect (retrying the first connection up to ``connect_deadline_s``), provision, close.

    ``durables`` narrows the consumers made to those of the services that will run (a backtest
    starts no recorder: a recorder durable nobody reads would keep the stack from ever being idle).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + connect_deadline_s
    while True:
        try:
            nc = await nats.connect(
                servers=[servers] if isinstance(servers, str) else list(servers),
                user=user,
                password=password,
                name="provision",
                connect_timeout=2,
                max_reconnect_attempts=1,
            )
            break
        except Exception:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.3)
    try:
        return await provision(
            nc.jetstream(), replicas=replicas, prefixes=prefixes, dedup_window_s=dedup_window_s, durables=durables
        )
    finally:
        await nc.close()


app = typer.Typer(
    name="at-core-provision",
    help=__doc__.splitlines()[0],
    add_completion=False,
    context_settings=CONTEXT_SETTINGS,
    pretty_exceptions_enable=False,
)


@app.command()
def provision_command(
    servers: str = typer.Option("nats://127.0.0.1:4222", "--servers", help="comma-separated NATS URLs"),
    user: str = typer.Option("admin", "--user", help="the NATS admin user"),
    password_file: Path | None = typer.Option(
        None, "--password-file", help=f"file holding the admin password (mode 0600); else ${ADMIN_PASSWORD_ENV}"
    ),
    replicas: int = typer.Option(1, "--replicas", min=1, max=5, help="stream and bucket replicas"),
    dedup_window_s: float = typer.Option(DEFAULT_DEDUP_WINDOW_S, "--dedup-window-s", help="JetStream dedup window"),
    prefix: list[str] = typer.Option([], "--prefix", metavar="SERVICE=PREFIX", help="durable prefix (repeatable)"),
) -> None:
    """Create or migrate streams, buckets and durables with the admin's credentials."""
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password_file is not None:
        if not password_file.is_file():
            print(f"at-core-provision: no password file at {password_file}", file=sys.stderr)
            raise typer.Exit(2)
        password = password_file.read_text().strip()
    bad = [item for item in prefix if "=" not in item]
    if bad:
        print(f"at-core-provision: --prefix takes SERVICE=PREFIX, not {bad[0]!r}", file=sys.stderr)
        raise typer.Exit(2)
    prefixes = dict(item.split("=", 1) for item in prefix)
    urls = [s.strip() for s in servers.split(",") if s.strip()]
    try:
        report = asyncio.run(
            provision_url(
                urls,
                user=user if password else None,
                password=password,
                replicas=replicas,
                prefixes=prefixes,
                dedup_window_s=dedup_window_s,
            )
        )
    except Exception as exc:
        print(f"at-core-provision: failed: {exc!r}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(
        f"at-core-provision: {len(subjects.STREAMS)} streams, 3 buckets, {len(DURABLES)} durables ok; "
        f"created {report.consumers_created or 'none'}, migrated {report.consumers_updated or 'none'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``at-core-provision``: create or migrate streams, buckets and durables with admin credentials."""
    return run_app(app, argv)


if __name__ == "__main__":
    raise SystemExit(main())
