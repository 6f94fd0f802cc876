"""The bus attacks of issue #11, played with each service's own NATS credentials against the
real stack (nats-server with the generated permissions, the four services, the recorder).

Every attack must be refused by the server, or, for a forged event on a subject it may not come
from, dead-lettered by every consumer and never acted on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, StreamConfig

from at_core import subjects
from at_core.events import Event, RejectedInputEvent
from at_core.serialization import encode_event
from at_core.testing import example_events
from e2e.ledger import Ledger
from e2e.stack_harness import LiveStack
from tools import stack as stack_mod

# One stack for the module: every attack runs against the same live processes.
pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
REFUSED = (nats.errors.TimeoutError, nats.js.errors.APIError, nats.errors.NoRespondersError)
SERVICES = stack_mod.SERVICES
EXECUTION = next(s for s in subjects.STREAMS if s.name == "AT_EXECUTION")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveStack]:
    stack = LiveStack(tmp_path_factory.mktemp("security") / "stack")
    await stack.start()
    yield stack
    await stack.stop()


class Attacker:
    """A connection with one service's credentials, collecting the server's refusals."""

    def __init__(self) -> None:
        self.errors: asyncio.Queue[str] = asyncio.Queue()
        self.nc: Client | None = None

    async def connect(self, live: LiveStack, service: str) -> Attacker:
        async def on_error(exc: Exception) -> None:
            await self.errors.put(str(exc).lower())

        self.nc = await nats.connect(
            live.stack.nats_url,
            user=service,
            password=live.stack.passwords[service],
            inbox_prefix=f"_INBOX.{service}",
            error_cb=on_error,
            name=f"attacker-{service}",
        )
        return self

    async def refused(self, subject: str) -> bool:
        """Whether the server answered a publish on ``subject`` with a permissions violation."""
        assert self.nc is not None
        await self.nc.publish(subject, b"{}")
        await self.nc.flush()
        try:
            while True:
                error = await asyncio.wait_for(self.errors.get(), 2)
                if "permissions violation" in error and subject.lower() in error:
                    return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


async def _admin(live: LiveStack) -> Client:
    return await nats.connect(live.stack.nats_url, user="admin", password=live.stack.admin_password)


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_widen_shrink_purge_or_delete_the_execution_stream(live: LiveStack, service: str) -> None:
    attacker = await Attacker().connect(live, service)
    assert attacker.nc is not None
    js = attacker.nc.jetstream(timeout=1.0)
    widened = StreamConfig(name="AT_EXECUTION", subjects=[*EXECUTION.subjects, subjects.MARKET_DATA])
    shrunk = StreamConfig(name="AT_EXECUTION", subjects=list(EXECUTION.subjects), max_msgs=10)
    for attack in (
        js.update_stream(widened),
        js.update_stream(shrunk),
        js.purge_stream("AT_EXECUTION"),
        js.delete_stream("AT_EXECUTION"),
        js.add_stream(StreamConfig(name=f"EVIL_{service.upper()}", subjects=["at.evil.>"])),
    ):
        with pytest.raises(REFUSED):
            await attack
    await attacker.close()
    admin = await _admin(live)
    config = (await admin.jetstream().stream_info("AT_EXECUTION")).config
    assert list(config.subjects or []) == list(EXECUTION.subjects) and (config.max_msgs or -1) == -1
    await admin.close()


@pytest.mark.parametrize("service", ["gateway", "agents", "obs"])
async def test_no_service_but_exec_sim_can_open_a_consumer_on_the_execution_stream(
    live: LiveStack, service: str
) -> None:
    attacker = await Attacker().connect(live, service)
    assert attacker.nc is not None
    js = attacker.nc.jetstream(timeout=1.0)
    with pytest.raises(REFUSED):
        await js.add_consumer("AT_EXECUTION", ConsumerConfig(durable_name=f"spy-{service}", filter_subject="at.fill.>"))
    with pytest.raises(REFUSED):  # an ephemeral consumer to read fills it has no grant for
        await js.pull_subscribe(subjects.FILLS, stream="AT_EXECUTION")
    await attacker.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_can_delete_exec_sims_durable(live: LiveStack, service: str) -> None:
    attacker = await Attacker().connect(live, service)
    assert attacker.nc is not None
    with pytest.raises(REFUSED):
        await attacker.nc.jetstream(timeout=1.0).delete_consumer("AT_DECISIONS", "exec-sim-proposals")
    await attacker.close()
    admin = await _admin(live)
    assert (await admin.jetstream().consumer_info("AT_DECISIONS", "exec-sim-proposals")).name == "exec-sim-proposals"
    await admin.close()


@pytest.mark.parametrize("service", ["gateway", "agents", "exec_sim"])
async def test_no_service_but_the_recorder_can_get_a_stored_message_by_sequence(live: LiveStack, service: str) -> None:
    attacker = await Attacker().connect(live, service)
    assert attacker.nc is not None
    js = attacker.nc.jetstream(timeout=1.0)
    for stream in ("AT_SIGNALS", "AT_DECISIONS"):
        with pytest.raises(REFUSED):
            await js.get_msg(stream, 1, direct=True)
        if stream == "AT_SIGNALS" and service == "gateway":
            continue  # its own stream: it reads the first of a repeated alert by sequence (at_core.permissions)
        with pytest.raises(REFUSED):
            await js.get_msg(stream, 1)
    await attacker.close()


async def test_the_gateway_cannot_publish_on_another_services_subjects_dead_letters_or_replies(
    live: LiveStack,
) -> None:
    attacker = await Attacker().connect(live, "gateway")
    examples = example_events()
    for event_type in ("fill", "risk_decision", "trade_proposal", "order_submitted", "position"):
        assert await attacker.refused(subjects.subject_for(examples[event_type])), event_type
    assert await attacker.refused(subjects.rejected_input("exec_sim", "forged"))  # another's dead letters
    assert await attacker.refused("_INBOX.exec_sim.spoofed")  # a forged reply into exec-sim's inbox
    assert await attacker.refused("$O.at_agent_memory.x")
    await attacker.close()


async def test_a_service_cannot_listen_on_another_services_inbox(live: LiveStack) -> None:
    attacker = await Attacker().connect(live, "gateway")
    assert attacker.nc is not None
    await attacker.nc.subscribe("_INBOX.exec_sim.>")
    await attacker.nc.flush()
    error = await asyncio.wait_for(attacker.errors.get(), 5)
    assert "permissions violation" in error and "_inbox.exec_sim" in error
    await attacker.close()


async def _forge(live: LiveStack, event: Event, subject: str) -> None:
    """Publish ``event`` on ``subject`` with the gateway's credentials (it may publish market data)."""
    nc = await nats.connect(
        live.stack.nats_url, user="gateway", password=live.stack.passwords["gateway"], inbox_prefix="_INBOX.gateway"
    )
    await nc.jetstream(timeout=5).publish(subject, encode_event(event))
    await nc.close()


