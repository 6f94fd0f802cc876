"""The ``at-gateway`` console script under its server options: several uvicorn workers, granian.

Each runs as a real process on a real port against a real nats-server; what is checked is what
must not change with the server: every alert accepted once, a repeat answered ``duplicate`` with
the first event id whichever worker it reaches, one signal stored per alert.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import nats
from tests.conftest import SECRET, fixture_body

from at_core.testing import NatsServer, free_port


async def _ready(port: int, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the gateway did not become ready")
            await asyncio.sleep(0.1)  # polling a process that is starting, not waiting for a message


async def _stored(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("AT_SIGNALS")).state.messages
    finally:
        await nc.close()


async def _run(env_extra: dict[str, str], nats_server: NatsServer, tmp_path: Path) -> tuple[list[httpx.Response], int]:
    port = free_port()
    env = (
        dict(os.environ)
        | {
            "AT_GATEWAY_PORT": str(port),
            "AT_GATEWAY_NATS_URL": nats_server.url,
            "AT_GATEWAY_WEBHOOK_SECRETS": SECRET,
            "AT_GATEWAY_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        }
        | env_extra
    )
    binary = str(Path(sys.executable).parent / "at-gateway")
    proc = await asyncio.create_subprocess_exec(
        binary, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await _ready(port)
        bodies = [fixture_body("strategy_alert.json", alert_id=f"server-{n}") for n in range(6)]
        url = f"http://127.0.0.1:{port}/webhooks/tradingview/{SECRET}"
        answers = []
        for body in bodies:  # a new connection each: with several workers, each may reach another one
            for _ in range(2):
                async with httpx.AsyncClient() as client:
                    answers.append(await client.post(url, content=body))
        stored = await _stored(nats_server.url)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    return answers, stored


def _check(answers: list[httpx.Response], stored: int) -> None:
    firsts, repeats = answers[0::2], answers[1::2]
    assert [a.status_code for a in firsts] == [202] * 6
    assert [a.json() for a in repeats] == [{"status": "duplicate", "event_id": a.json()["event_id"]} for a in firsts]
    assert stored == 6


async def test_two_uvicorn_workers_accept_each_alert_once_and_answer_repeats_with_the_first_id(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    answers, stored = await _run({"AT_GATEWAY_WORKERS": "2"}, nats_server, tmp_path)
    _check(answers, stored)


async def test_under_granian_each_alert_is_accepted_once_and_a_repeat_answered_with_the_first_id(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    answers, stored = await _run({"AT_GATEWAY_SERVER": "granian"}, nats_server, tmp_path)
    _check(answers, stored)
