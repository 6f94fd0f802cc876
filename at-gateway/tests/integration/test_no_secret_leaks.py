"""No webhook secret anywhere it can be read: the gateway's log (structlog and uvicorn's), its
metrics, the dead-letter stream and the signals it publishes, whatever the input."""

from __future__ import annotations

import json

import nats
import pytest
from tests.conftest import SECRET, RunningGateway

from at_core import subjects
from at_core.catalog import InstrumentCatalog
from at_core.serialization import decode_event

pytestmark = pytest.mark.integration


def _readable(text: str) -> str:
    """``text`` as a reader would see it once JSON escapes are undone."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape", "ignore")


async def _stored(url: str) -> list:
    """Every event in the dead-letter and signal streams."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        out = []
        for stream, subject in (("AT_DEAD_LETTERS", subjects.DEAD_LETTERS), ("AT_SIGNALS", subjects.SIGNALS)):
            count = (await js.stream_info(stream)).state.messages
            if count:
                sub = await js.pull_subscribe(subject, stream=stream)
                out += [decode_event(m.data) for m in await sub.fetch(count, timeout=5)]
        return out
    finally:
        await nc.close()


async def test_no_secret_reaches_logs_metrics_dead_letters_or_signals_whatever_the_input(
    make_settings, capsys, monkeypatch
) -> None:
    gw = RunningGateway(make_settings())
    await gw.start()
    escaped = SECRET.replace("s", "\\u0073")
    try:
        # the body's first line is the secret: the error message used to echo it
        await gw.client.post("/webhooks/tradingview", content=f"{SECRET}\nticker=ES1!\naction=buy")
        # JSON-escaped secrets, where the redaction's text patterns cannot see them
        await gw.client.post(
            "/webhooks/tradingview",
            content=f'{{"pa\\u0073sphrase": "{escaped}", "ticker": "ES1!", "action": "buy", "comment": "{escaped}"}}',
        )
        await gw.client.post(
            f"/webhooks/tradingview/{SECRET}", content=f'{{"ticker": "ES1!", "action": "hodl", "note": "{escaped}"}}'
        )
        # a secret percent-encoded in a path that does not exist
        await gw.client.post(f"/webhooks/tradingview/{SECRET.replace('s', '%73')}/x", content="{}")

        # a 500 on a secret-in-path route: a fault in a dependency, its message echoing the input
        # (a ticker not resolved before: the gateway keeps each ticker's resolution for the day)
        def explode(self, ticker: str, now=None):
            raise RuntimeError(f"catalog down while resolving {ticker} for {SECRET}")

        monkeypatch.setattr(InstrumentCatalog, "resolve", explode)
        crashed = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content='{"ticker": "NQ1!", "action": "buy"}')
        monkeypatch.undo()
        metrics = (await gw.client.get("/metrics")).text
        stored = await _stored(gw.settings.nats_url)
    finally:
        await gw.stop()
    logs = capsys.readouterr()
    assert crashed.status_code == 500
    assert len([e for e in stored if e.event_type == "rejected_input"]) >= 3
    assert SECRET not in metrics
    for name, text in (("stdout", logs.out), ("stderr", logs.err)):
        assert SECRET not in _readable(text), f"secret in the {name} log"
    for event in stored:
        assert SECRET not in _readable(json.dumps(event.model_dump(mode="json"))), event
