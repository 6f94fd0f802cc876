"""TradingView webhooks against a real gateway and a real nats-server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import SECRET, RunningGateway, dead_letters, fixture_body

from at_core.events import SignalEvent
from at_core.models.enums import IngestSource, PositionSide, SignalAction

pytestmark = pytest.mark.integration


async def test_strategy_alert_is_published_as_a_signal_with_target_position_fields(
    gateway: RunningGateway, tap
) -> None:
    resp = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}",
        content=fixture_body("strategy_alert.json"),
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "accepted"
    events = await tap.wait_for(lambda es: any(e.event_id == body["event_id"] for e in es))
    signal = next(e for e in events if e.event_id == body["event_id"])
    assert isinstance(signal, SignalEvent)
    assert signal.correlation_id == body["correlation_id"]
    assert (signal.instrument_id, signal.action, signal.quantity) == ("MES.CME", SignalAction.BUY, 2)
    assert (signal.position_size, signal.market_position, signal.prev_market_position) == (
        2,
        PositionSide.LONG,
        PositionSide.FLAT,
    )
    assert signal.account_id == "paper-1" and signal.origin is IngestSource.TRADINGVIEW


async def test_json_sent_as_text_plain_and_key_value_lines_are_both_accepted(gateway: RunningGateway, tap) -> None:
    r1 = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}",
        content=fixture_body("plain_text_json.txt"),
        headers={"content-type": "text/plain"},
    )
    r2 = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content=fixture_body("key_value.txt"), headers={"content-type": "text/plain"}
    )
    assert (r1.status_code, r2.status_code) == (202, 202)
    events = await tap.wait_for(lambda es: len([e for e in es if e.event_type == "signal"]) >= 2)
    ids = {e.instrument_id for e in events if e.event_type == "signal"}
    assert ids == {"BTC/USDT:USDT.BINANCE", "BTC/USDT.BINANCE"}


async def test_the_passphrase_in_the_body_authenticates_and_is_redacted_from_the_raw_body(
    gateway: RunningGateway, tap
) -> None:
    payload = json.loads(fixture_body("indicator_alert.json")) | {"passphrase": SECRET}
    resp = await gateway.client.post("/webhooks/tradingview", json=payload)
    assert resp.status_code == 202
    events = await tap.wait_for(lambda es: any(e.event_type == "signal" for e in es))
    signal = next(e for e in events if e.event_type == "signal")
    assert SECRET not in signal.raw_body
    assert '"passphrase":"***"' in signal.raw_body


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        ("/webhooks/tradingview/wrong-secret", {}, "bad_secret"),
        ("/webhooks/tradingview", {}, "missing_secret"),
        ("/webhooks/tradingview", {"passphrase": "nope"}, "bad_secret"),
    ],
)
async def test_a_bad_or_missing_secret_is_refused_with_401_and_dead_lettered(
    gateway: RunningGateway, path, payload, reason
) -> None:
    body = json.loads(fixture_body("strategy_alert.json")) | payload
    resp = await gateway.client.post(path, json=body)
    assert resp.status_code == 401 and resp.json()["reason"] == reason
    events = await dead_letters(gateway.settings.nats_url)
    dead = next(e for e in events if e.event_type == "rejected_input")
    assert (dead.status_code, dead.reason) == (401, reason)
    assert "nope" not in dead.raw_body and "wrong-secret" not in dead.route  # refused secrets are not kept


async def test_a_repeated_alert_id_answers_duplicate_with_the_first_event_id(gateway: RunningGateway) -> None:
    body = fixture_body("strategy_alert.json", alert_id="same-id")
    first = await gateway.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
    second = await gateway.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}


async def test_an_alert_without_id_is_deduplicated_by_its_body(gateway: RunningGateway) -> None:
    body = '{"ticker": "ES1!", "action": "sell", "contracts": 1}'
    first = await gateway.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
    second = await gateway.client.post(f"/webhooks/tradingview/{SECRET}", content=body)
    assert (first.status_code, second.status_code) == (202, 200)


async def test_a_stale_alert_is_refused_and_counted(gateway: RunningGateway) -> None:
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json", time=old)
    )
    assert resp.status_code == 422 and resp.json()["reason"] == "stale"
    metrics = (await gateway.client.get("/metrics")).text
    assert "at_gateway_stale_alerts_total 1.0" in metrics


async def test_unfilled_placeholders_are_refused(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content='{"ticker": "{{ticker}}", "action": "{{strategy.order.action}}"}'
    )
    assert resp.status_code == 422
    assert resp.json()["reason"] == "placeholder" and "{{ticker}}" in resp.json()["detail"]


@pytest.mark.parametrize(
    ("content", "ctype", "status", "reason"),
    [
        ("{not json", "application/json", 400, "malformed"),
        ("just words", "text/plain", 400, "malformed"),
        ('{"ticker": "NOPE!!", "action": "buy"}', "application/json", 422, "invalid"),
        ('{"ticker": "ES1!", "action": "hodl"}', "application/json", 422, "invalid"),
        ('{"ticker": "ES1!", "action": "buy", "contracts": "-3"}', "application/json", 422, "invalid"),
        ("<xml/>", "application/xml", 415, "unsupported_type"),
    ],
)
async def test_bad_input_gets_a_clear_error_never_a_500(
    gateway: RunningGateway, content, ctype, status, reason
) -> None:
    resp = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content=content, headers={"content-type": ctype}
    )
    assert resp.status_code == status, resp.text
    assert resp.json()["reason"] == reason


async def test_invalid_fields_come_back_with_their_paths(gateway: RunningGateway) -> None:
    resp = await gateway.client.post(
        f"/webhooks/tradingview/{SECRET}", content='{"ticker": "ES1!", "action": "buy", "contracts": "x"}'
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"] == ["contracts"]


async def test_a_body_over_the_cap_is_refused_with_413(make_settings) -> None:
    gw = RunningGateway(make_settings(max_body_bytes=1024))
    await gw.start()
    resp = await gw.client.post(f"/webhooks/tradingview/{SECRET}", content="x" * 5000)
    assert resp.status_code == 413
    await gw.stop()


async def test_an_unknown_route_is_a_json_404(gateway: RunningGateway) -> None:
    resp = await gateway.client.post("/webhooks/nowhere", content="{}")
    assert resp.status_code == 404 and resp.json()["reason"] == "not_found"


async def test_requests_over_the_rate_limit_get_429(make_settings) -> None:
    gw = RunningGateway(make_settings(rate_limit_per_minute=3))
    await gw.start()
    codes = [
        (
            await gw.client.post(f"/webhooks/tradingview/{SECRET}", content=fixture_body("strategy_alert.json"))
        ).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [202, 202, 202] and codes[3:] == [429, 429]
    await gw.stop()


async def test_the_allowlist_refuses_other_sources_and_ignores_forwarded_for_from_untrusted_peers(
    make_settings,
) -> None:
    gw = RunningGateway(make_settings(allowlist_enabled=True))
    await gw.start()
    spoofed = await gw.client.post(
        f"/webhooks/tradingview/{SECRET}",
        content=fixture_body("strategy_alert.json"),
        headers={"x-forwarded-for": "52.89.214.238"},
    )
    assert spoofed.status_code == 403
    await gw.stop()


async def test_the_allowlist_believes_forwarded_for_from_a_trusted_proxy(make_settings) -> None:
    gw = RunningGateway(make_settings(allowlist_enabled=True, trusted_proxies="127.0.0.1"))
    await gw.start()
    ok = await gw.client.post(
        f"/webhooks/tradingview/{SECRET}",
        content=fixture_body("strategy_alert.json"),
        headers={"x-forwarded-for": "52.89.214.238"},
    )
    other = await gw.client.post(
        f"/webhooks/tradingview/{SECRET}",
        content=fixture_body("strategy_alert.json"),
        headers={"x-forwarded-for": "203.0.113.9"},
    )
    assert (ok.status_code, other.status_code) == (202, 403)
    await gw.stop()


async def test_one_secret_fans_out_to_several_accounts_with_size_multipliers(make_settings, tmp_path, tap) -> None:
    routes = tmp_path / "routes.json"
    routes.write_text(
        json.dumps(
            {
                "routes": [
                    {
                        "secret": "fan",
                        "targets": [
                            {"account_id": "topstep-50k-1", "strategy_id": "mes", "size_multiplier": "1"},
                            {"account_id": "apex-50k-1", "strategy_id": "mes", "size_multiplier": "0.5"},
                        ],
                    }
                ]
            }
        )
    )
    gw = RunningGateway(make_settings(routes_file=str(routes)))
    await gw.start()
    resp = await gw.client.post("/webhooks/tradingview/fan", content=fixture_body("strategy_alert.json"))
    assert resp.status_code == 202 and len(resp.json()["fanout"]) == 2
    events = await tap.wait_for(lambda es: len([e for e in es if e.event_type == "signal"]) == 2)
    signals = [e for e in events if e.event_type == "signal"]
    assert {e.account_id: e.quantity for e in signals} == {"topstep-50k-1": 2, "apex-50k-1": 1}
    assert all(e.correlation_id == e.event_id for e in signals)  # each its own root event
    assert len({e.event_id for e in signals}) == 2
    await gw.stop()


async def test_pinescript_json_carries_indicators_and_the_bar(gateway: RunningGateway, tap) -> None:
    payload = {
        "ticker": "MES1!",
        "exchange": "CME_MINI",
        "interval": "5",
        "action": "buy",
        "contracts": 1,
        "passphrase": SECRET,
        "bar": {"open": 6010, "high": 6013, "low": 6008.5, "close": 6012.25, "volume": 18234},
        "indicators": {"ema_fast": 6009.1, "atr": 6.25},
    }
    resp = await gateway.client.post("/webhooks/pinescript", json=payload)
    assert resp.status_code == 202, resp.text
    events = await tap.wait_for(lambda es: any(e.event_type == "signal" for e in es))
    signal = next(e for e in events if e.event_type == "signal")
    assert signal.origin is IngestSource.PINESCRIPT and signal.bar is not None and signal.indicators["atr"] == 6.25


async def test_a_bracket_alert_carries_its_bracket_on_the_signal(gateway: RunningGateway, tap) -> None:
    payload = {
        "ticker": "MES1!",
        "action": "buy",
        "contracts": 1,
        "price": 6000,
        "passphrase": SECRET,
        "stop_loss_ticks": 8,
        "take_profit": 6010,
        "trailing_stop_ticks": 12,
    }
    resp = await gateway.client.post("/webhooks/pinescript", json=payload)
    assert resp.status_code == 202, resp.text
    events = await tap.wait_for(lambda es: any(e.event_type == "signal" for e in es))
    signal = next(e for e in events if isinstance(e, SignalEvent))
    assert signal.bracket is not None
    assert (signal.bracket.stop_loss.value, signal.bracket.stop_loss.unit) == (8, "ticks")
    assert signal.bracket.take_profit.value == 6010 and signal.bracket.trailing_stop.distance == 12


async def test_a_bracket_stop_on_the_wrong_side_is_a_422_naming_the_field(gateway: RunningGateway) -> None:
    body = {"ticker": "MES1!", "action": "buy", "price": 6000, "stop_loss": 6005, "passphrase": SECRET}
    resp = await gateway.client.post("/webhooks/tradingview", json=body)
    assert resp.status_code == 422
    assert "stop_loss" in resp.text and "below the entry" in resp.text