async def test_a_proposal_and_a_position_forged_on_a_market_data_subject_are_dead_lettered_and_not_acted_on(
    live: LiveStack,
) -> None:
    examples = example_events()
    proposal = examples["trade_proposal"].model_copy(update={"account_id": "paper-1"})
    position = examples["position"]
    md_subject = subjects.subject_for(examples["market_data"])
    await _forge(live, proposal, md_subject)
    await _forge(live, position, md_subject)
    ledger = await Ledger(
        [live.stack.nats_url], "admin", live.stack.admin_password, streams=("AT_DEAD_LETTERS", "AT_EXECUTION")
    ).connect()

    def dead_letters(ledger: Ledger, cause: Event) -> set[str]:
        return {
            e.source
            for e in ledger.events(cause.correlation_id, "rejected_input")
            if isinstance(e, RejectedInputEvent) and e.causation_id == cause.event_id
        }

    # exec-sim and agents both consume market data: each refuses both, and so says the recorder.
    assert await ledger.wait_until(
        lambda lg: (
            {"exec_sim", "agents"} <= dead_letters(lg, proposal)
            and {"exec_sim", "agents"} <= dead_letters(lg, position)
        ),
        timeout=30,
    ), ledger.by_correlation
    letter = next(e for e in ledger.events(proposal.correlation_id, "rejected_input") if e.source == "exec_sim")
    assert isinstance(letter, RejectedInputEvent)
    assert letter.reason == subjects.REASON_WRONG_FAMILY and letter.route == f"nats:{md_subject}"
    # Nothing was decided, ordered or filled for the forged proposal.
    assert not ledger.events(proposal.correlation_id, "risk_decision")
    assert not [e for e in ledger.events(proposal.correlation_id) if e.event_type.startswith("order_")]
    await ledger.close()
    async with live.http("exec_sim") as http:
        metrics = (await http.get("/metrics")).text
    assert 'at_exec_sim_events_misrouted_total{event_type="trade_proposal"' in metrics
