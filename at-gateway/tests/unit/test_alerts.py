"""Alert parsing and validation (pure), including a property test: no input crashes it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from at_core.catalog import InstrumentCatalog
from at_gateway.api.status import status_for
from at_gateway.config import GatewaySettings
from at_gateway.domain.alerts import AlertRules, parse_body, parse_time_ns, validate_alert
from at_gateway.domain.limits import RateLimiter, client_address
from at_gateway.domain.redaction import Redactor
from at_gateway.domain.routing import RouteTable, Target
from at_gateway.errors import Rejection

NOW = 1_795_000_000_000_000_000
CATALOG = InstrumentCatalog()
RULES = AlertRules(CATALOG, NOW, 300)


def test_nested_strategy_fields_are_flattened() -> None:
    fields = parse_body(
        b'{"ticker":"ES1!","strategy":{"order":{"action":"sell","contracts":"3"},"position_size":"-3"}}'
    )
    alert = validate_alert(fields, RULES)
    assert (alert.action, alert.quantity, alert.position_size) == ("sell", Decimal(3), Decimal(-3))


def test_a_target_only_alert_is_a_target_action() -> None:
    alert = validate_alert(parse_body(b"ticker=MES1!\nposition_size=0"), RULES)
    assert alert.action == "target" and alert.position_size == 0


def test_epoch_milliseconds_and_iso_times_are_understood() -> None:
    assert parse_time_ns("1795000000000") == NOW
    assert parse_time_ns("2026-11-18T11:06:40Z") == NOW


def test_redaction_removes_secrets_in_json_and_key_value_forms() -> None:
    assert Redactor([]).body(b'{"passphrase": "s3cret", "x": 1}') == '{"passphrase": "***", "x": 1}'
    assert Redactor([]).body(b"ticker=ES1!\npassphrase=s3cret") == "ticker=ES1!\npassphrase=***"
    assert "tok" not in Redactor(["tok"]).text("/webhooks/tok")


def test_routes_match_secrets_and_unknown_ones_get_none() -> None:
    table = RouteTable.from_config(
        {"routes": [{"secret": "a", "targets": [{"account_id": "x"}]}]}, ["dev"], Target("paper-1", "default")
    )
    assert table.match("a").targets[0].account_id == "x"
    assert table.match("dev").targets[0].account_id == "paper-1"
    assert table.match("b") is None and table.match(None) is None


def test_forwarded_for_is_only_believed_from_trusted_proxies() -> None:
    assert client_address("10.0.0.5", ["52.89.214.238"], set()) == "10.0.0.5"
    assert client_address("10.0.0.5", ["1.2.3.4, 52.89.214.238"], {"10.0.0.5"}) == "52.89.214.238"


def test_the_rate_limiter_forgets_after_a_minute() -> None:
    limiter = RateLimiter(2)
    assert [limiter.allow("k", NOW + i) for i in range(3)] == [True, True, False]
    assert limiter.allow("k", NOW + 61_000_000_000)


def test_the_rate_limiter_holds_only_sources_seen_in_the_last_minute() -> None:
    limiter = RateLimiter(5)
    forged = 10_000  # one request from each of many forged X-Forwarded-For addresses
    for i in range(forged):
        assert limiter.allow(f"198.51.{i // 256}.{i % 256}", NOW + i)
    assert len(limiter) == forged  # all within one minute: each still counts
    later = NOW + 61_000_000_000  # a minute on, the forged sources' windows are empty
    fresh = 7_000  # enough new sources to reach the next sweep (the key count doubling)
    for i in range(fresh):
        assert limiter.allow(f"203.0.{i // 256}.{i % 256}", later + i)
    assert len(limiter) == fresh  # the expired sources were swept, not kept forever


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_body_either_parses_or_is_rejected_with_a_4xx(raw: bytes) -> None:
    try:
        validate_alert(parse_body(raw), RULES)
    except Rejection as exc:
        assert 400 <= status_for(exc.reason) < 500


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "ticker",
                "action",
                "contracts",
                "price",
                "time",
                "position_size",
                "order_type",
                "market_position",
                "alert_id",
                "indicators",
            ]
        ),
        st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=True), st.none(), st.booleans()),
    )
)
def test_any_json_fields_either_validate_or_are_rejected_with_a_4xx(fields: dict) -> None:
    try:
        validate_alert({k.lower(): v for k, v in fields.items()}, RULES)
    except Rejection as exc:
        assert 400 <= status_for(exc.reason) < 500


@pytest.mark.parametrize(
    "ticker", ["ES1!", "CME_MINI:MES1!", "OANDA:EURUSD", "BINANCE:BTCUSDT", "BTCUSDT.P", "FX:USDJPY"]
)
def test_every_documented_ticker_form_validates(ticker: str) -> None:
    alert = validate_alert({"ticker": ticker, "action": "buy"}, RULES)
    assert alert.instrument_id


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"webhook_secrets": "real-secret"},
        {"webhook_secrets": "real-secret", "api_keys": "real-key"},
        {
            "webhook_secrets": "real-secret,dev-webhook-secret",
            "api_keys": "real-key",
            "market_data_api_key_required": True,
        },
    ],
)
def test_production_refuses_dev_credentials_and_unauthenticated_market_data(overrides: dict) -> None:
    with pytest.raises(ValueError, match="production needs"):
        GatewaySettings(environment="production", **overrides)


def test_production_starts_with_real_credentials() -> None:
    settings_ = GatewaySettings(
        environment="production", webhook_secrets="a,b", api_keys="k", market_data_api_key_required=True
    )
    assert settings_.secrets == ["a", "b"]


# --- contract months: a continuous symbol is the listed contract at the gateway's clock ----------

DEC_2 = 1_796_205_600_000_000_000  # 2026-12-02T10:00:00Z: MESZ2026 rolls on 12-10 (6 business days before 12-18)
DEC_11 = DEC_2 + 9 * 86_400 * 10**9


@pytest.mark.parametrize(
    ("ticker", "now_ns", "expected"),
    [
        ("MES1!", DEC_2, "MESZ2026.CME"),
        ("CME_MINI:MES1!", DEC_2, "MESZ2026.CME"),
        ("MES2!", DEC_2, "MESH2027.CME"),
        ("MES1!", DEC_11, "MESH2027.CME"),  # past the roll date the front is March
        ("CME_MINI:MESZ2026", DEC_2, "MESZ2026.CME"),
    ],
)
def test_a_continuous_future_resolves_to_its_listed_contract_at_the_gateway_clock(
    ticker: str, now_ns: int, expected: str
) -> None:
    alert = validate_alert(
        parse_body(f"ticker={ticker}\naction=buy\ncontracts=1".encode()), AlertRules(CATALOG, now_ns, 300)
    )
    assert alert.instrument_id == expected


def test_an_expired_contract_is_refused_with_its_last_trade_date() -> None:
    with pytest.raises(Rejection) as refused:
        validate_alert(parse_body(b"ticker=ESZ2025\naction=buy\ncontracts=1"), AlertRules(CATALOG, DEC_2, 300))
    assert refused.value.errors[0]["loc"] == ["ticker"] and "2025-12-19" in refused.value.errors[0]["msg"]


def test_a_per_product_quantity_limit_covers_every_month_of_the_product() -> None:
    from at_gateway.domain.bounds import QuantityLimits

    limits = QuantityLimits(Decimal(5), {"MES.CME": Decimal(20)}, {"future": Decimal(100)})
    assert limits.max_for("MESZ2026.CME", None, "future") == 20
    assert limits.max_for("ESZ2026.CME", None, "future") == 100
